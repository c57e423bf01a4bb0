#!/bin/bash

# Background traffic for the demo (docs/demo.md), started by demo/run.sh:
# DEMO_RATE requests a second, at most DEMO_CONCURRENCY at a time, to a
# mix of the demo site's locations, with an "incident" every
# DEMO_INCIDENT_EVERY seconds during which /checkout?fail=1 makes a
# fifth of the requests fail, so that the HighErrorRate alert fires and
# resolves.  Bash and curl only.
#
# It stops after DEMO_DURATION seconds, on SIGTERM or SIGINT, when the
# process DEMO_NGINX_PID or DEMO_PARENT_PID is gone, or when nothing
# answers at DEMO_URL for 10 seconds.

set -u

url=${DEMO_URL:-http://127.0.0.1:8080}
rate=${DEMO_RATE:-10}
conc=${DEMO_CONCURRENCY:-4}
duration=${DEMO_DURATION:-3600}
first=${DEMO_INCIDENT_START:-30}
every=${DEMO_INCIDENT_EVERY:-180}
length=${DEMO_INCIDENT_LENGTH:-60}
nginx_pid=${DEMO_NGINX_PID:-}
parent_pid=${DEMO_PARENT_PID:-}

for v in rate conc duration first every length; do
    if ! [[ ${!v} =~ ^(0|[1-9][0-9]*)$ ]]; then
        echo "traffic: invalid $v \"${!v}\"" >&2
        exit 1
    fi
done

# bounded whatever the environment says

(( rate < 1 )) && rate=1
(( rate > 50 )) && rate=50
(( conc < 1 )) && conc=1
(( conc > 8 )) && conc=8
(( every < 1 )) && every=1
(( length > every )) && length=$every

child=

stop() {
    [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
    exit 0
}

trap stop TERM INT HUP

# the requests of one second, as arguments of one curl, in $args

words=(nginx monitoring latency prometheus alert upstream dashboard)
statics=(app.css app.js logo.svg)

add() {
    args+=(--next -s -o /dev/null --connect-timeout 2 -m 5
           -A demo-traffic "$@")
}

batch() {
    local i r incident=$1

    args=()

    for (( i = 0; i < rate; i++ )); do
        r=$(( RANDOM % 100 ))

        if (( incident && r < 20 )); then
            add -X POST -d item=1 "$url/checkout?fail=1"
            continue
        fi

        if (( r < 25 )); then
            add "$url/api/users/$(( RANDOM % 500 + 1 ))"
        elif (( r < 33 )); then
            add "$url/api/orders/$(printf '%04x%04x%04x%04x' \
                $RANDOM $RANDOM $RANDOM $RANDOM)"
        elif (( r < 48 )); then
            add "$url/api/search?q=${words[RANDOM % ${#words[@]}]}"
        elif (( r < 53 )); then
            add "$url/api/report"
        elif (( r < 61 )); then
            add -X POST -d item=1 "$url/checkout"
        elif (( r < 78 )); then
            add "$url/static/${statics[RANDOM % ${#statics[@]}]}"
        elif (( r < 80 )); then
            add "$url/static/missing.png"
        elif (( r < 95 )); then
            add "$url/proxy/inventory/$(( RANDOM % 200 + 1 ))"
        else
            add "$url/"
        fi
    done

    # the first --next separates nothing
    args=("${args[@]:1}")
}

usec() {
    local t=${EPOCHREALTIME//[^0-9]/}
    echo $(( 10#$t ))
}

start=$(usec)
state=0
failing=0

echo "traffic: $rate requests/s to $url for ${duration}s;" \
     "an incident every ${every}s from ${first}s on, for ${length}s"

while :; do
    now=$(usec)
    elapsed=$(( (now - start) / 1000000 ))

    (( elapsed >= duration )) && break

    if [ -n "$nginx_pid" ] && ! kill -0 "$nginx_pid" 2>/dev/null; then
        echo "traffic: nginx is gone, stopping"
        break
    fi

    if [ -n "$parent_pid" ] && ! kill -0 "$parent_pid" 2>/dev/null; then
        break
    fi

    incident=0
    if (( elapsed >= first && (elapsed - first) % every < length )); then
        incident=1
    fi

    if (( incident != state )); then
        state=$incident
        if (( incident )); then
            echo "traffic: incident: 20% of requests fail" \
                 "(/checkout?fail=1) for ${length}s"
        else
            echo "traffic: incident over"
        fi
    fi

    batch $incident

    curl --no-progress-meter --parallel --parallel-max "$conc" \
        "${args[@]}" &
    child=$!
    wait $child
    rc=$?
    child=

    # 7: could not connect to anything

    if (( rc == 7 )); then
        (( ++failing >= 10 )) && { echo "traffic: $url is down"; break; }
    else
        failing=0
    fi

    # what is left of this request's second

    left=$(( now + 1000000 - $(usec) ))

    if (( left > 0 )); then
        sleep "$(printf '%d.%06d' $(( left / 1000000 )) \
            $(( left % 1000000 )))" &
        child=$!
        wait $child
        child=
    fi
done

echo "traffic: stopped after ${elapsed}s"
