#!/usr/bin/env bash
#
# Cost of a /metrics scrape as a function of the number of series.
#
# One nginx (2 workers) records into a 64m zone.  Distinct paths are sent
# over keepalive connections with HTTP/1.1 pipelining (a small Perl client,
# 1000 requests per connection); each path is one series (the default
# endpoint label is $uri).  Paths are letters only (/api/items/abcd) so
# that automatic id normalization (on by default) folds none of them
# together; the script checks that nginx_monitoring_series grew by exactly
# SERIES1 and SERIES2 - SERIES1.  The scrape is timed with curl at about
# 1 series (baseline), 10,000 and 20,000 series: median, p95 and response
# size, then the per-series cost and the linearity check.
#
# /metrics is rendered while it is sent: the header goes out first (no
# Content-Length, chunked transfer), then 64 KiB buffers are rendered and
# handed to the client one after the other and reused once it has read
# them.  So time_starttransfer (TTFB) is the header plus the first buffer,
# and time_total is render and transfer together.
#
# Then (PROFILE=1, the default) the render is counted with callgrind: a
# single-process nginx under valgrind, the same SERIES1 paths, two scrapes
# with collection switched on only inside ngx_http_monitoring_metrics_write
# (--collect-atstart=no --toggle-collect=...), the function that renders the
# buffers and passes them to the output filters on each write event (the
# render and send loop is inlined into it), giving instructions per scrape,
# per series and the functions they go to.  The response header, sent by
# ngx_http_monitoring_metrics_handler before, is not counted.
#
# Environment: NGINX, MODULE, SCRAPES (25 per point), SERIES1 (10000),
# SERIES2 (20000), PREFIX (/api/items/), TARGET (20 ms at SERIES1),
# PROFILE (1).

set -euo pipefail

. "$(dirname "$0")/lib.sh"

SCRAPES=${SCRAPES:-25}
SERIES1=${SERIES1:-10000}

# URL_PATH=/monitoring/api times the dashboard's JSON instead
URL_PATH=${URL_PATH:-/metrics}
case "$URL_PATH" in
    /metrics) PROFILE_FN=ngx_http_monitoring_metrics_write ;;
    *) PROFILE_FN=ngx_http_monitoring_api_handler ;;
esac
SERIES2=${SERIES2:-20000}
PREFIX=${PREFIX:-/api/items/}
TARGET=${TARGET:-20}
PROFILE=${PROFILE:-1}

require_tools curl perl

PID=
bench_tmp scrape

PORT=$(free_port)
DIR=$TMP/nginx

write_conf() {   # dir port "process directives"
    mkdir -p "$1/tmp"
    {
        conf_head "$1" on "$3" 1024 100000
        cat <<EOF

    monitoring_zone main 64m;
    monitoring main;
EOF
        conf_server "$2"
        cat <<EOF

        location = /metrics {
            monitoring_metrics;
            monitoring off;
        }

        location /monitoring {
            monitoring_dashboard;
            monitoring off;
        }
    }
}
EOF
    } > "$1/nginx.conf"
}

write_conf "$DIR" "$PORT" "worker_processes 2;"
write_populate

nginx_start "$DIR"
PID=$NGINX_PID

wait_http "$PORT" "$PID" 300 || { cat "$DIR/error.log" >&2; exit 1; }

populate() {   # from to [port]
    local t0 t1 n
    t0=$(date +%s.%N)
    n=$(run_populate "${3:-$PORT}" "$1" "$2" "$PREFIX")
    t1=$(date +%s.%N)
    printf '  sent %d distinct paths in %.1f s: perl populate.pl %s %s %s %s\n' \
        "$n" "$(perl -e "print $t1 - $t0")" "${3:-$PORT}" "$1" "$2" "$PREFIX"
}

declare -A MED P95 SIZE NSER TTFB USR SYS FLT TE CL

# minor faults, user and system clock ticks of the worker processes
workers_stat() {
    local p f flt=0 usr=0 sys=0
    for p in $(pgrep -P "$PID"); do
        f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        f=${f##*) }          # fields from 3 on: state ppid ...
        set -- $f
        flt=$((flt + $8))
        usr=$((usr + ${12}))
        sys=$((sys + ${13}))
    done
    echo "$flt $usr $sys"
}

measure() {   # label
    local label=$1 i f=$TMP/times-$1
    # warm up, and keep the response header
    curl -s -D "$TMP/headers-$label" -o /dev/null "http://127.0.0.1:$PORT$URL_PATH"
    TE[$label]=$(awk -F': *' 'tolower($1) == "transfer-encoding" {gsub("\r", "", $2); print $2}' "$TMP/headers-$label")
    CL[$label]=$(awk -F': *' 'tolower($1) == "content-length" {gsub("\r", "", $2); print $2}' "$TMP/headers-$label")
    : > "$f"
    local before after
    before=$(workers_stat)
    for i in $(seq 1 "$SCRAPES"); do
        curl -s -o /dev/null \
            -w '%{time_total} %{size_download} %{http_code} %{time_starttransfer}\n' \
            "http://127.0.0.1:$PORT$URL_PATH" >> "$f"
    done
    after=$(workers_stat)
    read -r FLT[$label] USR[$label] SYS[$label] < <(perl -e '
        my ($f0, $u0, $s0, $f1, $u1, $s1, $n, $hz) = @ARGV;
        printf "%.0f %.1f %.1f\n", ($f1 - $f0) / $n, 1000 * ($u1 - $u0) / $hz / $n,
            1000 * ($s1 - $s0) / $hz / $n;' \
        $before $after "$SCRAPES" "$(getconf CLK_TCK)")
    if awk '$3 != 200 {bad = 1} END {exit !bad}' "$f"; then
        echo "a scrape failed:" >&2; cat "$f" >&2; exit 1
    fi
    read -r MED[$label] P95[$label] SIZE[$label] TTFB[$label] < <(perl -e '
        my (@t, @f, $size);
        while (<STDIN>) {
            my ($s, $b, $c, $fb) = split;
            push @t, $s * 1000; push @f, $fb * 1000; $size = $b;
        }
        sub med { my @v = sort { $a <=> $b } @_; my $n = @v;
                  $n % 2 ? $v[$n/2] : ($v[$n/2-1] + $v[$n/2]) / 2 }
        my @s = sort { $a <=> $b } @t;
        my $p95 = $s[int(0.95 * (@s - 1) + 0.5)];
        printf "%.2f %.2f %d %.2f\n", med(@t), $p95, $size, med(@f);' < "$f")
    NSER[$label]=$(metric nginx_monitoring_series)
    printf '  %-5s series=%-6s median=%7s ms  p95=%7s ms  ttfb=%7s ms  size=%9s bytes  (%s scrapes)\n' \
        "$label" "${NSER[$label]}" "${MED[$label]}" "${P95[$label]}" "${TTFB[$label]}" \
        "${SIZE[$label]}" "$SCRAPES"
    printf '  %-5s nginx worker CPU per scrape: user %s ms + system %s ms, minor page faults: %s\n' \
        "" "${USR[$label]}" "${SYS[$label]}" "${FLT[$label]}"
    printf '  %-5s Transfer-Encoding: %s, Content-Length: %s\n' \
        "" "${TE[$label]:-none}" "${CL[$label]:-none}"
}

echo "# scrape: /metrics time against the number of series"
print_build
print_machine "$(curl --version | head -1 | cut -d' ' -f1-2)"
echo "# nginx: $(nginx_cmd "$DIR")   # port $PORT"
echo "# each scrape: curl -s -o /dev/null -w '%{time_total} %{size_download} %{http_code} %{time_starttransfer}\\n' http://127.0.0.1:$PORT$URL_PATH"
echo "# the module sends the header, then renders and sends 64 KiB buffers in turn"
echo "# (chunked): TTFB is header + first buffer, time_total is render + transfer;"
echo "# size is the body without the chunk framing (curl's size_download)"
echo "# worker CPU and faults: utime, stime, minflt of the nginx workers (/proc/PID/stat), per scrape"
echo

# the paths must not be folded by id normalization: one series each
check_series() {   # label before expected-increase
    local got=$(( ${NSER[$1]} - ${NSER[$2]} ))
    if [ "$got" != "$3" ]; then
        echo "  WARNING: $got new series, expected $3 (normalization folded paths?)" >&2
        SERIES_OK=0
    else
        echo "  series check: +$got new series, as expected"
    fi
}
SERIES_OK=1

measure base
populate 0 "$SERIES1"
measure s1
check_series s1 base "$SERIES1"
populate "$SERIES1" "$SERIES2"
measure s2
check_series s2 s1 $((SERIES2 - SERIES1))

dropped=$(metric nginx_monitoring_series_dropped_total)
echo "  series dropped (overflow): $dropped"
[ "$dropped" = 0 ] || echo "  WARNING: the zone overflowed, enlarge it"

echo
perl -e '
    my ($n0, $n1, $n2, $t0, $t1, $t2, $z0, $z1, $z2) = @ARGV;
    my $us1 = 1000 * ($t1 - $t0) / ($n1 - $n0);
    my $us2 = 1000 * ($t2 - $t1) / ($n2 - $n1);
    printf "per-series cost, base -> %d: %.3f us, %d -> %d: %.3f us\n", $n1, $us1, $n1, $n2, $us2;
    printf "response bytes per series: %.0f\n", ($z2 - $z1) / ($n2 - $n1);
    printf "time ratio (t(%d) - t(base)) / (t(%d) - t(base)) = %.2f (series ratio %.2f)\n",
        $n2, $n1, ($t2 - $t0) / ($t1 - $t0), ($n2 - $n0) / ($n1 - $n0);
' "${NSER[base]}" "${NSER[s1]}" "${NSER[s2]}" "${MED[base]}" "${MED[s1]}" "${MED[s2]}" \
  "${SIZE[base]}" "${SIZE[s1]}" "${SIZE[s2]}"

if [ "$PROFILE" = 1 ]; then
    quit_wait "$PID"
    PID=

    echo
    echo "## callgrind of the render, $SERIES1 series, 2 scrapes"
    PDIR=$TMP/profile
    PPORT=$(free_port)
    write_conf "$PDIR" "$PPORT" "master_process off;
worker_processes 1;"
    echo "  valgrind --tool=callgrind --callgrind-out-file=$PDIR/cg.out --collect-atstart=no --toggle-collect=$PROFILE_FN $(nginx_cmd "$PDIR")"
    valgrind --tool=callgrind --callgrind-out-file="$PDIR/cg.out" \
        --collect-atstart=no \
        --toggle-collect="$PROFILE_FN" \
        "$NGINX" -p "$PDIR/" -c "$PDIR/nginx.conf" -e "$PDIR/error.log" \
        > "$PDIR/valgrind.log" 2>&1 &
    PID=$!
    wait_http "$PPORT" "$PID" 300 || { cat "$PDIR/valgrind.log" "$PDIR/error.log" >&2; exit 1; }
    populate 0 "$SERIES1" "$PPORT"
    for _ in 1 2; do
        curl -s -o /dev/null "http://127.0.0.1:$PPORT$URL_PATH"
    done
    quit_wait "$PID"
    PID=
    callgrind_annotate --auto=no --threshold=100 "$PDIR/cg.out" 2>/dev/null \
    | perl -e '
        my ($series, %fn, $total) = ($ARGV[0]);
        while (<STDIN>) {
            if (/^\s*([\d,]+)\s.*PROGRAM TOTALS/) { ($total = $1) =~ tr/,//d; next }
            next unless /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*?)\s*$/;
            my ($ir, $f) = ($1, $2);
            $ir =~ tr/,//d;
            $f =~ s/^.*?:(?=[^:]+(?: \[|$))//;
            $f =~ s/\s+\[.*\]$//;
            $fn{$f} += $ir;
        }
        printf "  Ir per scrape: %.1f M, per series: %.0f\n", $total / 2e6, $total / 2 / $series;
        printf "  %9s %7s  %s\n", "Ir/series", "share", "function (exclusive)";
        for (sort { $fn{$b} <=> $fn{$a} } keys %fn) {
            last if $fn{$_} < $total / 200;
            printf "  %9.0f %6.1f%%  %s\n", $fn{$_} / 2 / $series, 100 * $fn{$_} / $total, $_;
        }' "$SERIES1"
fi

echo
if [ "$SERIES_OK" != 1 ]; then
    echo "RESULT: FAIL the series counts are not the ones asked for (see WARNING above)"
elif perl -e "exit !(${MED[s1]} <= $TARGET)"; then
    echo "RESULT: PASS median=${MED[s1]} ms p95=${P95[s1]} ms at ${NSER[s1]} series (target <= $TARGET ms)"
else
    echo "RESULT: FAIL median=${MED[s1]} ms p95=${P95[s1]} ms at ${NSER[s1]} series (target <= $TARGET ms)"
fi
