#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: upstream metrics, one sample per
# attempt at a peer, with the upstream block, the peer and its status.

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

# a port nothing listens on

my $closed = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Proto => 'tcp', Listen => 1) or die "no closed port: $!";
my $closed_port = $closed->sockport();
close $closed;

$t->write_file_expand('nginx.conf', <<"EOF");

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m;

    upstream backend {
        server 127.0.0.1:%%PORT_8082%%;
    }

    upstream pair {
        server 127.0.0.1:$closed_port;
        server 127.0.0.1:%%PORT_8082%%;
    }

    upstream dead {
        server 127.0.0.1:$closed_port;
    }

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  front;

        monitoring main;
        monitoring_label  cache  \$upstream_cache_status;
        monitoring_label  app    front;

        location /ok {
            proxy_pass http://backend;
        }

        location /err {
            proxy_pass http://backend;
        }

        location /dead {
            proxy_pass http://dead;
        }

        location /pair {
            proxy_pass http://pair;
            proxy_next_upstream error;
        }

        location /implicit {
            proxy_pass http://127.0.0.1:%%PORT_8082%%/ok;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8082%%;
        server_name  back;

        location /ok {
            return 200 "ok\\n";
        }

        location /err {
            return 503;
        }

        location /pair {
            return 200 "pair\\n";
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%%;
        server_name  metrics;

        location /metrics {
            monitoring_metrics;
        }
    }
}

EOF

$t->run();

###############################################################################

like(http_get('/ok'), qr{^HTTP/1.1 200}, 'proxied 200') for 1 .. 3;
like(http_get('/err'), qr{^HTTP/1.1 503}, 'proxied 503') for 1 .. 2;
like(http_get('/dead'), qr{^HTTP/1.1 502}, 'closed port: 502');
like(http_get('/implicit'), qr{^HTTP/1.1 200}, 'implicit upstream');

# round robin over the pair: each request tries the closed peer first or
# second; a request that meets it first retries on the other

my $pair = 4;
like(http_get('/pair'), qr{^HTTP/1.1 200}, 'pair: 200') for 1 .. $pair;

my ($m, $body);

poll(sub {
    (undef, $body) = metrics(port(8081));
    $m = parse_metrics($body);
    return metric_sum($m, 'nginx_http_requests_total',
        { server => 'front' }) == 7 + $pair;
});

is(metric_sum($m, 'nginx_http_requests_total', { server => 'front' }),
    7 + $pair, 'front requests');

my $U = 'nginx_http_upstream_requests_total';
my $back = "127.0.0.1:" . port(8082);
my $dead = "127.0.0.1:$closed_port";

is(metric_sum($m, $U, { upstream => 'backend', peer => $back,
    status => '200' }), 3, 'backend 200');
is(metric_sum($m, $U, { upstream => 'backend', peer => $back,
    status => '503' }), 2, 'backend 503');

is(metric_sum($m, $U, { upstream => 'dead', peer => $dead,
    status => '502' }), 1, 'closed port: upstream status 502 recorded');
is(metric_sum($m, 'nginx_http_requests_total',
    { server => 'front', endpoint => '/dead', status => '502' }), 1,
    'closed port: request counted as 502');

is(metric_sum($m, $U, { upstream => '127.0.0.1', peer => $back,
    status => '200' }), 1, 'implicit upstream named by its host');

my $ok = metric_sum($m, $U, { upstream => 'pair', peer => $back,
    status => '200' });
my $failed = metric_sum($m, $U, { upstream => 'pair', peer => $dead,
    status => '502' });

is($ok, $pair, 'pair: every request served by the good peer');
cmp_ok($failed, '>=', 1, 'pair: attempts at the closed peer counted');
is(metric_sum($m, $U, { upstream => 'pair' }), $ok + $failed,
    'pair: both attempts of a retried request counted');
is(metric_sum($m, 'nginx_http_requests_total',
    { server => 'front', endpoint => '/pair' }), $pair,
    'pair: one request each');

# histograms

my $H = 'nginx_http_upstream_response_duration_seconds';

is(metric_sum($m, "${H}_count", { upstream => 'backend' }), 5,
    'upstream histogram count');
is(metric_sum($m, "${H}_bucket", { upstream => 'backend', le => '+Inf' }),
    5, 'upstream histogram +Inf');

my @errors = histogram_errors($m, name => $H);
ok(!@errors, 'upstream histograms are well formed') or diag(join "\n", @errors);

# the custom labels go on upstream samples too

my @s = metric_find($m, $U, { upstream => 'backend' });
ok(@s && ($s[0]{labels}{app} // '') eq 'front',
    'custom label on upstream samples');

# no cache here: an empty value is no label, as Prometheus sees it

ok(@s && !exists $s[0]{labels}{cache}, 'empty label left out');

my ($pok, $out) = promtool_check($body);
ok($pok, 'promtool check metrics') or diag($out);

$t->done_testing();

###############################################################################
