# shellcheck shell=bash
# Shared by the bench scripts, sourced after `set -euo pipefail` with
#
#     . "$(dirname "$0")/lib.sh"
#
# Sets HERE, REPO, NGINX (default /usr/sbin/nginx) and MODULE (default
# build/ngx_http_monitoring_module.so), and defines the helpers below:
# tools check, temp dir and cleanup trap, free ports, nginx configs,
# starting, waiting for and stopping nginx, the pipelined "populate"
# client, reading a metric and the build / machine header lines.

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE=${MODULE:-$REPO/build/ngx_http_monitoring_module.so}

# tenths of a second to wait for a SIGQUIT'ed nginx before SIGKILL
STOP_WAIT=50

# require_tools TOOL...: each must be on PATH, and the module built
require_tools() {
    local t
    for t in "$@" "$NGINX"; do
        command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }
    done
    [ -f "$MODULE" ] || { echo "module not built: $MODULE (run make)" >&2; exit 1; }
}

# bench_tmp NAME [KEEP]: make the temp dir TMP (/tmp/monbench-NAME.XXXXXX)
# and trap exit and Ctrl-C: stop the nginx processes in PID (a pid or an
# associative array of pids, as the script declares it), then remove TMP
# (KEEP=1: keep it and say so)
bench_tmp() {
    TMP=$(mktemp -d "/tmp/monbench-$1.XXXXXX")
    TMP_KEEP=${2:-0}
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

cleanup() {
    stop_nginx ${PID[@]+"${PID[@]}"}
    if [ "$TMP_KEEP" = 1 ]; then
        echo "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}

# stop_nginx PID...: SIGQUIT to each one still running, wait for each up
# to STOP_WAIT tenths of a second, then SIGKILL; empty pids are skipped
stop_nginx() {
    local p
    for p in "$@"; do
        [ -n "$p" ] || continue
        kill -0 "$p" 2>/dev/null && kill -QUIT "$p" 2>/dev/null || true
    done
    for p in "$@"; do
        [ -n "$p" ] || continue
        for _ in $(seq 1 "$STOP_WAIT"); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null || true
    done
}

# quit_wait PID: graceful stop of a child of this shell, waiting for it
# (callgrind writes its file on the way out); the caller clears its PID
quit_wait() {
    kill -QUIT "$1"
    wait "$1" || true
}

# a free port of 127.0.0.1, picked by the kernel (bind to port 0)
free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                      LocalPort => 0, ReuseAddr => 1)
            or die "bind: $!";
        print $s->sockport, "\n";'
}

# nginx_cmd DIR: the command line that runs nginx from the prefix DIR
nginx_cmd() {
    echo "$NGINX -p $1/ -c $1/nginx.conf -e $1/error.log"
}

# nginx_check DIR: nginx -t of DIR/nginx.conf, its messages on failure
nginx_check() {
    "$NGINX" -p "$1/" -c "$1/nginx.conf" -e "$1/error.log" -t -q \
        >/dev/null 2>"$1/t.log" || { cat "$1/t.log" >&2; return 1; }
}

# nginx_start DIR: nginx_check, then nginx in the background (output to
# DIR/stdout.log); its pid goes to NGINX_PID
nginx_start() {
    nginx_check "$1" || exit 1
    "$NGINX" -p "$1/" -c "$1/nginx.conf" -e "$1/error.log" \
        >"$1/stdout.log" 2>&1 &
    NGINX_PID=$!
}

# wait_http PORT PID [TRIES] [PATH]: until GET PATH (default /) answers,
# at most TRIES (100) tenths of a second; fails if PID is gone
wait_http() {
    local port=$1 pid=$2
    for _ in $(seq 1 "${3:-100}"); do
        curl -s -o /dev/null "http://127.0.0.1:$port${4:-/}" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# conf_head DIR LOAD "PROCESS DIRECTIVES" WORKER_CONNECTIONS [KEEPALIVE_REQUESTS]
# prints a config from its start to the temp paths inside http {}, with
# load_module if LOAD is on; the temp paths and logs are under DIR
conf_head() {
    local dir=$1
    if [ "$2" = on ]; then
        echo "load_module $MODULE;"
    fi
    cat <<EOF
user root;
daemon off;
$3
pid $dir/nginx.pid;
error_log $dir/error.log warn;

events {
    worker_connections $4;
}

http {
    access_log off;
EOF
    if [ -n "${5:-}" ]; then
        echo "    keepalive_requests $5;"
    fi
    cat <<EOF
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
EOF
}

# conf_server PORT: opens the server {} on 127.0.0.1:PORT with location /
# answering 200 "ok"; the caller adds its locations and closes both blocks
conf_server() {
    cat <<EOF

    server {
        listen 127.0.0.1:$1;
        server_name bench;

        location / {
            return 200 "ok";
        }
EOF
}

# write_onoff_conf DIR PORT on|off "PROCESS DIRECTIVES" WORKER_CONNECTIONS
#                  KEEPALIVE_REQUESTS "EXTRA HTTP DIRECTIVES (on)"
# the module-on and module-off configs, identical but for load_module and
# the monitoring directives; the off config answers /metrics with a 404 so
# that both have the same locations
write_onoff_conf() {
    local dir=$1 port=$2 mode=$3
    mkdir -p "$dir/tmp"
    {
        conf_head "$dir" "$mode" "$4" "$5" "$6"
        if [ "$mode" = on ]; then
            echo "    monitoring_zone main 16m;"
            echo "    monitoring main;"
            if [ -n "$7" ]; then
                printf '%s\n' "$7"
            fi
        fi
        conf_server "$port"
        echo
        echo "        location = /metrics {"
        if [ "$mode" = on ]; then
            echo "            monitoring_metrics;"
            echo "            monitoring off;"
        else
            echo "            return 404;"
        fi
        echo "        }"
        echo "    }"
        echo "}"
    } > "$dir/nginx.conf"
}

# write_populate: TMP/populate.pl PORT FROM TO PREFIX sends GET
# PREFIX<letters(i)> for i in [FROM, TO), HTTP/1.1 pipelined, 1000
# requests per keepalive connection, and prints how many got a 200
write_populate() {
    cat > "$TMP/populate.pl" <<'EOF'
use strict;
use warnings;
use IO::Socket::INET;

my ($port, $from, $to, $prefix) = @ARGV;
my $batch = 1000;

sub name {
    my ($i) = @_;
    my $s = "";
    for (1 .. 4) { $s = chr(97 + $i % 26) . $s; $i = int($i / 26) }
    return $s;
}

my $ok = 0;

for (my $b = $from; $b < $to; $b += $batch) {
    my $e = $b + $batch < $to ? $b + $batch : $to;
    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port)
        or die "connect: $!";
    my $req = "";
    for my $i ($b .. $e - 1) {
        my $close = $i == $e - 1 ? "Connection: close\r\n" : "";
        $req .= "GET $prefix" . name($i) . " HTTP/1.1\r\nHost: bench\r\n$close\r\n";
    }
    # a child writes while the parent reads, so neither side can stall
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        print $sock $req;
        exit 0;
    }
    my $resp = "";
    while (sysread($sock, my $buf, 65536)) { $resp .= $buf }
    waitpid($pid, 0);
    close $sock;
    my $n = () = $resp =~ m{HTTP/1\.1 200 OK\r\n}g;
    die "batch $b: $n of " . ($e - $b) . " responses\n" if $n != $e - $b;
    $ok += $n;
}
print "$ok\n";
EOF
}

# run_populate PORT FROM TO PREFIX: prints the number of paths sent
run_populate() {
    timeout 120 perl "$TMP/populate.pl" "$1" "$2" "$3" "$4"
}

# metric NAME [FILTER] [LOCATION]: the value of the first NAME{...FILTER...}
# in LOCATION (default /metrics) on PORT; the response stays in
# TMP/metrics.txt
metric() {
    curl -s -o "$TMP/metrics.txt" "http://127.0.0.1:$PORT${3:-/metrics}"
    awk -v n="$1" -v f="${2:-}" '($1 ~ "^" n "{" || $1 == n) && !done {
            if (f == "" || index($1, f)) { print $NF; done = 1 } }' "$TMP/metrics.txt"
}

# the header lines that tie a figure to a build
print_build() {
    echo "# nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //')  module: $MODULE"
    echo "# module sha256: $(sha256sum "$MODULE" | cut -c1-16)  built: $(date -r "$MODULE" '+%F %T')"
    echo "# repo HEAD: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
}

# print_machine "TOOL VERSION": cpus, OS and the load generator's version
print_machine() {
    echo "# $(nproc) cpus, $(. /etc/os-release && echo "$PRETTY_NAME"), $1"
}
