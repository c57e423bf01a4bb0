#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: with four workers, one evaluates
# the alert rules each tick: the evaluations go at one per interval,
# through reloads (no doubling while old and new workers overlap, alert
# state kept, a changed rule starting over) and after the workers are
# killed with SIGKILL one by one.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Select;
use IO::Socket::INET;
use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep time);

###############################################################################

my $t = Test::Monitoring->new(echo => 1);

# the master reports each killed worker, and the lock it may have held;
# the failed reload below

$t->allow_log(qr/exited on signal 9/,
    qr/shared memory zone "[^"]*" was locked by \d+/,
    qr/bind\(\) to 127\.0\.0\.1:\d+ failed|still could not bind/);

my $conf = <<'EOF';

%%TEST_GLOBALS%%

worker_processes 4;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m;

    monitoring_alert_interval  1s;

    %%ADDED%%
    monitoring_alert  Keep    "rps < 1"  window=2s;
    monitoring_alert  Change  "%%CHANGE%%"  window=2s;

    server {
        listen       127.0.0.1:%%PORT_8080%% reuseport;
        %%LISTEN%%
        server_name  localhost;

        monitoring off;

        location /mon {
            monitoring_dashboard;
        }

        location /metrics {
            monitoring_metrics;
        }

        location /sleep {
            echo_sleep 3;
            echo ok;
        }
    }
}

EOF

sub write_conf {
    my ($change, %opts) = @_;

    (my $c = $conf) =~ s/%%CHANGE%%/$change/;
    $c =~ s/%%ADDED%%/$opts{added} ? "monitoring_alert $opts{added};" : ''/e;
    $c =~ s/%%LISTEN%%/$opts{listen} ? "listen $opts{listen};" : ''/e;

    $t->write_file_expand('nginx.conf', $c);
}

write_conf('rps < 2');

$t->run();

###############################################################################

sub evaluations {
    my (undef, $body) = metrics(port(8080));
    return metric_value(parse_metrics($body),
        'nginx_monitoring_alert_evaluations_total', { zone => 'main' });
}

sub rules {
    my $r = http_json('/mon/api');
    return { map { $_->{name} => $_ }
        @{$r->{data} && $r->{data}{alerts}{rules} // []} };
}

# the growth of the counter over about $seconds: (growth, seconds taken)

sub growth {
    my ($seconds, $during) = @_;

    my $t0 = time();
    my $e0 = evaluations() // 0;

    $during->() if $during;

    my $left = $t0 + $seconds - time();
    sleep $left if $left > 0;

    my $e1 = evaluations() // 0;

    return ($e1 - $e0, time() - $t0);
}

sub firing {
    my ($name) = @_;

    my $rules;
    poll(sub { $rules = rules(); ($rules->{$name}{state} // '') eq 'firing' },
        timeout => 10);

    return $rules->{$name};
}

###############################################################################

is(scalar $t->worker_pids(), 4, 'four workers');

my $keep = firing('Keep');
my $change = firing('Change');

is($keep->{state}, 'firing', 'rps < 1 firing on silence');
is($change->{state}, 'firing', 'rps < 2 firing on silence');

my ($n, $took) = growth(6);

ok($n >= $took - 2 && $n <= $took + 2,
    'one evaluation per second, not one per worker')
    or diag("$n evaluations in $took s");

###############################################################################

# a reload of the same configuration: the pace holds while old and new
# workers overlap (a slow request keeps an old one for 3s), and each rule
# keeps its state

# reload_held(): a reload while a request holds an old worker; returns
# the response to that request

sub reload_held {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => port(8080), Proto => 'tcp', Timeout => 5)
        or die "connect: $!\n";

    print $s "GET /sleep HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\n\r\n";

    # let a worker take it before the reload

    sleep 0.3;

    $t->reload();

    my $r = '';
    my $sel = IO::Select->new($s);
    my $deadline = time() + 10;

    while (time() < $deadline) {
        next unless $sel->can_read(0.5);
        last unless sysread($s, $r, 65536, length $r);
    }

    close $s;

    return $r;
}

my @old = $t->worker_pids();
my $slow;

($n, $took) = growth(6, sub { $slow = reload_held() });

ok($n >= $took - 3 && $n <= $took + 2, 'reload: one evaluation per second')
    or diag("$n evaluations in $took s");
is(http_body($slow), "ok\n",
    'reload: the request that held an old worker completed');

my @new = $t->worker_pids();
my %old = map { $_ => 1 } @old;

is(scalar grep({ !$old{$_} } @new), 4, 'reload: four new workers');

my $rules = rules();

is($rules->{Keep}{state}, 'firing', 'reload: still firing');
is($rules->{Keep}{since}, $keep->{since}, 'reload: firing since the same time');
is_deeply($rules->{Keep}{transitions}, $keep->{transitions},
    'reload: the same transitions');
is($rules->{Change}{since}, $change->{since},
    'reload: an unchanged rule keeps its state');

ok(defined $rules->{Keep}{evaluated_at}
    && $rules->{Keep}{evaluated_at} > $keep->{evaluated_at},
    'reload: evaluated by the new workers');

# a reload that changes one rule's expression: that rule starts over, the
# other keeps its state, also with a new rule put before it

my $size = length $t->read_file('logs/error.log');

write_conf('rps < 3', added => 'Added "count(5xx) > 0" window=2s');

my $reloaded = time();

($n, $took) = growth(6, sub { $slow = reload_held() });

ok($n >= $took - 3 && $n <= $took + 2,
    'reload with a changed rule: one evaluation per second')
    or diag("$n evaluations in $took s");

my $log = substr($t->read_file('logs/error.log'), $size);

like($log, qr/\[notice\].*alert rule "Change" changed, its state starts over/,
    'changed rule: logged');
unlike($log, qr/alert rule "Keep" changed/, 'unchanged rule: not logged');

$rules = rules();

is($rules->{Keep}{since}, $keep->{since}, 'unchanged rule: same since');
is_deeply($rules->{Keep}{transitions}, $keep->{transitions},
    'unchanged rule: same transitions');
is($rules->{Added}{state}, 'inactive', 'new rule: inactive');
is_deeply($rules->{Added}{transitions}, [], 'new rule: no transitions');

my $changed = firing('Change');

is($changed->{expr}, 'rps < 3', 'changed rule: the new expression');
is($changed->{state}, 'firing', 'changed rule: firing again');
ok(($changed->{since} // 0) >= $reloaded - 0.01,
    'changed rule: firing since after the reload')
    or diag(explain [ $change, $changed ]);
is(join(' ', map { $_->{state} } @{$changed->{transitions} // []}),
    'firing', 'changed rule: its transitions start over');

###############################################################################

# a reload that fails once the zones are set up (a port in use), with
# other rules: the old workers go on serving, and evaluating their rules

my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
    LocalPort => port(8081), Proto => 'tcp', Listen => 5, ReuseAddr => 1)
    or die "listen: $!\n";

write_conf('rps < 4', listen => '127.0.0.1:' . port(8081));

like($t->reload(expect_fail => 1) // 'reloaded', qr/bind\(\) .* failed/,
    'reload failed on a busy port');

($n, $took) = growth(4);
$rules = rules();

ok($n >= $took - 2 && $n <= $took + 2,
    'failed reload: one evaluation per second')
    or diag("$n evaluations in $took s");
is($rules->{Keep}{state}, 'firing', 'failed reload: still firing');
is($rules->{Keep}{since}, $keep->{since},
    'failed reload: firing since the same time');
is(join(' ', map { "$_=" . ($rules->{$_}{expr} // 'none') }
    qw(Added Keep Change)), 'Added=count(5xx) > 0 Keep=rps < 1 Change=rps < 3',
    'failed reload: the running rules');
is($rules->{Change}{since}, $changed->{since},
    'failed reload: a rule it would have changed keeps its state');

close $busy;

write_conf('rps < 3', added => 'Added "count(5xx) > 0" window=2s');
$t->reload();

($n, $took) = growth(4);

ok($n >= $took - 3 && $n <= $took + 2,
    'next reload: one evaluation per second')
    or diag("$n evaluations in $took s");
is(firing('Keep')->{since}, $keep->{since},
    'next reload: firing since the same time');
is(rules()->{Change}{since}, $changed->{since},
    'next reload: the changed rule keeps its new state');

###############################################################################

# SIGKILL each worker in turn: one of them held the lease; evaluations
# go on within about three intervals each time, at the same pace after

my @killed;

for my $victim ($t->worker_pids()) {
    my $e = evaluations() // 0;

    ok(kill('KILL', $victim), "SIGKILL worker $victim");
    push @killed, $victim;

    my $killed = time();

    is(scalar $t->wait_workers(old => \@killed, timeout => 10), 4,
        'worker respawned');

    ok(poll(sub { (evaluations() // 0) >= $e + 2 }, timeout => 10),
        'evaluations go on');

    my $gap = time() - $killed;

    ok($gap < 3 * 1 + 3, 'evaluations go on within about three intervals')
        or diag("after $gap s");
}

($n, $took) = growth(6);

ok($n >= $took - 2 && $n <= $took + 2,
    'after the kills: one evaluation per second')
    or diag("$n evaluations in $took s");

$rules = rules();

is($rules->{Keep}{state}, 'firing', 'after the kills: still firing');
is($rules->{Keep}{since}, $keep->{since},
    'after the kills: firing since the same time');

(undef, my $body) = metrics(port(8080));
my $m = parse_metrics($body);

is(metric_value($m, 'nginx_worker_restarts_total', { zone => 'main' }),
    scalar @killed, 'restarts counted');

###############################################################################

$t->done_testing();

###############################################################################
