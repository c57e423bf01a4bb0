#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: exact request counts with two
# workers, keepalive and not, pipelined, per endpoint, method and status.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep);

###############################################################################

my $t = Test::Monitoring->new(echo => 1);

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  4m;

    server {
        listen       127.0.0.1:%%PORT_8080%% reuseport;
        server_name  localhost;

        monitoring main;

        location /ok {
            return 200 "ok\n";
        }

        location /notfound {
            return 404;
        }

        location /error {
            return 500;
        }

        location /empty {
            return 204;
        }

        location /post {
            # the body is read, so that it is part of the request length
            echo_read_request_body;
            echo posted;
        }

        location /upstream {
            proxy_pass http://127.0.0.1:%%PORT_8090%%;
            proxy_read_timeout 10s;
        }

        location /metrics {
            monitoring_metrics;
        }
    }
}

EOF

# an upstream that never answers: clients give up, nginx logs 499

my $upstream = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1',
    LocalPort => port(8090),
    Proto => 'tcp',
    Listen => 64,
    ReuseAddr => 1,
) or die "upstream listen: $!\n";

$t->run();

###############################################################################

my $base = 'http://127.0.0.1:' . port(8080);

# expected{endpoint}{method}{status}

my %expected;

my %codes = ('/ok' => 200, '/notfound' => 404, '/error' => 500,
    '/empty' => 204);

# ab, with and without keepalive

for my $path (sort keys %codes) {
    for my $ka (1, 0) {
        my $n = $ka ? 600 : 300;
        my $r = $t->ab("$base$path", n => $n, c => 8, keepalive => $ka);
        my $name = "ab" . ($ka ? ' -k' : '') . " $path";

        is($r->{complete}, $n, "$name: complete requests")
            or diag($r->{output});
        is($r->{failed}, 0, "$name: no failed requests");
        is($r->{non2xx}, $codes{$path} =~ /^2/ ? 0 : $n,
            "$name: non-2xx responses");

        $expected{$path}{GET}{$codes{$path}} += $r->{complete} // 0;
    }
}

# pipelined, interleaved, over two connections at a time

{
    my @paths = map { (sort keys %codes)[$_ % 4] } 0 .. 3999;
    my $r = http_pipeline(\@paths, parallel => 2, batch => 100);

    is($r->{total}, 4000, 'pipelined: all answered');

    for my $path (keys %codes) {
        my $n = grep { $_ eq $path } @paths;
        is($r->{$codes{$path}} // 0, $n, "pipelined: $path status count");
        $expected{$path}{GET}{$codes{$path}} += $n;
    }
}

# other methods

my $body = 'x' x 2000;

sub send_n {
    my ($n, $path, %opts) = @_;

    my %st;
    $st{http_status(http_get($path, %opts)) // 'none'}++ for 1 .. $n;

    return join ',', map { "$_:$st{$_}" } sort keys %st;
}

is(send_n(20, '/post', method => 'POST', body => $body), '200:20',
    'POST with body');
$expected{'/post'}{POST}{200} += 20;

is(send_n(7, '/ok', method => 'HEAD'), '200:7', 'HEAD');
$expected{'/ok'}{HEAD}{200} += 7;

is(send_n(5, '/ok', method => 'PURGEX'), '200:5', 'unknown method');
$expected{'/ok'}{OTHER}{200} += 5;

# clients that close before the response: status 499

for (1 .. 3) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => port(8080), Proto => 'tcp', Timeout => 5)
        or next;
    print $s "GET /upstream HTTP/1.1\r\nHost: localhost\r\n\r\n";
    sleep 0.3;
    close $s;
}

$expected{'/upstream'}{GET}{499} += 3;

###############################################################################

# wait until the zone shows what was sent (the log phase may lag a little
# behind the responses), and until per worker and per series sums agree

my $m;

poll(sub {
    my (undef, $body) = metrics(port(8080));
    $m = parse_metrics($body);

    for my $path (keys %expected) {
        for my $method (keys %{$expected{$path}}) {
            for my $status (keys %{$expected{$path}{$method}}) {
                return 0 unless metric_sum($m, 'nginx_http_requests_total',
                    { zone => 'main', endpoint => $path, method => $method,
                        status => $status })
                    == $expected{$path}{$method}{$status};
            }
        }
    }

    return metric_sum($m, 'nginx_http_requests_total', { zone => 'main' })
        == metric_sum($m, 'nginx_worker_requests_total', { zone => 'main' });

}, timeout => 5);

for my $path (sort keys %expected) {
    for my $method (sort keys %{$expected{$path}}) {
        my $total = 0;

        for my $status (sort keys %{$expected{$path}{$method}}) {
            my $n = $expected{$path}{$method}{$status};
            $total += $n;

            is(metric_sum($m, 'nginx_http_requests_total',
                { zone => 'main', server => 'localhost', endpoint => $path,
                    method => $method, status => $status }),
                $n, "requests_total $method $path $status");
        }

        is(metric_sum($m, 'nginx_http_requests_total',
            { zone => 'main', endpoint => $path, method => $method }),
            $total, "requests_total $method $path: no other status");

        is(metric_sum($m, 'nginx_http_request_duration_seconds_count',
            { zone => 'main', endpoint => $path, method => $method }),
            $total, "duration_seconds_count $method $path");

        is(metric_sum($m, 'nginx_http_request_duration_seconds_bucket',
            { zone => 'main', endpoint => $path, method => $method,
                le => '+Inf' }),
            $total, "duration_seconds_bucket +Inf $method $path");
    }
}

# latency of the clients that waited 0.3s each

my $waited = metric_sum($m, 'nginx_http_request_duration_seconds_sum',
    { zone => 'main', endpoint => '/upstream' });
ok($waited >= 0.85 && $waited < 5, 'duration sum of 499 requests')
    or diag($waited);

# nothing else was requested but /metrics

my @other = grep { $_->{labels}{endpoint} !~ m{^/(?:ok|notfound|error|empty
    |post|upstream|metrics)$}x } metric_find($m, 'nginx_http_requests_total');

is(scalar @other, 0, 'no unexpected series')
    or diag(join "\n", map { $_->{line} } @other);

# method label: only known methods or OTHER

my %methods = map { $_->{labels}{method} => 1 }
    metric_find($m, 'nginx_http_requests_total');

is(join(',', sort keys %methods), 'GET,HEAD,OTHER,POST', 'method labels');

# per worker

my @w = metric_find($m, 'nginx_worker_requests_total', { zone => 'main' });

is(join(',', sort map { $_->{labels}{worker} } @w), '0,1',
    'worker labels 0 and 1');
ok((grep { $_->{value} > 0 } @w) == 2, 'both workers served requests');

is(metric_sum($m, 'nginx_worker_requests_total', { zone => 'main' }),
    metric_sum($m, 'nginx_http_requests_total', { zone => 'main' }),
    'sum of worker requests equals sum of requests');

# sizes

cmp_ok(metric_sum($m, 'nginx_http_request_size_bytes_total',
    { zone => 'main', endpoint => '/post', method => 'POST' }),
    '>', 20 * length($body), 'request bytes include the bodies');

cmp_ok(metric_sum($m, 'nginx_http_response_size_bytes_total',
    { zone => 'main', endpoint => '/post', method => 'POST' }),
    '>', 20 * length("posted\n"), 'response bytes include the bodies');

cmp_ok(metric_sum($m, 'nginx_http_request_size_bytes_total',
    { zone => 'main', endpoint => '/ok', method => 'GET' }),
    '>=', $expected{'/ok'}{GET}{200} * length("GET /ok HTTP/1.0\r\n\r\n"),
    'request bytes of GET /ok');

cmp_ok(metric_sum($m, 'nginx_http_response_size_bytes_total',
    { zone => 'main', endpoint => '/ok', method => 'GET' }),
    '>=', $expected{'/ok'}{GET}{200} * length("HTTP/1.1 200 OK\r\n\r\nok\n"),
    'response bytes of GET /ok');

###############################################################################

$t->done_testing();

###############################################################################
