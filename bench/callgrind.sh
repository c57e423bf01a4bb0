#!/usr/bin/env bash
#
# Instructions per recorded request, module on minus module off.
#
# nginx runs as a single process (master_process off) under callgrind and
# serves `location / { return 200 "ok"; }` over one keepalive connection
# (ab -k -c 1).  Each configuration is run twice, with N and N+EXTRA
# requests; start-up, configuration parsing, zone creation and shutdown are
# the same in both runs, so
#
#     per-request Ir = (Ir(N+EXTRA) - Ir(N)) / EXTRA
#
# and the module's cost is per-request(on) - per-request(off).
#
# Environment: NGINX (default /usr/sbin/nginx), MODULE (default
# build/ngx_http_monitoring_module.so), N (2000), EXTRA (10000),
# TARGET (800 instructions, 1200 with LABELS=1), URI (the path ab
# requests, default "/"; the endpoint label is the URI, so a longer one
# costs more to normalize, copy and hash), KEEP=1 keeps the temp dir
# (callgrind files).
#
# NORMALIZE_AUTO=on|off writes "monitoring_normalize_auto on|off;" into the
# module-on config (default: not written, the module's default, on).
#
# LABELS=1 is the "Dimensions" budget: two custom labels,
#     monitoring_label app $http_x_app;     (a request header)
#     monitoring_label tenant $arg_t;       (a query argument)
# ab sends "-H 'X-App: shop'" and "?t=acme" is appended to the URI, in the
# module-off runs too, so on minus off is still the module's own cost.
#
# After ab, each run reads /metrics once (a 404 without the module) and the
# module-on run prints its request series, to show the labels recorded; the
# scrape is the same in both runs of a config, so it cancels out.

set -euo pipefail

. "$(dirname "$0")/lib.sh"

N=${N:-2000}
EXTRA=${EXTRA:-10000}
URI=${URI:-/}
LABELS=${LABELS:-0}
NORMALIZE_AUTO=${NORMALIZE_AUTO:-}
if [ "$LABELS" = 1 ]; then
    TARGET=${TARGET:-1200}
    case $URI in *\?*) URI=$URI'&t=acme' ;; *) URI=$URI'?t=acme' ;; esac
    AB_HEADER=(-H 'X-App: shop')
else
    TARGET=${TARGET:-800}
    AB_HEADER=()
fi

# the module-on config's own directives besides the zone and "monitoring"
ON_DIRECTIVES=
if [ -n "$NORMALIZE_AUTO" ]; then
    ON_DIRECTIVES="    monitoring_normalize_auto $NORMALIZE_AUTO;"
fi
if [ "$LABELS" = 1 ]; then
    ON_DIRECTIVES="${ON_DIRECTIVES:+$ON_DIRECTIVES
}"'    monitoring_label app $http_x_app;
    monitoring_label tenant $arg_t;'
fi

require_tools valgrind callgrind_annotate ab curl perl

PID=
STOP_WAIT=100     # nginx under valgrind is slow to stop
bench_tmp callgrind "${KEEP:-0}"

# wait until something accepts on the port (a bare TCP connect, no request)
wait_port() {
    local port=$1 pid=$2 i
    for i in $(seq 1 600); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

write_conf() {    # dir port on|off
    write_onoff_conf "$1" "$2" "$3" "master_process off;
worker_processes 1;" 256 1000000 "$ON_DIRECTIVES"
}

# run_one on|off REQUESTS -> sets IR[MODE-REQ] to the total Ir, leaves
# $TMP/MODE-REQ.out; runs in this shell so that cleanup knows $PID
run_one() {
    local mode=$1 req=$2 dir port out
    dir=$TMP/$mode-$req
    port=$(free_port)
    out=$TMP/$mode-$req.out
    write_conf "$dir" "$port" "$mode"

    nginx_check "$dir" || return 1

    CMD_VG="valgrind --tool=callgrind --callgrind-out-file=$out $(nginx_cmd "$dir")"
    CMD_AB="ab -k -c 1${AB_HEADER[*]:+ -H '${AB_HEADER[1]}'} -n $req 'http://127.0.0.1:$port$URI'"

    valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
        >"$dir/valgrind.log" 2>&1 &
    PID=$!

    if ! wait_port "$port" "$PID"; then
        echo "nginx ($mode) did not start:" >&2
        cat "$dir/valgrind.log" "$dir/error.log" >&2 2>/dev/null || true
        return 1
    fi

    timeout 300 ab -k -c 1 "${AB_HEADER[@]}" -n "$req" "http://127.0.0.1:$port$URI" \
        > "$dir/ab.log" 2>&1 || { cat "$dir/ab.log" >&2; return 1; }

    local done failed ka
    done=$(awk '/^Complete requests:/ {print $3}' "$dir/ab.log")
    failed=$(awk '/^Failed requests:/ {print $3}' "$dir/ab.log")
    ka=$(awk '/^Keep-Alive requests:/ {print $3}' "$dir/ab.log")
    if [ "$done" != "$req" ] || [ "$failed" != 0 ] || [ "$ka" != "$req" ]; then
        echo "ab: complete=$done failed=$failed keepalive=$ka (want $req)" >&2
        return 1
    fi

    curl -s -o "$dir/metrics.txt" "http://127.0.0.1:$port/metrics" || true
    if [ "$mode" = on ] && [ "$req" = "$N" ]; then
        SERIES_LINE=$(grep -m1 '^nginx_http_requests_total{' "$dir/metrics.txt" || true)
    fi

    quit_wait "$PID"
    PID=

    [ -s "$out" ] || { echo "no callgrind output for $mode-$req" >&2; return 1; }

    # "totals:" (or "summary:") holds the whole-program Ir
    IR[$mode-$req]=$(awk '/^(totals|summary):/ {print $2; exit}' "$out")
}

# per-function exclusive Ir of one out file: "Ir<TAB>function"; the parts
# of one function that callgrind lists under several files are summed
functions() {   # file
    callgrind_annotate --auto=no --threshold=100 --inclusive=no "$1" 2>/dev/null \
    | perl -ne '
        next unless /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*?)\s*$/;
        my ($ir, $fn) = ($1, $2);
        next if $fn =~ /PROGRAM TOTALS|^Ir\b/;
        $ir =~ tr/,//d;
        $fn =~ s/^.*?:(?=[^:]+(?: \[|$))//;   # drop "file:" prefix
        $fn =~ s/\s+\[.*\]$//;                 # drop "[object]"
        print "$ir\t$fn\n";'
}

# per-request Ir of each function between two runs: "delta<TAB>function"
per_request() {   # small big
    perl -e '
        my ($a, $b, $n) = @ARGV;
        my (%x, %y);
        for my $in ([$a, \%x], [$b, \%y]) {
            open my $f, "<", $in->[0] or die;
            while (<$f>) { chomp; my ($ir, $fn) = split /\t/; $in->[1]{$fn} += $ir }
        }
        my %all = (%x, %y);
        for (keys %all) {
            my $d = (($y{$_} // 0) - ($x{$_} // 0)) / $n;
            printf "%.1f\t%s\n", $d, $_ if abs($d) >= 0.05;
        }' "$1" "$2" "$EXTRA"
}

declare -A IR

echo "# callgrind: instructions per request, module on minus off"
print_build
echo "# URI: $URI (${#URI} bytes)${AB_HEADER[*]:+  header: ${AB_HEADER[1]}}"
echo "# monitoring_normalize_auto: ${NORMALIZE_AUTO:-not set (module default, on)}  custom labels: $([ "$LABELS" = 1 ] && echo 'app=$http_x_app tenant=$arg_t' || echo none)"
print_machine "valgrind $(valgrind --version)"
echo

BIG=$((N + EXTRA))

for mode in off on; do
    for req in "$N" "$BIG"; do
        run_one "$mode" "$req"
        echo "run $mode n=$req: Ir=${IR[$mode-$req]}"
        echo "    $CMD_VG"
        echo "    $CMD_AB"
    done
done

echo "recorded series (module on, n=$N): ${SERIES_LINE:-?}"

echo
per_off=$(perl -e "printf '%.1f', (${IR[off-$BIG]} - ${IR[off-$N]}) / $EXTRA")
per_on=$(perl -e "printf '%.1f', (${IR[on-$BIG]} - ${IR[on-$N]}) / $EXTRA")
extra=$(perl -e "printf '%.1f', $per_on - $per_off")

printf '%-34s %12s\n' "Ir per request, module off:" "$per_off"
printf '%-34s %12s\n' "Ir per request, module on:" "$per_on"
printf '%-34s %12s   (target <= %s)\n' "extra Ir per recorded request:" "$extra" "$TARGET"

for f in off-$N off-$BIG on-$N on-$BIG; do
    functions "$TMP/$f.out" > "$TMP/$f.fn"
done

per_request "$TMP/off-$N.fn" "$TMP/off-$BIG.fn" > "$TMP/off.per"
per_request "$TMP/on-$N.fn" "$TMP/on-$BIG.fn" > "$TMP/on.per"

echo
echo "## module functions, module on, exclusive Ir per request"
echo "#  callgrind_annotate --auto=no --threshold=100 --inclusive=no, (Ir(n=$BIG) - Ir(n=$N)) / $EXTRA"
grep 'ngx_http_monitoring' "$TMP/on.per" | sort -t$'\t' -k1,1 -g -r \
    | awk -F'\t' '{printf "  %9.1f  %s\n", $1, $2}'

echo
echo "## where the extra instructions go: exclusive Ir per request, on minus off"
perl -e '
    my (%on, %off);
    for my $in ([$ARGV[0], \%off], [$ARGV[1], \%on]) {
        open my $f, "<", $in->[0] or die;
        while (<$f>) { chomp; my ($d, $fn) = split /\t/; $in->[1]{$fn} = $d }
    }
    my %all = (%on, %off);
    my @rows;
    for (keys %all) {
        my $d = ($on{$_} // 0) - ($off{$_} // 0);
        push @rows, [$d, $on{$_} // 0, $off{$_} // 0, $_] if abs($d) >= 1;
    }
    printf "  %9s %9s %9s  %s\n", "extra", "on", "off", "function";
    my $sum = 0;
    for (sort { $b->[0] <=> $a->[0] } @rows) {
        printf "  %9.1f %9.1f %9.1f  %s\n", @$_;
        $sum += $_->[0];
    }
    printf "  %9.1f  (sum of the rows above)\n", $sum;' "$TMP/off.per" "$TMP/on.per"

echo
echo "## top functions overall, module on, exclusive Ir per request"
sort -t$'\t' -k1,1 -g -r "$TMP/on.per" | head -15 | awk -F'\t' '{printf "  %9.1f  %s\n", $1, $2}'

echo
if perl -e "exit !($extra <= $TARGET)"; then
    echo "RESULT: PASS extra=$extra Ir/request (target <= $TARGET)"
else
    echo "RESULT: FAIL extra=$extra Ir/request (target <= $TARGET)"
fi
