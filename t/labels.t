#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: custom labels from monitoring_label,
# their values from map, request and response headers, their inheritance,
# hostile values and the checks of their names.

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

    monitoring_zone  main  1m;
    monitoring       main;

    map $http_x_tenant $tenant {
        default  other;
        acme     acme;
        globex   globex;
    }

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  labels;

        monitoring_label  tenant   $tenant;
        monitoring_label  app      $http_x_app;

        location / {
            return 200 "ok\n";
        }

        location /feature {
            monitoring_label  feature  $sent_http_x_feature;
            add_header X-Feature $arg_f;
            return 200 "ok\n";
        }

        location /order/a {
            monitoring_label  zz  one;
            monitoring_label  aa  two;
            monitoring_endpoint /order;
            return 200 "ok\n";
        }

        location /order/b {
            monitoring_label  aa  two;
            monitoring_label  zz  one;
            monitoring_endpoint /order;
            return 200 "ok\n";
        }

        location /raw/ {
            monitoring_label  app   $http_x_app;
            monitoring_label  path  $uri;
            return 200 "ok\n";
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%%;
        server_name  metrics;

        monitoring off;

        location /metrics {
            monitoring_metrics;

            if ($arg_x) {
                set $dummy 1;
            }
        }
    }
}

EOF

$t->run();

###############################################################################

sub get {
    my ($path, @headers) = @_;
    return http_get($path, headers => \@headers);
}

get('/', 'X-Tenant: acme', 'X-App: shop') for 1 .. 3;
get('/', 'X-Tenant: globex', 'X-App: shop') for 1 .. 2;
get('/', 'X-Tenant: initech') for 1 .. 4;
get('/feature?f=beta') for 1 .. 2;
get('/feature?f=new') for 1 .. 1;
get('/order/a');
get('/order/b');

# hostile values: quotes, backslashes, newlines, invalid UTF-8, long

get('/raw/%22q%22%5Cb%0Ac', 'X-App: "x\\y"');
get('/raw/%FF%FEz', "X-App: \xff\xfe\"");
get('/raw/' . ('v' x 400), 'X-App: ' . ('a' x 400));

my ($m, $body);

poll(sub {
    (undef, $body) = metrics(port(8081));
    $m = parse_metrics($body);
    return metric_sum($m, 'nginx_http_requests_total', { server => 'labels' })
        == 17;
});

is(metric_sum($m, 'nginx_http_requests_total', { server => 'labels' }), 17,
    'all requests counted');

my @order = metric_find($m, 'nginx_http_requests_total',
    { endpoint => '/order' });
is(scalar @order, 1, 'labels in another order: the same series');
is($order[0] && $order[0]{value}, 2, 'labels in another order: both counted');
like($order[0] && $order[0]{line}, qr/,aa="two",zz="one",/,
    'custom labels sorted by name');

# an "if" block in the metrics location runs the same handler

my (undef, $ifbody) = metrics(port(8081), path => '/metrics?x=1');
like($ifbody, qr/^nginx_up 1$/m, 'metrics location with an if block');

is(metric_sum($m, 'nginx_http_requests_total',
    { tenant => 'acme', app => 'shop', endpoint => '/' }), 3,
    'labels from map and request header');
is(metric_sum($m, 'nginx_http_requests_total',
    { tenant => 'globex', app => 'shop' }), 2, 'map value globex');
is(metric_sum($m, 'nginx_http_requests_total',
    { tenant => 'other', endpoint => '/' }), 4, 'map default');

is(metric_sum($m, 'nginx_http_requests_total', { feature => 'beta' }), 2,
    'label from a response header');
is(metric_sum($m, 'nginx_http_requests_total', { feature => 'new' }), 1,
    'response header, other value');

# a location with its own labels inherits none from the server

my @f = metric_find($m, 'nginx_http_requests_total', { feature => 'beta' });
ok(@f && !exists $f[0]{labels}{tenant}, 'location labels replace server ones');

# the labels are on every family of the series

for my $family (qw(nginx_http_request_duration_seconds_count
                   nginx_http_request_duration_seconds_sum
                   nginx_http_request_size_bytes_total
                   nginx_http_response_size_bytes_total
                   nginx_http_slow_requests_total))
{
    my @s = metric_find($m, $family, { tenant => 'acme', app => 'shop' });
    is(scalar @s, 1, "$family has the labels");
}

is(metric_sum($m, 'nginx_http_request_duration_seconds_bucket',
    { tenant => 'acme', app => 'shop', le => '+Inf' }), 3,
    'histogram bucket with labels');

# hostile values

my @raw = metric_find($m, 'nginx_http_requests_total',
    { server => 'labels', endpoint => qr{^/raw/} });
is(scalar @raw, 3, 'three hostile series');

ok((grep { $_->{labels}{path} eq "/raw/\"q\"\\b\nc"
           && $_->{labels}{app} eq "\"x\\y\"" } @raw),
    'quotes, backslash and newline kept and escaped');

ok((grep { $_->{labels}{app} eq "\xef\xbf\xbd\xef\xbf\xbd\"" } @raw),
    'invalid UTF-8 in a header replaced');

my ($long) = grep { $_->{labels}{endpoint} =~ /^\/raw\/v+$/ } @raw;
ok($long && length($long->{labels}{app}) == 128, 'label value cut to 128')
    or diag(explain $long);
ok($long && length($long->{labels}{path}) == 128, 'variable value cut');

ok(!utf8_invalid($body), 'exposition is valid UTF-8');

my ($ok, $out) = promtool_check($body);
ok($ok, 'promtool check metrics with hostile label values') or diag($out);

$t->stop();

###############################################################################

sub utf8_invalid {
    my ($bytes) = @_;
    my $copy = $bytes;
    return !utf8::decode($copy);
}

# label names are checked at nginx -t


like($t->config_error('monitoring_label 1app $host;'),
    qr/invalid label name "1app" in "monitoring_label" directive/,
    'label name starting with a digit');
like($t->config_error('monitoring_label a-b $host;'),
    qr/invalid label name "a-b" in "monitoring_label" directive/,
    'label name with a dash');
like($t->config_error('monitoring_label __x $host;'),
    qr/invalid label name "__x" in "monitoring_label" directive/,
    'reserved prefix');
like($t->config_error('monitoring_label endpoint $host;'),
    qr/reserved label name "endpoint" in "monitoring_label" directive/,
    'built-in label name');
like($t->config_error('monitoring_label zone $host;'),
    qr/reserved label name "zone" in "monitoring_label" directive/,
    'zone label name');
like($t->config_error('monitoring_label app $host; monitoring_label app $uri;'),
    qr/duplicate label "app" in "monitoring_label" directive/,
    'duplicate label');
like($t->config_error('monitoring_label app $nosuchvariable;'),
    qr/unknown "nosuchvariable" variable/, 'unknown variable');
is($t->config_error('monitoring_label app_2 "$host-$uri";'), undef,
    'good label passes');

done_testing();

###############################################################################
