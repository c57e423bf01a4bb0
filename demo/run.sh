#!/bin/bash

# The demo (docs/demo.md): what "make run" and the Docker image run.
# Writes PREFIX/nginx.conf from demo/nginx.conf, starts nginx in the
# foreground with demo/traffic.sh next to it, prints the URLs, and on
# Ctrl-C (SIGINT), SIGTERM, SIGHUP or the exit of nginx stops both, by
# pid, and what is left of nginx's workers.
#
#   demo/run.sh            run the demo
#   demo/run.sh --check    write the configuration, nginx -t it, exit
#
# Environment, with defaults:
#   PORT=8080 BACKEND_PORT=8081
#   NGINX=/usr/sbin/nginx
#   MODULE=build/ngx_http_monitoring_module.so (of this repository)
#   ECHO_MODULE=/usr/lib/nginx/modules/ngx_http_echo_module.so
#   DEMO_PREFIX=build/demo     nginx's prefix: nginx.conf, logs, tmp, html
#   DEMO_LISTEN=127.0.0.1      the demo server's address
#   DEMO_ALLOW=127.0.0.1       who may see /metrics and /monitoring
#   DEMO_URL_HOST              the host in the URLs printed
#   DEMO_TRAFFIC=1             0: no traffic generator
# and those of demo/traffic.sh: DEMO_RATE, DEMO_CONCURRENCY,
# DEMO_DURATION, DEMO_INCIDENT_START, DEMO_INCIDENT_EVERY,
# DEMO_INCIDENT_LENGTH.

set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

port=${PORT:-8080}
backend_port=${BACKEND_PORT:-8081}
nginx=${NGINX:-/usr/sbin/nginx}
module=${MODULE:-$repo/build/ngx_http_monitoring_module.so}
echo_module=${ECHO_MODULE:-/usr/lib/nginx/modules/ngx_http_echo_module.so}
prefix=${DEMO_PREFIX:-$repo/build/demo}
listen=${DEMO_LISTEN:-127.0.0.1}
allow=${DEMO_ALLOW:-127.0.0.1}
traffic=${DEMO_TRAFFIC:-1}

# nginx reads NGINX as the sockets it inherits on a binary upgrade
unset NGINX

# where this host reaches the demo server

case $listen in
0.0.0.0|\*)
    local_host=127.0.0.1
    url_host=${DEMO_URL_HOST:-localhost}
    ;;
*)
    local_host=$listen
    url_host=${DEMO_URL_HOST:-$listen}
    ;;
esac

nginx_pid=
gen_pid=
workers=

die() {
    echo "demo: $*" >&2
    exit 1
}

check=0

case ${1:-} in
--check)
    check=1
    ;;
"")
    ;;
*)
    die "usage: $0 [--check]"
    ;;
esac

for p in "$port" "$backend_port"; do
    if ! [[ $p =~ ^[1-9][0-9]*$ ]] || (( p > 65535 )); then
        die "invalid port \"$p\""
    fi
done

[ "$port" != "$backend_port" ] \
    || die "PORT and BACKEND_PORT are both $port"

[ -x "$nginx" ] || die "nginx not found at $nginx (make deps)"
command -v curl > /dev/null || die "curl not found (make deps)"
[ -f "$module" ] || die "module not found: $module (build it with make)"
[ -f "$echo_module" ] \
    || die "echo module not found: $echo_module" \
           "(apt-get install libnginx-mod-http-echo, or make deps)"

# a demo running in this prefix is left alone

if [ -f "$prefix/logs/nginx.pid" ]; then
    read -r p < "$prefix/logs/nginx.pid"
    if [ -n "$p" ] \
       && grep -q '^nginx: master' "/proc/$p/cmdline" 2> /dev/null
    then
        die "a demo is running in $prefix (nginx $p); stop it first," \
            "or give this one another DEMO_PREFIX"
    fi
fi

# bash's /dev/tcp: something answers there already

if (( ! check )); then
    for a in "$local_host:$port" "127.0.0.1:$backend_port"; do
        if (exec 3<>"/dev/tcp/${a%:*}/${a##*:}") 2> /dev/null; then
            die "port ${a##*:} is in use; choose others, as in" \
                "make run PORT=$(( port + 10 ))" \
                "BACKEND_PORT=$(( backend_port + 10 ))"
        fi
    done
fi


# the prefix: only what the demo writes there is replaced, and only in
# a prefix the demo made (its mark) or an empty one

mark=.ngx-monitoring-demo

mkdir -p "$prefix" || die "cannot create $prefix"
prefix=$(cd "$prefix" && pwd)

if [ ! -f "$prefix/$mark" ] && [ -n "$(ls -A "$prefix")" ]; then
    die "$prefix is not empty and not a demo's prefix; give DEMO_PREFIX" \
        "a new or empty directory"
fi

: > "$prefix/$mark" || die "cannot write to $prefix"

rm -rf "$prefix/logs" "$prefix/tmp" "$prefix/html" "$prefix/nginx.conf"
mkdir -p "$prefix/logs" "$prefix/tmp" || die "cannot write to $prefix"
cp -r "$here/html" "$prefix/html" || die "cannot copy $here/html"

sed_value() {
    printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

sed -e "s|@MODULE@|$(sed_value "$module")|g" \
    -e "s|@ECHO_MODULE@|$(sed_value "$echo_module")|g" \
    -e "s|@LISTEN@|$(sed_value "$listen")|g" \
    -e "s|@PORT@|$port|g" \
    -e "s|@BACKEND_PORT@|$backend_port|g" \
    -e "s|@ALLOW@|$(sed_value "$allow")|g" \
    "$here/nginx.conf" > "$prefix/nginx.conf" \
    || die "cannot write $prefix/nginx.conf"

if ! out=$("$nginx" -t -q -p "$prefix/" -c nginx.conf -e logs/error.log \
           2>&1)
then
    echo "$out" >&2
    die "$prefix/nginx.conf does not pass nginx -t"
fi

if (( check )); then
    echo "demo: $prefix/nginx.conf is ok"
    exit 0
fi


# processes, from /proc: alive and not a zombie; children of a pid

running() {
    local s

    [ -n "$1" ] && read -r s 2> /dev/null < "/proc/$1/stat" || return 1
    s=${s##*) }
    [ "${s%% *}" != Z ]
}

children_of() {
    local f s parent=$1

    for f in /proc/[0-9]*/stat; do
        read -r s 2> /dev/null < "$f" || continue
        set -- ${s##*) }
        if [ "${2:-}" = "$parent" ]; then
            f=${f#/proc/}
            echo "${f%/stat}"
        fi
    done
}

finish() {
    local i p status=$1

    trap '' INT TERM HUP

    [ -n "$gen_pid" ] && kill -TERM "$gen_pid" 2> /dev/null

    if running "$nginx_pid"; then
        workers=$(children_of "$nginx_pid")

        # fast shutdown, as Ctrl-C in a terminal would
        kill -TERM "$nginx_pid" 2> /dev/null
    fi

    for (( i = 0; i < 100; i++ )); do
        running "$gen_pid" || running "$nginx_pid" || break
        sleep 0.1
    done

    for p in $gen_pid $nginx_pid; do
        if running "$p"; then
            echo "demo: $p did not exit, killing it" >&2
            kill -KILL "$p" 2> /dev/null
        fi
    done

    wait 2> /dev/null

    # workers outlive a master killed with SIGKILL

    for p in $workers; do
        if running "$p" \
           && grep -q '^nginx: worker' "/proc/$p/cmdline" 2> /dev/null
        then
            kill -KILL "$p" 2> /dev/null
        fi
    done

    echo "demo: stopped"
    exit "$status"
}

trap 'finish 130' INT
trap 'finish 143' TERM
trap 'finish 129' HUP

"$nginx" -p "$prefix/" -c nginx.conf -e logs/error.log -g 'daemon off;' \
    < /dev/null &
nginx_pid=$!

for (( i = 0; i < 100; i++ )); do
    if ! running "$nginx_pid"; then
        wait "$nginx_pid"
        echo "demo: nginx exited at start (status $?):" >&2
        tail -n 5 "$prefix/logs/error.log" >&2
        nginx_pid=
        finish 1
    fi

    curl -s -o /dev/null -m 1 "http://$local_host:$port/health" && break
    sleep 0.1
done

(( i < 100 )) || { echo "demo: nginx does not answer" >&2; finish 1; }

url="http://$url_host:$port"

echo
echo "  dashboard  $url/monitoring"
echo "  metrics    $url/metrics"
echo "  health     $url/health"
echo "  demo site  $url/"
echo "  logs       $prefix/logs/"
echo "  stop with Ctrl-C"
echo

if [ "$traffic" != 0 ]; then
    DEMO_URL="http://$local_host:$port" DEMO_NGINX_PID=$nginx_pid \
    DEMO_PARENT_PID=$$ bash "$here/traffic.sh" < /dev/null &
    gen_pid=$!
fi

while :; do
    wait -n
    rc=$?

    if ! running "$nginx_pid"; then
        wait "$nginx_pid"
        rc=$?
        nginx_pid=

        # 0: stopped by a signal; a terminal's Ctrl-C reaches nginx as
        # well as this script, and nginx may be out first

        (( rc == 0 )) && finish 130

        echo "demo: nginx exited (status $rc), see $prefix/logs/error.log" >&2
        finish 1
    fi

    if [ -n "$gen_pid" ] && ! running "$gen_pid"; then
        wait "$gen_pid"
        gen_pid=
        echo "demo: no more traffic; nginx runs on, stop it with Ctrl-C"
    fi

    # nothing to wait for: should not happen, but never spin
    (( rc == 127 )) && sleep 1
done
