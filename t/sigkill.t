#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: workers killed with SIGKILL under
# load (four times, each slot twice) are respawned, no lock stays held,
# recording goes on exactly, and the restarts are counted.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use POSIX ();
use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep time);

###############################################################################

my $t = Test::Monitoring->new();

# the master reports each killed worker, and the lock it may have held

$t->allow_log(qr/exited on signal 9/,
    qr/shared memory zone "[^"]*" was locked by \d+/);

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  16m;

    server {
        listen       127.0.0.1:%%PORT_8080%% reuseport;
        server_name  localhost;

        monitoring main;

        location / {
            return 200 "ok\n";
        }

        location /metrics {
            monitoring off;
            monitoring_metrics;
        }
    }
}

EOF

$t->run();

###############################################################################

# load: ab on one endpoint, and a child creating new series all along

my $ab = $t->spawn([ 'ab', '-q', '-r', '-k', '-c', '4', '-t', '4',
    '-n', '10000000', '-s', '5',
    'http://127.0.0.1:' . port(8080) . '/load' ]);

my $creator = $t->spawn_sub(sub {
    my $deadline = time() + 4;
    my $i = 0;
    while (time() < $deadline && $i < 4000) {
        http_pipeline([ map { "/new/" . ($i + $_) } 1 .. 50 ],
            timeout => 5);
        $i += 50;
    }
});

sleep 0.5;

my @killed;

for my $n (1 .. 4) {
    my @w = $t->worker_pids();
    my $victim = $w[0];

    ok($victim && kill('KILL', $victim), "SIGKILL worker $n");
    push @killed, $victim;

    my @after = $t->wait_workers(old => \@killed, timeout => 10);
    is(scalar @after, 2, "worker $n respawned");

    sleep 0.5;
}

my ($status, $out) = $t->reap($ab, 20);
ok(defined $status, 'ab finished in time');
like($out, qr/Complete requests:\s+[1-9]/, 'ab got answers');

my ($cstatus) = $t->reap($creator, 10);
ok(defined $cstatus, 'series creator finished in time');

###############################################################################

# nginx serves, counts requests made now exactly, creates new series

like(http_get('/'), qr{^HTTP/1.1 200}, 'serving after kills');

my $fresh = "/fresh-" . int(time());
like(http_get($fresh, timeout => 5), qr{^HTTP/1.1 200},
    'new endpoint answered');

my $N = 500;
my $r = http_pipeline([ ('/exact') x $N ], parallel => 2, timeout => 30);
is($r->{200}, $N, "$N requests after the kills");

my $m;

poll(sub {
    my (undef, $body) = metrics(port(8080));
    $m = parse_metrics($body);
    return metric_sum($m, 'nginx_http_requests_total',
            { endpoint => '/exact' }) == $N
        && metric_sum($m, 'nginx_http_requests_total',
            { endpoint => $fresh }) == 1;
}, timeout => 5);

is(metric_sum($m, 'nginx_http_requests_total',
    { zone => 'main', endpoint => '/exact', method => 'GET',
        status => '200' }), $N, 'exact count after the kills');
is(metric_sum($m, 'nginx_http_request_duration_seconds_count',
    { zone => 'main', endpoint => '/exact' }), $N,
    'exact histogram count after the kills');
is(metric_sum($m, 'nginx_http_requests_total',
    { zone => 'main', endpoint => $fresh }), 1, 'new series created');

cmp_ok(metric_sum($m, 'nginx_http_requests_total', { endpoint => '/load' }),
    '>', 0, 'load recorded');
cmp_ok(scalar(grep { $_->{labels}{endpoint} =~ m{^/new/} }
    metric_find($m, 'nginx_http_requests_total')), '>', 0,
    'series created under load');

is(metric_value($m, 'nginx_worker_restarts_total', { zone => 'main' }),
    scalar @killed, 'worker restarts counted, one per kill');

is(join(',', sort map { $_->{labels}{worker} }
    metric_find($m, 'nginx_worker_requests_total', { zone => 'main' })),
    '0,1', 'worker labels unchanged by respawns');

my ($ok, $pout) = promtool_check((metrics(port(8080)))[1]);
ok($ok, 'promtool check metrics after kills') or diag($pout);

# a reload still works, and keeps what was counted

$t->reload();

(undef, my $body) = metrics(port(8080));
$m = parse_metrics($body);

is(metric_sum($m, 'nginx_http_requests_total', { endpoint => '/exact' }),
    $N, 'counts kept across a reload after kills');
is(metric_value($m, 'nginx_worker_restarts_total', { zone => 'main' }),
    scalar @killed, 'a reload is not counted as a restart');

###############################################################################

$t->done_testing();

###############################################################################
