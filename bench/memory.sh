#!/usr/bin/env bash
#
# Zone bytes per series with the default histogram buckets.
#
# One nginx records into a 64m zone.  After a warm-up of 100 series the
# script reads nginx_monitoring_zone_bytes{state="used"} and
# nginx_monitoring_series from /metrics, adds K more series (one distinct
# path each, one status code each), reads them again:
#
#     bytes per series = delta used / delta series
#
# It does this for short endpoints (/m/abcd, 7 bytes) and for long ones
# (64 bytes), which gives the cost of each endpoint byte, then fills a
# separate 1m zone to its end to check that the estimate predicts the
# real capacity and that the zone stops at its size (overflow counted).
#
# The paths are letters only, so automatic id normalization (on by
# default) folds none of them; the script checks that each step added
# exactly the series it asked for (nginx_monitoring_series).
#
# Environment: NGINX, MODULE, K (10000 series per step), TARGET (1024 bytes).

set -euo pipefail

. "$(dirname "$0")/lib.sh"

K=${K:-10000}
TARGET=${TARGET:-1024}

require_tools curl perl

PID=
bench_tmp memory

PORT=$(free_port)
DIR=$TMP/nginx
mkdir -p "$DIR/tmp"

# 64 bytes: /svc/<58 letters>/ + 4 letters of the series name
LONG=/svc/$(printf 'abcdefghij%.0s' 1 2 3 4 5 6 | cut -c1-54)/

{
    conf_head "$DIR" on "worker_processes 2;" 1024 100000
    cat <<EOF

    monitoring_zone main 64m;
    monitoring_zone small 1m;
    monitoring main;
EOF
    conf_server "$PORT"
    cat <<EOF

        location /small/ {
            monitoring small;
            return 200 "ok";
        }

        location = /metrics {
            monitoring_metrics main;
            monitoring off;
        }

        location = /metrics-small {
            monitoring_metrics small;
            monitoring off;
        }
    }
}
EOF
} > "$DIR/nginx.conf"

write_populate

nginx_start "$DIR"
PID=$NGINX_PID
wait_http "$PORT" "$PID" 100 /metrics || { cat "$DIR/error.log" >&2; exit 1; }

populate() {   # from to prefix
    local n
    n=$(run_populate "$PORT" "$1" "$2" "$3")
    echo "  sent $n distinct paths: perl populate.pl $PORT $1 $2 $3"
}

declare -A USED SER

snap() {   # label
    USED[$1]=$(metric nginx_monitoring_zone_bytes 'state="used"')
    SER[$1]=$(metric nginx_monitoring_series '')
    printf '  %-6s series=%-6s zone used=%s bytes\n' "$1" "${SER[$1]}" "${USED[$1]}"
}

per_series() {   # from to
    perl -e 'printf "%.1f", ($ARGV[1] - $ARGV[0]) / ($ARGV[3] - $ARGV[2])' \
        "${USED[$1]}" "${USED[$2]}" "${SER[$1]}" "${SER[$2]}"
}

echo "# memory: zone bytes per series, default buckets"
print_build
echo "# nginx: $(nginx_cmd "$DIR")   # port $PORT"
echo "# reading: curl -s http://127.0.0.1:$PORT/metrics | grep -E 'nginx_monitoring_(series|zone_bytes)'"
echo "# size: $(metric nginx_monitoring_zone_bytes 'state="size"') bytes"
echo

snap empty
populate 0 100 /m/
snap warm
populate 100 $((100 + K)) /m/
snap short
populate 0 "$K" "$LONG"
snap long

SERIES_OK=1
check() {   # from to expected
    local got=$(( ${SER[$2]} - ${SER[$1]} ))
    if [ "$got" != "$3" ]; then
        echo "WARNING: $1 -> $2 added $got series, expected $3 (normalization folded paths?)" >&2
        SERIES_OK=0
    fi
}
check empty warm 100
check warm short "$K"
check short long "$K"
[ "$SERIES_OK" = 1 ] && echo "series check: +100, +$K, +$K new series, as asked"

short=$(per_series warm short)
long=$(per_series short long)
per_byte=$(perl -e "printf '%.2f', ($long - $short) / (${#LONG} + 4 - 7)")

echo
echo "bytes per series, endpoint of 7 bytes (/m/abcd):   $short"
echo "bytes per series, endpoint of $(( ${#LONG} + 4 )) bytes:             $long"
echo "bytes per extra endpoint byte:                    $per_byte"
echo "fixed part of a 64m zone (used with no series):   ${USED[empty]} bytes"

# fill a 1m zone to its end: does the estimate hold, does it stop at SIZE?
echo
echo "## filling the 1m zone \"small\" with 8000 distinct paths (/small/abcd)"
s_empty=$(metric nginx_monitoring_zone_bytes 'state="used"' /metrics-small)
s_size=$(metric nginx_monitoring_zone_bytes 'state="size"' /metrics-small)
populate 0 8000 /small/
s_used=$(metric nginx_monitoring_zone_bytes 'state="used"' /metrics-small)
s_ser=$(metric nginx_monitoring_series '' /metrics-small)
s_drop=$(metric nginx_monitoring_series_dropped_total '' /metrics-small)
s_reqs=$(awk '/^nginx_http_requests_total/ {s += $NF} END {printf "%d", s}' "$TMP/metrics.txt")
s_bps=$(perl -e "printf '%.1f', ($s_used - $s_empty) / $s_ser")
predicted=$(perl -e "printf '%d', ($s_size - $s_empty) / $s_bps")
echo "  size=$s_size used=$s_used (fixed part $s_empty) series=$s_ser dropped requests=$s_drop"
echo "  requests counted in the small zone (all series, __overflow__ included): $s_reqs of 8000"
echo "  bytes per series in the small zone (/small/abcd, 11 bytes): $s_bps"
echo "  series that (size - fixed part) / bytes per series predicts: $predicted"
grep -m1 'is full' "$DIR/error.log" | sed 's/^/  error.log: /' || true

echo
if [ "$SERIES_OK" != 1 ]; then
    echo "RESULT: FAIL the series counts are not the ones asked for (see WARNING above)"
elif perl -e "exit !($short <= $TARGET)"; then
    echo "RESULT: PASS $short bytes/series (target <= $TARGET)"
else
    echo "RESULT: FAIL $short bytes/series (target <= $TARGET)"
fi
