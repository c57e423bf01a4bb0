#!/usr/bin/env bash
#
# Throughput while every alert webhook fails vs. the same alerts without
# webhooks.
#
# Two nginx instances (2 worker processes each, `return 200` location,
# keepalive) run side by side, both with the module, the same zone and the
# same alert rules evaluated every second (monitoring_alert_interval 1s),
# four of which always fire once requests come in, so that a delivery is
# due at every tick.  "failing" also has five webhooks that all fail:
#
#     closed    alertmanager, a port nothing listens on (connection refused)
#     hang      alertmanager, accepts and never answers (timeout=1s)
#     500       alertmanager, answers 500
#     garbage   alertmanager, answers a line that is not HTTP
#     generic   generic format, answers 500
#
# the alertmanager ones with resend=1s, so their retries back off to 1s
# at most and never stop; "quiet" has no webhooks.  The servers are one
# small Perl process (TMP/sink.pl).  Before measuring, the script checks
# that the always-firing rules fire on both instances (nginx_alerts) and
# that deliveries of "failing" have failed already.  Then wrk alternates
# between the instances in ABBA order, as throughput.sh does, and the
# script reports each run's requests/s, the medians, median(failing) /
# median(quiet) and the position-balanced ratio, then the deliveries by
# result of every webhook (total and during the rounds), the evaluations
# of both instances and the error logs: size and [warn] lines per second
# (the webhook client logs one per failed delivery).
#
# Environment: NGINX, MODULE, ROUNDS (6 runs per config), DURATION (10s),
# THREADS (2), CONNECTIONS (50), TARGET (95 percent), KEEP (1: keep TMP).

set -euo pipefail

. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-50}
TARGET=${TARGET:-95}
KEEP=${KEEP:-0}

require_tools wrk curl perl

declare -A PID PORT
bench_tmp alerts "$KEEP"

# the failing webhook servers: one listener per behaviour on a port the
# kernel picks, written to TMP/sink.ports as "hang 500 garbage"; requests
# are read whole (Content-Length) before the answer, so that closing never
# resets the connection under the client
cat > "$TMP/sink.pl" <<'EOF'
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;

my ($portfile) = @ARGV;

$SIG{QUIT} = $SIG{TERM} = $SIG{INT} = sub { exit 0 };

my (%mode, %conn, @ports);
my $sel = IO::Select->new();

for my $m (qw(hang 500 garbage)) {
    my $l = IO::Socket::INET->new(Listen => 128, LocalAddr => "127.0.0.1",
                                  LocalPort => 0, ReuseAddr => 1)
        or die "listen: $!";
    $mode{fileno $l} = $m;
    push @ports, $l->sockport;
    $sel->add($l);
}

open my $fh, ">", "$portfile.new" or die "$portfile: $!";
print $fh "@ports\n";
close $fh;
rename "$portfile.new", $portfile or die "rename: $!";

my %answer = (
    500     => "HTTP/1.1 500 Internal Server Error\r\n"
               . "Content-Length: 0\r\nConnection: close\r\n\r\n",
    garbage => "this is not HTTP\r\n\r\n",
);

sub done {
    my ($s) = @_;
    $sel->remove($s);
    delete $conn{fileno $s};
    close $s;
}

while (1) {
    for my $s ($sel->can_read) {
        if (exists $mode{fileno $s}) {
            my $c = $s->accept or next;
            $conn{fileno $c} = { mode => $mode{fileno $s}, buf => "" };
            $sel->add($c);
            next;
        }

        my $c = $conn{fileno $s};
        my $n = sysread($s, my $buf, 65536);

        if (!$n) {
            done($s);
            next;
        }

        next if $c->{mode} eq "hang";

        $c->{buf} .= $buf;
        my $h = index($c->{buf}, "\r\n\r\n");
        next if $h < 0;
        my ($len) = substr($c->{buf}, 0, $h) =~ /^Content-Length:\s*(\d+)/mi;
        next if length($c->{buf}) < $h + 4 + ($len // 0);

        syswrite($s, $answer{$c->{mode}});
        done($s);
    }
}
EOF

start_sink() {
    perl "$TMP/sink.pl" "$TMP/sink.ports" >"$TMP/sink.log" 2>&1 &
    PID[sink]=$!
    for _ in $(seq 1 50); do
        [ -f "$TMP/sink.ports" ] && break
        kill -0 "${PID[sink]}" 2>/dev/null \
            || { echo "webhook sink did not start" >&2; cat "$TMP/sink.log" >&2; exit 1; }
        sleep 0.1
    done
    [ -f "$TMP/sink.ports" ] || { echo "webhook sink did not start" >&2; exit 1; }
    read -r HANG P500 GARBAGE < "$TMP/sink.ports"
    CLOSED=$(free_port)    # bound and closed again: nothing listens there
    echo "started (sink): perl $TMP/sink.pl $TMP/sink.ports   # hang $HANG, 500 $P500, garbage $GARBAGE; closed $CLOSED"
}

# the same rules on both; the first four hold whenever requests come in
RULES='    monitoring_alert_interval 1s;
    monitoring_alert always_rps "rps >= 0" window=5s;
    monitoring_alert always_2xx "count(2xx) >= 0";
    monitoring_alert always_p99 "p99 >= 0ms";
    monitoring_alert always_ok "error_rate <= 100%";
    monitoring_alert errors "error_rate > 5%" window=30s severity=critical;'
ALWAYS=4

webhooks() {
    local am="format=alertmanager timeout=1s resend=1s"
    cat <<EOF
    monitoring_alert_webhook http://127.0.0.1:$CLOSED/closed $am;
    monitoring_alert_webhook http://127.0.0.1:$HANG/hang $am;
    monitoring_alert_webhook http://127.0.0.1:$P500/500 $am;
    monitoring_alert_webhook http://127.0.0.1:$GARBAGE/garbage $am;
    monitoring_alert_webhook http://127.0.0.1:$P500/generic format=generic timeout=1s;
EOF
}

# identical configs but for the webhooks (both load the module: mode "on")
write_conf() {    # dir port failing|quiet
    local extra=$RULES
    if [ "$3" = failing ]; then
        extra="$RULES"$'\n'"$(webhooks)"
    fi
    write_onoff_conf "$1" "$2" on "worker_processes 2;" 1024 "" "$extra"
}

declare -A STARTED
start() {   # failing|quiet
    local mode=$1 dir=$TMP/$1
    PORT[$mode]=$(free_port)
    write_conf "$dir" "${PORT[$mode]}" "$mode"
    STARTED[$mode]=$(date +%s.%N)
    nginx_start "$dir"
    PID[$mode]=$NGINX_PID
    wait_http "${PORT[$mode]}" "${PID[$mode]}" \
        || { echo "nginx ($mode) did not start" >&2; cat "$dir/error.log" >&2; exit 1; }
    echo "started ($mode): $(nginx_cmd "$dir")   # port ${PORT[$mode]}"
}

# scrape MODE: /metrics of MODE into TMP/metrics-MODE.txt
scrape() {
    curl -s -o "$TMP/metrics-$1.txt" "http://127.0.0.1:${PORT[$1]}/metrics"
}

# firing MODE: the names of the firing rules (from the last scrape)
firing() {
    awk '/^nginx_alerts\{/ && /alertstate="firing"/ {
            match($1, /alertname="[^"]*"/)
            printf "%s ", substr($1, RSTART + 11, RLENGTH - 12) }' \
        "$TMP/metrics-$1.txt"
}

# deliveries MODE: "webhook result count" lines (from the last scrape)
deliveries() {
    awk '/^nginx_monitoring_webhook_deliveries_total\{/ {
            match($1, /webhook="[^"]*"/); w = substr($1, RSTART + 9, RLENGTH - 10)
            match($1, /result="[^"]*"/);  r = substr($1, RSTART + 8, RLENGTH - 9)
            print w, r, $NF }' "$TMP/metrics-$1.txt"
}

# sum_metric MODE NAME: the sum of NAME over its series (last scrape)
sum_metric() {
    awk -v n="$2" '$1 ~ "^" n "({|$)" { s += $NF } END { printf "%d", s }' \
        "$TMP/metrics-$1.txt"
}

# failed deliveries so far
failed() {
    deliveries failing | awk '$2 != "success" { s += $3 } END { printf "%d", s }'
}

declare -A RPS TOTAL R
TOTAL[failing]=0
TOTAL[quiet]=0

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
    printf '  %-8s %-7s %12s req/s\n' "$label" "$mode" "$rps"
    [ "$label" = warmup ] && return
    RPS[$mode]="${RPS[$mode]:-} $rps"
    R[$mode-$label]=$rps
}

median() {
    perl -e 'my @v = sort { $a <=> $b } @ARGV; my $n = @v;
             printf "%.1f", $n % 2 ? $v[$n/2] : ($v[$n/2-1] + $v[$n/2]) / 2' "$@"
}

echo "# alerts: wrk against return 200, failing webhooks vs none, 2 workers"
print_build
print_machine "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "# loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

start_sink
start failing
start quiet
echo "rules (both):"
printf '%s\n' "$RULES"
echo "webhooks (failing):"
webhooks
echo "wrk: wrk -t$THREADS -c$CONNECTIONS -d$DURATION http://127.0.0.1:PORT/"
echo

bench failing warmup
bench quiet warmup

# the always-firing rules fire on both, deliveries have failed already
ok=0
for _ in $(seq 1 100); do
    scrape failing
    scrape quiet
    nf=$(firing failing | wc -w)
    nq=$(firing quiet | wc -w)
    if [ "$nf" -ge "$ALWAYS" ] && [ "$nq" -ge "$ALWAYS" ] && [ "$(failed)" -gt 0 ]; then
        ok=1
        break
    fi
    sleep 0.1
done
echo "firing (failing): $(firing failing)"
echo "firing (quiet):   $(firing quiet)"
if [ "$ok" != 1 ]; then
    echo "the always-firing rules do not fire on both instances, or no delivery has failed" >&2
    deliveries failing >&2
    exit 1
fi
FAILED_BEFORE=$(failed)
deliveries failing > "$TMP/deliveries-before.txt"
echo "failed deliveries so far: $FAILED_BEFORE"
echo

for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then
        bench failing "round$r"
        bench quiet "round$r"
    else
        bench quiet "round$r"
        bench failing "round$r"
    fi
done

m_f=$(median ${RPS[failing]})
m_q=$(median ${RPS[quiet]})
ratio=$(perl -e "printf '%.1f', 100 * $m_f / $m_q")

echo
echo "failing runs:${RPS[failing]}"
echo "quiet runs:  ${RPS[quiet]}"
printf 'median failing: %12s req/s\n' "$m_f"
printf 'median quiet:   %12s req/s\n' "$m_q"
printf 'ratio:          %11s %%   (target >= %s%%)\n' "$ratio" "$TARGET"
perl -e '
    my (@first, @second);
    while (@ARGV) {
        my ($r, $f, $q) = splice @ARGV, 0, 3;
        push @{ $r % 2 ? \@first : \@second }, $f / $q;
    }
    sub mean { my $s = 0; $s += $_ for @_; @_ ? $s / @_ : 0 }
    printf "per-round failing/quiet, failing first: %s  quiet first: %s\n",
        join(" ", map { sprintf "%.3f", $_ } @first),
        join(" ", map { sprintf "%.3f", $_ } @second);
    printf "position-balanced ratio:   %.1f %%  (mean failing-first %.1f %%, mean quiet-first %.1f %%)\n",
        50 * (mean(@first) + mean(@second)), 100 * mean(@first), 100 * mean(@second)
        if @first && @second;' \
    $(for r in $(seq 1 "$ROUNDS"); do echo "$r ${R[failing-round$r]} ${R[quiet-round$r]}"; done)

scrape failing
scrape quiet
FAILED_AFTER=$(failed)

echo
echo "webhook deliveries of failing, total (during the rounds):"
deliveries failing | perl -e '
    my %before;
    open my $fh, "<", $ARGV[0] or die;
    while (<$fh>) { my ($w, $r, $n) = split; $before{"$w $r"} = $n }
    my (@hooks, %n);
    while (<STDIN>) {
        my ($w, $r, $v) = split;
        push @hooks, $w unless exists $n{$w};
        $n{$w}{$r} = $v;
    }
    my @res = qw(success http_error invalid timeout error);
    printf "  %-36s %s\n", "webhook", join(" ", map { sprintf "%-12s", $_ } @res);
    for my $w (@hooks) {
        printf "  %-36s %s\n", $w, join(" ", map {
            sprintf "%-12s", sprintf "%d (%d)", $n{$w}{$_},
                $n{$w}{$_} - ($before{"$w $_"} // 0) } @res);
    }' "$TMP/deliveries-before.txt"
echo "webhook deliveries of quiet: $(sum_metric quiet nginx_monitoring_webhook_deliveries_total)"
echo "failed deliveries: $FAILED_AFTER, during the rounds: $((FAILED_AFTER - FAILED_BEFORE))"
for mode in failing quiet; do
    echo "alert evaluations ($mode): $(sum_metric "$mode" nginx_monitoring_alert_evaluations_total)"
done

# sanity: both instances recorded what wrk sent (nginx counts a few more:
# the start-up probe, the scrapes and the responses in flight at wrk's end)
for mode in failing quiet; do
    echo "requests completed by wrk against $mode: ${TOTAL[$mode]}, recorded by the module: $(sum_metric "$mode" nginx_worker_requests_total)"
done

# the error logs: the client logs one [warn] per failed delivery
echo
now=$(date +%s.%N)
for mode in failing quiet; do
    log=$TMP/$mode/error.log
    perl -e '
        my ($mode, $log, $secs) = @ARGV;
        my ($lines, $bytes, %lvl, %hook) = (0, -s $log // 0);
        open my $fh, "<", $log or die "$log: $!";
        while (<$fh>) {
            $lines++;
            $lvl{$1}++ if /^\S+ \S+ \[(\w+)\]/;
            $hook{$1}++ if /\[warn\].*webhook "([^"]*)" failed/;
        }
        my $warn = $lvl{warn} // 0;
        printf "error.log (%s): %d bytes, %d lines, %s; [warn] %.2f/s over %.0f s\n",
            $mode, $bytes, $lines,
            join(", ", map { "$_ $lvl{$_}" } sort keys %lvl) || "empty",
            $warn / $secs, $secs;
        printf "  %-36s %5d [warn] %.2f/s\n", $_, $hook{$_}, $hook{$_} / $secs
            for sort keys %hook;
        my @bad = grep { $lvl{$_} } qw(crit alert emerg);
        print "  ", join(", ", @bad), " in $log\n" if @bad;' \
        "$mode" "$log" "$(perl -e "print $now - ${STARTED[$mode]}")"
done
echo "# loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
if [ "$FAILED_AFTER" -le "$FAILED_BEFORE" ]; then
    echo "RESULT: FAIL ratio=$ratio% (no delivery failed during the rounds)"
elif perl -e "exit !($ratio >= $TARGET)"; then
    echo "RESULT: PASS ratio=$ratio% (target >= $TARGET%)"
else
    echo "RESULT: FAIL ratio=$ratio% (target >= $TARGET%)"
fi
