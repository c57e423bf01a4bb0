#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: the accuracy of the window's
# percentiles in the JSON API, against the exact nearest-rank values
# computed from nginx's own $request_time in the access log, for a mix of
# latency plateaus with two workers.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use List::Util qw(shuffle sum);
use POSIX qw(ceil);
use Test::More;
use Test::Monitoring;
use Time::HiRes qw(time);

###############################################################################

my $t = Test::Monitoring->new(echo => 1);

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format  t  '$request_time';

    monitoring_zone  main  1m;

    server {
        listen       127.0.0.1:%%PORT_8080%% reuseport;
        server_name  localhost;

        monitoring main;
        access_log %%TESTDIR%%/logs/latency.log t;

        location /s5 {
            echo_sleep 0.005;
            echo ok;
        }

        location /s50 {
            echo_sleep 0.05;
            echo ok;
        }

        location /s200 {
            echo_sleep 0.2;
            echo ok;
        }

        location /s450 {
            echo_sleep 0.45;
            echo ok;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%%;
        server_name  dashboard;

        monitoring off;

        location /monitoring {
            monitoring_dashboard;
        }

        location /health {
            monitoring_health;
        }
    }
}

EOF

$t->run();

###############################################################################

# 200 requests: 60% at 5 ms, 30% at 50 ms, 7% at 200 ms, 3% at 450 ms;
# nearest rank: p50 is the 100th (5 ms: 1-120), p95 the 190th (200 ms:
# 181-194), p99 the 198th (450 ms: 195-200), none at a plateau's edge

my %mix = ('/s5' => 120, '/s50' => 60, '/s200' => 14, '/s450' => 6);
my $n = sum(values %mix);

srand(20261123);

my @paths = shuffle(map { ($_) x $mix{$_} } sort keys %mix);

my $t0 = time();
my $res = http_pipeline(\@paths, port => port(8080), parallel => 20,
    timeout => 30);
my $took = time() - $t0;

is($res->{total}, $n, "$n requests answered");
ok($took < 10, 'sent in parallel') or diag("took $took s");

# every request logged and recorded

my ($d, @ms);

poll(sub {
    my @lines = grep { /^\d+\.\d+$/ } split /\n/,
        $t->read_file('logs/latency.log');
    @ms = map { sprintf('%.0f', $_ * 1000) } @lines;

    $d = http_json('/monitoring/api', port => port(8081))->{data} // {};

    return @ms == $n && ($d->{window}{requests} // 0) == $n;
}, timeout => 10);

is(scalar @ms, $n, 'every request in the access log');
is($d->{window}{requests}, $n, 'every request in the window');

@ms = sort { $a <=> $b } @ms;

# the nearest-rank value: the ceil(q * N)-th smallest

sub exact {
    my ($q) = @_;
    my $rank = ceil($q * @ms - 1e-9);
    $rank = 1 if $rank < 1;
    return $ms[$rank - 1];
}

my %exact = map { $_ => exact($_ / 100) } (50, 90, 95, 99);

diag("exact: " . join(', ', map { "p$_=$exact{$_}" } sort keys %exact)
    . "; api: " . join(', ', map { "p$_=" . ($d->{window}{latency_ms}{"p$_"}
        // 'null') } sort keys %exact)) if $ENV{TEST_NGINX_VERBOSE};

# the test's own premise: each quantile inside its plateau

ok($exact{50} >= 5 && $exact{50} < 40, 'exact p50 in the 5 ms plateau')
    or diag("p50 $exact{50}");
ok($exact{95} >= 200 && $exact{95} < 400, 'exact p95 in the 200 ms plateau')
    or diag("p95 $exact{95}");
ok($exact{99} >= 450, 'exact p99 in the 450 ms plateau')
    or diag("p99 $exact{99}");

# within 2% or 1 ms of the exact value

my $l = $d->{window}{latency_ms} // {};

for my $q (50, 90, 95, 99) {
    my $want = $exact{$q};
    my $got = $l->{"p$q"};
    my $tol = $want * 0.02;
    $tol = 1 if $tol < 1;

    ok(defined $got && abs($got - $want) <= $tol,
        "p$q within max(2%, 1 ms) of the exact $want ms")
        or diag("p$q: api " . ($got // 'null') . ", exact $want");
}

my $mean = sum(@ms) / @ms;

ok(defined $l->{mean} && abs($l->{mean} - $mean) <= 0.01,
    'mean is the mean of the logged times')
    or diag("mean: api " . ($l->{mean} // 'null') . ", exact $mean");

# the health document reports the same p95

my $h = http_json('/health', port => port(8081))->{data} // {};
is($h->{p95_ms}, $l->{p95}, 'health: the same p95');
is($h->{status}, 'warning', 'health: p95 over 200 ms is a warning');

$t->done_testing();

###############################################################################
