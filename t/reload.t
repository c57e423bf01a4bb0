#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: counters survive reloads of the
# same configuration; a zone whose size changed starts fresh and says so.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Test::More;
use Test::Monitoring;

###############################################################################

my $t = Test::Monitoring->new();

# the failed reload below

$t->allow_log(qr/bind\(\) to 127\.0\.0\.1:\d+ failed|still could not bind/);

my $conf = <<'EOF';

%%TEST_GLOBALS%%

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  %%MAIN_SIZE%%;
    monitoring_zone  keep  1m;

    server {
        listen       127.0.0.1:%%PORT_8080%% reuseport;
        %%EXTRA_LISTEN%%
        server_name  main.test;

        monitoring main;

        location / {
            %%BUCKETS%%
            return 200 "ok\n";
        }

        location /metrics {
            monitoring off;
            monitoring_metrics;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%% reuseport;
        server_name  keep.test;

        monitoring keep;

        location / {
            return 200 "ok\n";
        }
    }
}

EOF

sub write_conf {
    my ($size, $buckets, $listen) = @_;
    (my $c = $conf) =~ s/%%MAIN_SIZE%%/$size/;
    $c =~ s/%%BUCKETS%%/$buckets ? "monitoring_buckets $buckets;" : ''/e;
    $c =~ s/%%EXTRA_LISTEN%%/$listen ? "listen $listen;" : ''/e;
    $t->write_file_expand('nginx.conf', $c);
}

write_conf('1m');

$t->run();

###############################################################################

my $A = 0;
my $B = 0;

sub send_traffic {
    my ($n, $name) = @_;

    my $r = http_pipeline([ ('/a') x $n ], batch => 100);
    is($r->{200}, $n, "$name: $n requests to main");
    $A += $r->{200} // 0;

    $r = http_pipeline([ ('/b') x $n ], port => port(8081), batch => 100);
    is($r->{200}, $n, "$name: $n requests to keep");
    $B += $r->{200} // 0;
}

sub settled {
    my ($a, $b) = @_;

    my $m;

    poll(sub {
        my (undef, $body) = metrics(port(8080));
        $m = parse_metrics($body);
        return metric_sum($m, 'nginx_http_requests_total',
                { zone => 'main', endpoint => '/a' }) == $a
            && metric_sum($m, 'nginx_http_requests_total',
                { zone => 'keep', endpoint => '/b' }) == $b;
    }, timeout => 5);

    return $m;
}

send_traffic(500, 'before reload');

my $m = settled($A, $B);

my %start = map {
    $_ => metric_value($m, 'nginx_start_time_seconds', { zone => $_ })
} qw(main keep);

ok(defined $start{main} && defined $start{keep}, 'start times');

my @workers = $t->worker_pids();

for my $n (1, 2) {
    sleep 1;

    $t->reload();

    my @new = $t->worker_pids();
    ok(!(grep { my $w = $_; grep { $_ == $w } @workers } @new),
        "reload $n: new workers");
    @workers = @new;

    send_traffic(300, "after reload $n");
}

$m = settled($A, $B);

is(metric_sum($m, 'nginx_http_requests_total',
    { zone => 'main', endpoint => '/a', method => 'GET', status => '200' }),
    $A, 'main: counts survived two reloads');
is(metric_sum($m, 'nginx_http_requests_total',
    { zone => 'keep', endpoint => '/b', method => 'GET', status => '200' }),
    $B, 'keep: counts survived two reloads');
is(metric_sum($m, 'nginx_http_request_duration_seconds_count',
    { zone => 'main', endpoint => '/a' }), $A,
    'main: histogram survived two reloads');

for my $z (qw(main keep)) {
    is(metric_value($m, 'nginx_start_time_seconds', { zone => $z }),
        $start{$z}, "$z: start time unchanged");
    is(metric_value($m, 'nginx_worker_restarts_total', { zone => $z }), 0,
        "$z: reloads are not worker restarts");
}

is(metric_sum($m, 'nginx_worker_requests_total', { zone => 'main' }), $A,
    'main: worker requests survived');
is(join("\n", histogram_errors($m, totals => 1)), '',
    'histograms consistent after reloads');

my ($ok, $out) = promtool_check(
    (metrics(port(8080)))[1]);
ok($ok, 'promtool check metrics after reloads') or diag($out);

###############################################################################

# a reload that fails once the zones are set up (a port already in use,
# and main resized): the old workers go on counting into the old zones

my $busy = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1',
    LocalPort => port(8089),
    Proto => 'tcp',
    Listen => 5,
    ReuseAddr => 1,
) or die "listen: $!\n";

write_conf('3m', undef, '127.0.0.1:' . port(8089));

my $emerg = $t->reload(expect_fail => 1);
like($emerg // 'reloaded', qr/bind\(\) to 127\.0\.0\.1:\d+ failed/,
    'reload failed on a busy port');
is(join(',', sort $t->worker_pids()), join(',', sort @workers),
    'old workers go on');

close $busy;
write_conf('1m');

send_traffic(100, 'after a failed reload');

$m = settled($A, $B);

is(metric_sum($m, 'nginx_http_requests_total',
    { zone => 'main', endpoint => '/a' }), $A,
    'main: counts go on after a failed reload');
is(metric_value($m, 'nginx_start_time_seconds', { zone => 'main' }),
    $start{main}, 'main: start time unchanged after a failed reload');
is(metric_value($m, 'nginx_monitoring_zone_bytes',
    { zone => 'main', state => 'size' }), 1048576,
    'main: size unchanged after a failed reload');

sleep 1;

$t->reload();

send_traffic(100, 'after a reload that follows a failed one');

$m = settled($A, $B);

is(metric_sum($m, 'nginx_http_requests_total',
    { zone => 'main', endpoint => '/a' }), $A,
    'main: counts kept by the next reload');
is(metric_sum($m, 'nginx_http_requests_total',
    { zone => 'keep', endpoint => '/b' }), $B,
    'keep: counts kept by the next reload');
is(metric_value($m, 'nginx_start_time_seconds', { zone => 'main' }),
    $start{main}, 'main: start time unchanged by the next reload');

for my $z (qw(main keep)) {
    is(metric_value($m, 'nginx_worker_restarts_total', { zone => $z }), 0,
        "$z: no worker restarts after a failed reload");
}

###############################################################################

# other buckets for the same series: histograms stay consistent

my $logged = length $t->read_file('logs/error.log');

write_conf('1m', '50ms 500ms');
$t->reload();

like(substr($t->read_file('logs/error.log'), $logged),
    qr/zone "main": new bucket list; the \d+ series recorded so far keep/,
    'bucket change said in the log');

send_traffic(200, 'after reload with other buckets');

$m = settled($A, $B);

is(metric_sum($m, 'nginx_http_requests_total',
    { zone => 'main', endpoint => '/a' }), $A,
    'main: counts survived a bucket change');
is(metric_sum($m, 'nginx_http_request_duration_seconds_count',
    { zone => 'main', endpoint => '/a' }), $A,
    'main: histogram count after a bucket change');
is(join("\n", histogram_errors($m, totals => 1)), '',
    'histograms consistent after a bucket change');

($ok, $out) = promtool_check((metrics(port(8080)))[1]);
ok($ok, 'promtool check metrics after a bucket change') or diag($out);

###############################################################################

# a new size for main: main starts fresh, keep goes on

my $before = length $t->read_file('logs/error.log');

write_conf('2m');
$t->reload();

my $log = substr($t->read_file('logs/error.log'), $before);
like($log, qr/\[notice\].*size changed/, 'size change logged');
like($log, qr/\[notice\].*"main".*size changed|size changed.*"main"/,
    'size change names the zone');
unlike($log, qr/"keep".*size changed|size changed.*"keep"/,
    'keep zone not reported as changed');

(undef, my $body) = metrics(port(8080));
$m = parse_metrics($body);

is(metric_sum($m, 'nginx_http_requests_total', { zone => 'main' }), 0,
    'main: fresh after resize');
is(metric_value($m, 'nginx_monitoring_zone_bytes',
    { zone => 'main', state => 'size' }), 2097152, 'main: new size');
is(metric_sum($m, 'nginx_http_requests_total', { zone => 'keep' }), $B,
    'keep: counts survived the other zone\'s resize');
is(metric_value($m, 'nginx_start_time_seconds', { zone => 'keep' }),
    $start{keep}, 'keep: start time unchanged');

my $r = http_pipeline([ ('/a') x 7 ]);
is($r->{200}, 7, '7 requests to the resized zone');

$m = settled(7, $B);

is(metric_sum($m, 'nginx_http_requests_total', { zone => 'main' }), 7,
    'main: counts after resize');
is(metric_sum($m, 'nginx_worker_requests_total', { zone => 'main' }), 7,
    'main: worker requests after resize');

###############################################################################

$t->done_testing();

###############################################################################
