#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: a real Prometheus server scrapes
# /metrics (it negotiates OpenMetrics) after hostile requests, and its
# query API gives back the exact counts.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Monitoring;

###############################################################################

my $t = Test::Monitoring->new();

plan(skip_all => 'no prometheus binary') unless $t->has_prometheus();

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    # raw $uri endpoints: this file is about them, not normalization
    monitoring_normalize_auto  off;

    monitoring_zone  main  1m;

    log_format scrapes "$status|$http_accept|$sent_http_content_type";

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  localhost;

        monitoring main;

        location / {
            return 200 "ok\n";
        }

        location /lbl {
            monitoring_label  app  $http_x_app;
            return 200 "ok\n";
        }

        location /metrics {
            access_log %%TESTDIR%%/logs/scrapes.log scrapes;
            monitoring_metrics;
        }
    }
}

EOF

$t->run();

###############################################################################

# hostile requests first: every later scrape carries them

my @hostile = (
    '/q1"x', '/q2%22x', '/q3%0Ax', '/q4\\x', '/q5%FF%FEx',
    '/q6<script>alert(1)</script>', '/q7/' . ('a' x 4000),
    "/q8\xff\xc3x",
);

for my $path (@hostile) {
    (my $name = substr($path, 0, 40))
        =~ s/([^\x21-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    like(http_get($path), qr{^HTTP/1.1 200}, "hostile request $name");
}

like(http_get('/h', host => "\x01\xff\xfe"), qr{^HTTP/1.1 }, 'binary host');

# hostile values of a custom label, from a request header

like(http_get('/lbl', headers => [ "X-App: a\"b\\c\xff\xfe" ]),
    qr{^HTTP/1.1 200}, 'hostile label value');

my $N = 137;
my $r = http_pipeline([ ('/x') x $N ], batch => 50);
is($r->{200}, $N, "$N requests to /x");

###############################################################################

my $p = $t->prometheus(targets => [ 8080 ]);

sub query { $t->prom_query($p, @_) }
sub scalar_query { $t->prom_value($p, @_) }

my $sum;

poll(sub {
    $sum = scalar_query('sum(nginx_http_requests_total{endpoint="/x"})');
    return defined $sum && $sum == $N;
}, timeout => 20, interval => 0.25);

is($sum, $N, 'prometheus: sum of requests_total for /x');
is(scalar_query('up{job="nginx"}'), 1, 'prometheus: up');

# the target itself: healthy, no scrape error

my $targets = $t->prom_targets($p);

is(scalar @$targets, 1, 'prometheus: one target');
is($targets->[0]{health}, 'up', 'prometheus: target health');
is($targets->[0]{lastError}, '', 'prometheus: no scrape error');

# the hostile endpoints made it through, unescaped again

my $series = query('nginx_http_requests_total') // [];
my %endpoints = map { $_->{metric}{endpoint} => 1 } @$series;

ok($endpoints{'/q1"x'}, 'prometheus: endpoint with quote');
ok($endpoints{'/q2"x'}, 'prometheus: endpoint with %22');
ok($endpoints{"/q3\nx"}, 'prometheus: endpoint with newline');
ok($endpoints{'/q4\\x'}, 'prometheus: endpoint with backslash');
ok($endpoints{"/q5\x{fffd}\x{fffd}x"} || $endpoints{"/q5\x{fffd}x"},
    'prometheus: invalid utf-8 replaced');
ok($endpoints{'/q6<script>alert(1)</script>'},
    'prometheus: endpoint with script tag');
ok((grep { /^\/q7\/a+$/ && length($_) <= 256 } keys %endpoints),
    'prometheus: long endpoint truncated');
ok((grep { /^\/q8\x{fffd}+x$/ } keys %endpoints),
    'prometheus: raw invalid utf-8 replaced');

my ($lbl) = grep { ($_->{metric}{endpoint} // '') eq '/lbl' } @$series;
is($lbl && $lbl->{metric}{app}, "a\"b\\c\x{fffd}\x{fffd}",
    'prometheus: hostile custom label value ingested');

# histogram and other families ingested

is(scalar_query('sum(nginx_http_request_duration_seconds_count'
    . '{endpoint="/x"})'), $N, 'prometheus: histogram count');
is(scalar_query('sum(nginx_http_request_duration_seconds_bucket'
    . '{endpoint="/x",le="+Inf"})'), $N, 'prometheus: +Inf bucket');
is(scalar_query('nginx_up'), 1, 'prometheus: nginx_up');
ok(defined scalar_query('nginx_build_info{version="1.22.1"}'),
    'prometheus: build info');

# Prometheus keeps scraping without errors

my $t2 = $t->prom_targets($p);
is($t2->[0]{lastError} // 'none', '', 'prometheus: still no scrape error');

# the scrapes asked for OpenMetrics and got it

my @scrapes = split /\n/, $t->read_file('logs/scrapes.log');
cmp_ok(scalar @scrapes, '>=', 1, 'prometheus scraped');
my $om = qr{^200
    \|application/openmetrics-text;version=1\.0\.0[^|]*
    \|application/openmetrics-text;\ version=1\.0\.0;\ charset=utf-8$}x;

is(scalar(grep { $_ !~ $om } @scrapes), 0, 'prometheus scraped OpenMetrics')
    or diag(join "\n", @scrapes);

my ($status, $plog) = $t->kill_spawned($p->{pid});
unlike($plog // '', qr/level=error/, 'prometheus: no errors logged')
    or diag($plog);

###############################################################################

$t->done_testing();

###############################################################################
