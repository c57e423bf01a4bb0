#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: endpoint normalization, automatic
# collapse of identifier segments into {id} and monitoring_normalize rules.

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

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  auto;

        monitoring_normalize  "^/api/tasks/(\d+)/(raw|html)$"
                              "/api/tasks/{task}.$2";
        monitoring_normalize  "^/static/"  "/static/*";

        location / {
            return 200 "ok\n";
        }

        location /off/ {
            monitoring_normalize_auto off;
            return 200 "ok\n";
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%%;
        server_name  metrics;

        monitoring off;

        location /metrics {
            monitoring_metrics;
        }
    }
}

EOF

$t->run();

###############################################################################

my %cases = (
    '/users/1042/orders'                           => '/users/{id}/orders',
    '/users/7/orders'                              => '/users/{id}/orders',
    '/docs/0f8a1b2c-3d4e-5f60-7182-93a4b5c6d7e8'   => '/docs/{id}',
    '/docs/0F8A1B2C-3D4E-5F60-7182-93A4B5C6D7E8/v' => '/docs/{id}/v',
    '/blob/deadbeefcafe0123456789ab'               => '/blob/{id}',
    '/s/dGhpcyBpcyBhIHRva2VuIDEyMzQ1Njc4OQ'        => '/s/{id}',
    '/s/Ab3_-xYz0123456789abcd'                    => '/s/{id}',
    '/api/v2/items'                                => '/api/v2/items',
    '/api/v2/items/'                               => '/api/v2/items/',
    '/words/internationalization'                  => '/words/internationalization',
    '/hex/deadbeef'                                => '/hex/deadbeef',
    '/a/b.json'                                    => '/a/b.json',
    '/2024/report'                                 => '/{id}/report',
    '/api/tasks/55/raw'                            => '/api/tasks/{task}.raw',
    '/api/tasks/56/html'                           => '/api/tasks/{task}.html',
    '/api/tasks/abc/raw'                           => '/api/tasks/abc/raw',
    '/static/js/0123456789abcdef0123.js'           => '/static/*',
    '/off/12345'                                   => '/off/12345',
);

for my $path (sort keys %cases) {
    like(http_get($path), qr{^HTTP/1.1 200}, "GET $path");
}

my ($m, $body);

poll(sub {
    (undef, $body) = metrics(port(8081));
    $m = parse_metrics($body);
    return metric_sum($m, 'nginx_http_requests_total', { server => 'auto' })
        == keys %cases;
});

my %want;
$want{$_}++ for values %cases;

for my $ep (sort keys %want) {
    is(metric_sum($m, 'nginx_http_requests_total',
        { server => 'auto', endpoint => $ep }), $want{$ep},
        "endpoint $ep");
}

my %seen = map { $_->{labels}{endpoint} => 1 }
    metric_find($m, 'nginx_http_requests_total', { server => 'auto' });

is_deeply([ sort keys %seen ], [ sort keys %want ], 'no other endpoints');

my ($ok, $out) = promtool_check($body);
ok($ok, 'promtool check metrics') or diag($out);

# many distinct raw paths, a handful of series

my $N = 100000;

my @paths = map {
    ('/users/' . $_ . '/orders',
     '/docs/' . sprintf('%032x', $_),
     '/t/' . ('x' x 19) . $_,
     '/api/tasks/' . $_ . '/raw')[$_ % 4]
} 1 .. $N;

my $r = http_pipeline(\@paths, parallel => 4, batch => 200, timeout => 120);

is($r->{200}, $N, "$N distinct raw paths answered");

poll(sub {
    (undef, $body) = metrics(port(8081));
    $m = parse_metrics($body);
    return metric_sum($m, 'nginx_http_requests_total', { server => 'auto' })
        == $N + keys %cases;
}, timeout => 10);

is(metric_sum($m, 'nginx_http_requests_total', { server => 'auto' }),
    $N + keys %cases, 'every request counted');

%seen = map { $_->{labels}{endpoint} => 1 }
    metric_find($m, 'nginx_http_requests_total', { server => 'auto' });

is_deeply([ sort keys %seen ], [ sort keys %{{ %want, '/t/{id}' => 1 }} ],
    "$N raw paths made one new series");

is(metric_value($m, 'nginx_monitoring_series_dropped_total',
    { zone => 'main' }), 0, 'nothing dropped');

$t->stop();

###############################################################################

# a regex that does not compile fails nginx -t with PCRE's message


like($t->config_error('monitoring_normalize "^/api/(\\\\d+" "/api/$1";'),
    qr/invalid regex "\^\/api\/\(\\d\+" in "monitoring_normalize" directive: .*missing/,
    'bad regex: directive, pattern and PCRE error');

like($t->config_error('monitoring_normalize "^/api/(\\\\d+)$" "/api/$2";'),
    qr/invalid capture "\$2" in "monitoring_normalize" directive/,
    'reference to a missing capture');

like($t->config_error('monitoring_normalize_auto maybe;'),
    qr/invalid value "maybe" in "monitoring_normalize_auto" directive/,
    'bad flag');

done_testing();

###############################################################################
