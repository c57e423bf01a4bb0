#!/usr/bin/env bash
#
# Throughput with recording on vs. the same nginx without the module.
#
# Two nginx instances (2 worker processes each, `return 200` location,
# keepalive) run side by side on different ports; one loads the module and
# records every request (`monitoring main;`), the other has no module.  wrk
# alternates between them, ABBA order (on, off, off, on, ...) so a drift in
# machine load hits both alike.  Reports each run's requests/s, the medians
# and median(on) / median(off).  On 2 cores the run that goes first in a
# pair tends to be faster, so ROUNDS should be even (each config then goes
# first equally often); the script also prints the position-balanced ratio:
# the mean of the per-round ratios on/off of the rounds where "on" went
# first and of those where "off" went first, averaged.
#
# Environment: NGINX, MODULE, ROUNDS (6 runs per config), DURATION (10s),
# THREADS (2), CONNECTIONS (50), TARGET (97 percent).

set -euo pipefail

. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-50}
TARGET=${TARGET:-97}

require_tools wrk curl perl

declare -A PID PORT
bench_tmp throughput

# identical configs but for load_module and the monitoring directives; the
# off config answers /metrics with a 404 so that both have the same locations
write_conf() {    # dir port on|off
    write_onoff_conf "$1" "$2" "$3" "worker_processes 2;" 1024 "" ""
}

start() {   # on|off
    local mode=$1 dir=$TMP/$1
    PORT[$mode]=$(free_port)
    write_conf "$dir" "${PORT[$mode]}" "$mode"
    nginx_start "$dir"
    PID[$mode]=$NGINX_PID
    wait_http "${PORT[$mode]}" "${PID[$mode]}" \
        || { echo "nginx ($mode) did not start" >&2; cat "$dir/error.log" >&2; exit 1; }
    echo "started ($mode): $(nginx_cmd "$dir")   # port ${PORT[$mode]}"
}

declare -A RPS TOTAL R
TOTAL[on]=0
TOTAL[off]=0

bench() {   # mode label -> appends to RPS[mode]
    local mode=$1 label=$2 out rps reqs
    out=$TMP/wrk-$mode-$label.log
    timeout 120 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
        "http://127.0.0.1:${PORT[$mode]}/" > "$out" 2>&1 \
        || { cat "$out" >&2; exit 1; }
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    reqs=$(awk '/requests in/ {print $1}' "$out")
    if grep -q 'Non-2xx\|Socket errors' "$out"; then
        echo "wrk reported errors:" >&2
        cat "$out" >&2
        exit 1
    fi
    TOTAL[$mode]=$(( ${TOTAL[$mode]} + reqs ))
    [ "$label" = warmup ] && { printf '  %-8s %-4s %12s req/s\n' "$label" "$mode" "$rps"; return; }
    RPS[$mode]="${RPS[$mode]:-} $rps"
    R[$mode-$label]=$rps
    printf '  %-8s %-4s %12s req/s\n' "$label" "$mode" "$rps"
}

median() {
    perl -e 'my @v = sort { $a <=> $b } @ARGV; my $n = @v;
             printf "%.1f", $n % 2 ? $v[$n/2] : ($v[$n/2-1] + $v[$n/2]) / 2' "$@"
}

echo "# throughput: wrk against return 200, module on vs off, 2 workers"
print_build
print_machine "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "# loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

start on
start off
echo "wrk: wrk -t$THREADS -c$CONNECTIONS -d$DURATION http://127.0.0.1:PORT/"
echo

bench on warmup
bench off warmup

for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then
        bench on "round$r"
        bench off "round$r"
    else
        bench off "round$r"
        bench on "round$r"
    fi
done

m_on=$(median ${RPS[on]})
m_off=$(median ${RPS[off]})
ratio=$(perl -e "printf '%.1f', 100 * $m_on / $m_off")

echo
echo "on  runs:${RPS[on]}"
echo "off runs:${RPS[off]}"
printf 'median on:  %12s req/s\n' "$m_on"
printf 'median off: %12s req/s\n' "$m_off"
printf 'ratio:      %11s %%   (target >= %s%%)\n' "$ratio" "$TARGET"
perl -e '
    my (@first, @second);
    while (@ARGV) {
        my ($r, $on, $off) = splice @ARGV, 0, 3;
        push @{ $r % 2 ? \@first : \@second }, $on / $off;
    }
    sub mean { my $s = 0; $s += $_ for @_; @_ ? $s / @_ : 0 }
    printf "per-round on/off, on first: %s  off first: %s\n",
        join(" ", map { sprintf "%.3f", $_ } @first),
        join(" ", map { sprintf "%.3f", $_ } @second);
    printf "position-balanced ratio:   %.1f %%  (mean on-first %.1f %%, mean off-first %.1f %%)\n",
        50 * (mean(@first) + mean(@second)), 100 * mean(@first), 100 * mean(@second)
        if @first && @second;' \
    $(for r in $(seq 1 "$ROUNDS"); do echo "$r ${R[on-round$r]} ${R[off-round$r]}"; done)

# sanity: the on instance recorded what wrk sent (wrk does not count the
# responses still in flight when it stops, so nginx may count a few more)
counted=$(curl -s "http://127.0.0.1:${PORT[on]}/metrics" \
    | awk '/^nginx_worker_requests_total/ {s += $NF} END {printf "%d", s}')
echo "requests completed by wrk against on: ${TOTAL[on]}, recorded by the module: $counted"
echo "# loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
if perl -e "exit !($ratio >= $TARGET)"; then
    echo "RESULT: PASS ratio=$ratio% (target >= $TARGET%)"
else
    echo "RESULT: FAIL ratio=$ratio% (target >= $TARGET%)"
fi
