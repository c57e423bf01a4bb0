#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: what is recorded where. Inheritance
# of monitoring, monitoring_endpoint and monitoring_buckets through http,
# server and location; the server label; monitoring_metrics with zones;
# the handler's methods.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Monitoring;

###############################################################################

my $t = Test::Monitoring->new();

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main   1m;
    monitoring_zone  other  1m;

    monitoring main;
    monitoring_buckets 1s 2s;

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  first.test  second.test;

        location / {
            return 200 "ok\n";
        }

        location /off {
            monitoring off;
            return 200 "ok\n";
        }

        location /other {
            monitoring other;
            return 200 "ok\n";
        }

        location /named {
            monitoring_endpoint "named:$request_method";
            return 200 "ok\n";
        }

        location /protected {
            auth_request /auth;
            return 200 "ok\n";
        }

        location /logged {
            log_subrequest on;
            auth_request /auth;
            return 200 "ok\n";
        }

        location = /auth {
            internal;
            return 204;
        }

        location /missing {
            error_page 404 = /fallback;
            return 404;
        }

        location /fallback {
            return 200 "fallback\n";
        }

        location /metrics {
            monitoring off;
            monitoring_metrics;
        }

        location /metrics-other {
            monitoring off;
            monitoring_metrics other;
        }

        location /metrics-both {
            monitoring off;
            monitoring_metrics main other;
        }

        location /metrics-recorded {
            monitoring_metrics;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%%;

        monitoring other;
        monitoring_endpoint "srv:$uri";
        monitoring_buckets 10ms;

        location / {
            return 200 "ok\n";
        }

        location /inner {
            monitoring_endpoint $uri;
            return 404;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8082%%;
        server_name  "";

        monitoring off;

        location / {
            return 200 "ok\n";
        }

        location /on {
            monitoring main;
            return 200 "ok\n";
        }
    }
}

EOF

$t->run();

###############################################################################

sub get {
    my ($path, %opts) = @_;
    return http_status(http_get($path, %opts)) // 'none';
}

is(get('/a'), 200, 'GET /a');
is(get('/a', host => 'second.test'), 200, 'GET /a, second name');
is(get('/a', host => 'unknown.test'), 200, 'GET /a, unknown name');
is(get('/off'), 200, 'GET /off');
is(get('/other'), 200, 'GET /other');
is(get('/named'), 200, 'GET /named');
is(get('/named', method => 'HEAD'), 200, 'HEAD /named');
is(get('/x', port => port(8081)), 200, 'GET /x, second server');
is(get('/inner', port => port(8081)), 404, 'GET /inner, second server');
is(get('/', port => port(8082)), 200, 'GET /, third server');
is(get('/on', port => port(8082)), 200, 'GET /on, third server');
is(get('/protected'), 200, 'GET /protected, with a subrequest');
is(get('/logged'), 200, 'GET /logged, with a logged subrequest');
is(get('/missing'), 200, 'GET /missing, redirected');

my $m;

poll(sub {
    my (undef, $body) = metrics(port(8080));
    $m = parse_metrics($body);
    return metric_sum($m, 'nginx_http_requests_total', {}) == 12;
}, timeout => 5);

sub count {
    my (%labels) = @_;
    return metric_sum($m, 'nginx_http_requests_total', \%labels);
}

is(count(), 12, "twelve requests recorded");

is(count(zone => 'main', server => 'first.test', endpoint => '/a',
    method => 'GET', status => '200'), 3,
    'server label is the first server_name, whatever the Host');
is(count(endpoint => '/off'), 0, 'monitoring off in a location');
is(count(zone => 'other', server => 'first.test', endpoint => '/other'), 1,
    'location records into another zone');
is(count(zone => 'main', endpoint => '/other'), 0,
    'and not into the inherited one');
is(count(zone => 'main', endpoint => 'named:GET'), 1,
    'monitoring_endpoint with a variable');
is(count(zone => 'main', endpoint => 'named:HEAD', method => 'HEAD'), 1,
    'monitoring_endpoint with a variable, HEAD');

is(count(zone => 'other', server => '_', endpoint => 'srv:/x',
    status => '200'), 1, 'no server_name: server "_", endpoint from server');
is(count(zone => 'other', server => '_', endpoint => '/inner',
    status => '404'), 1, 'location overrides the endpoint');

is(count(server => '_', endpoint => '/'), 0, 'monitoring off in a server');
is(count(zone => 'main', server => '_', endpoint => '/on'), 1,
    'server_name "": server "_", location turns monitoring on');

is(count(endpoint => qr/^\/metrics/), 0, 'metrics requests not recorded');

is(count(zone => 'main', endpoint => '/protected', status => '200'), 1,
    'request with a subrequest recorded once');
is(count(zone => 'main', endpoint => '/logged', status => '200'), 1,
    'request with a subrequest recorded once, log_subrequest on');
is(count(endpoint => '/auth'), 0, 'subrequest not recorded');
is(count(endpoint => qr{^/(?:missing|fallback)$}), 1,
    'redirected request recorded once');
is(count(endpoint => qr{^/(?:missing|fallback)$}, status => '200'), 1,
    'redirected request recorded with its final status');

# buckets: http level, overridden in a server, inherited by its location

sub les {
    my (%labels) = @_;
    return join ' ', map { $_->{labels}{le} eq '+Inf' ? '+Inf'
        : 0 + $_->{labels}{le} }
        metric_find($m, 'nginx_http_request_duration_seconds_bucket',
            \%labels);
}

is(les(endpoint => '/a'), '1 2 +Inf', 'buckets from http');
is(les(endpoint => 'srv:/x'), '0.01 +Inf', 'buckets from server');
is(les(endpoint => '/inner'), '0.01 +Inf', 'buckets inherited by location');

###############################################################################

# monitoring_metrics with zones

sub zones {
    my ($path) = @_;

    my ($h, $body) = metrics(port(8080), path => $path);
    my $mm = parse_metrics($body);
    my %z = map { $_->{labels}{zone} => 1 }
        grep { defined $_->{labels}{zone} } @$mm;

    my ($ok, $out) = promtool_check($body);
    ok($ok, "$path: promtool check metrics") or diag($out);
    is(metric_value($mm, 'nginx_up', {}), 1, "$path: nginx_up");

    return join ',', sort keys %z;
}

is(zones('/metrics'), 'main,other', 'all zones by default');
is(zones('/metrics-other'), 'other', 'one zone');
is(zones('/metrics-both'), 'main,other', 'two zones');

# the handler's own requests are recorded where monitoring is on

zones('/metrics-recorded');

is(poll(sub {
    my (undef, $body) = metrics(port(8080));
    metric_sum(parse_metrics($body), 'nginx_http_requests_total',
        { zone => 'main', endpoint => '/metrics-recorded' });
}), 1, 'metrics request recorded');

# methods

my $r = http_get('/metrics', method => 'HEAD');
is(http_status($r), 200, 'HEAD /metrics');
is(http_body($r), '', 'HEAD /metrics: no body');
like(http_header($r, 'Content-Type') // '', qr{^text/plain},
    'HEAD /metrics: content type');

is(http_status(http_get('/metrics', method => 'POST', body => 'x')), 405,
    'POST /metrics not allowed');

###############################################################################

$t->done_testing();

###############################################################################
