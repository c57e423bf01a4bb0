#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: a full zone and max_series send new
# series to endpoint="__overflow__", count them as dropped, warn once, and
# keep the totals exact.

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

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    # raw $uri endpoints: this file is about them, not normalization
    monitoring_normalize_auto  off;

    monitoring_zone  small   256k;
    monitoring_zone  capped  1m  max_series=100;

    server {
        listen       127.0.0.1:%%PORT_8080%% reuseport;
        server_name  small.test;

        monitoring small;

        location /u/ {
            if ($arg_s) {
                return 404;
            }

            return 200 "ok\n";
        }

        location /v/ {
            return 404;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%% reuseport;
        server_name  capped.test;

        monitoring capped;

        location / {
            return 200 "ok\n";
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8082%%;
        server_name  metrics;

        location /metrics {
            monitoring_metrics;
        }
    }
}

EOF

$t->run();

###############################################################################

sub scrape {
    my (undef, $body) = metrics(port(8082));
    return ($body, parse_metrics($body));
}

sub overflow {
    my ($m, $zone, %more) = @_;
    return metric_sum($m, 'nginx_http_requests_total', { zone => $zone,
        endpoint => '__overflow__', %more });
}

my $N = 30000;

my $r = http_pipeline([ map { "/u/$_" } 1 .. $N ], parallel => 4,
    batch => 100, timeout => 60);

is($r->{200}, $N, "$N distinct endpoints answered");

my ($body, $m);

poll(sub {
    ($body, $m) = scrape();
    return metric_sum($m, 'nginx_http_requests_total', { zone => 'small' })
        == $N;
}, timeout => 5);

is(metric_sum($m, 'nginx_http_requests_total', { zone => 'small' }), $N,
    'small: every request counted');
is(metric_sum($m, 'nginx_http_request_duration_seconds_count',
    { zone => 'small' }), $N, 'small: histogram counts every request');
is(metric_sum($m, 'nginx_worker_requests_total', { zone => 'small' }), $N,
    'small: worker requests');

my $over = overflow($m, 'small');
my $dropped = metric_value($m, 'nginx_monitoring_series_dropped_total',
    { zone => 'small' });

cmp_ok($over, '>', 0, 'small: overflow series present');
is($dropped, $over, 'small: dropped equals overflow requests');

my @o = metric_find($m, 'nginx_http_requests_total',
    { zone => 'small', endpoint => '__overflow__' });
is(join(' ', map { my $l = $_->{labels};
    join '|', map { $l->{$_} // 'none' } qw(server method status) } @o),
    '||200', 'small: overflow labels');

is(metric_sum($m, 'nginx_http_request_duration_seconds_count',
    { zone => 'small', endpoint => '__overflow__' }), $over,
    'small: overflow histogram count');

my $series = metric_value($m, 'nginx_monitoring_series', { zone => 'small' });
cmp_ok($series // 0, '>', 0, 'small: series gauge');

my $named = grep { $_->{labels}{endpoint} =~ m{^/u/\d+$} }
    metric_find($m, 'nginx_http_requests_total', { zone => 'small' });
is($named + $over, $N, 'small: named series and overflow add up');
cmp_ok($named, '<=', $series, 'small: series gauge covers named series');

my $size = metric_value($m, 'nginx_monitoring_zone_bytes',
    { zone => 'small', state => 'size' });
my $used = metric_value($m, 'nginx_monitoring_zone_bytes',
    { zone => 'small', state => 'used' });

is($size, 262144, 'small: zone size');
ok(defined $used && $used > 0 && $used <= $size, 'small: used <= size')
    or diag("used " . ($used // 'none'));

my ($ok, $out) = promtool_check($body);
ok($ok, 'promtool check metrics after overflow') or diag($out);

# more new series, with another status: the zone stays as it is, the
# overflow takes them all, with their real status

$r = http_pipeline([ map { "/v/$_" } 1 .. 1000 ], parallel => 2);
is($r->{404}, 1000, 'more distinct endpoints answered');

poll(sub {
    ($body, $m) = scrape();
    return metric_sum($m, 'nginx_http_requests_total', { zone => 'small' })
        == $N + 1000;
}, timeout => 5);

is(metric_sum($m, 'nginx_http_requests_total', { zone => 'small' }),
    $N + 1000, 'small: total still exact');
is(overflow($m, 'small', status => '404'), 1000,
    'small: overflow with status 404');
is(overflow($m, 'small', status => '200'), $over,
    'small: overflow with status 200 unchanged');
is(metric_value($m, 'nginx_monitoring_series_dropped_total',
    { zone => 'small' }), $dropped + 1000, 'small: dropped grew');
is(metric_value($m, 'nginx_monitoring_series', { zone => 'small' }),
    $series, 'small: series gauge stable');
is(metric_value($m, 'nginx_monitoring_zone_bytes',
    { zone => 'small', state => 'used' }), $used, 'small: used bytes stable');

# an existing series is still updated in place

like(http_get('/u/1'), qr{^HTTP/1.1 200}, 'still serving');

my $first = (grep { $_->{labels}{endpoint} =~ m{^/u/\d+$} }
    metric_find($m, 'nginx_http_requests_total', { zone => 'small' }))[0];

SKIP: {
    skip 'no named series', 1 unless $first;

    my $ep = $first->{labels}{endpoint};
    http_get($ep) for 1 .. 3;

    my $v = poll(sub {
        my (undef, $m2) = scrape();
        my $v = metric_sum($m2, 'nginx_http_requests_total',
            { zone => 'small', endpoint => $ep });
        return $v == $first->{value} + 3 ? $v : 0;
    }, timeout => 5);

    is($v, $first->{value} + 3, 'small: existing series still counted');

    # a new status for an existing series in a full zone: counted there
    # or in the overflow, either way exactly once

    (undef, $m) = scrape();
    my $before = metric_sum($m, 'nginx_http_requests_total',
        { zone => 'small', status => '404' });

    like(http_get("$ep?s=1"), qr{^HTTP/1.1 404}, 'new status, full zone');

    poll(sub {
        (undef, $m) = scrape();
        return metric_sum($m, 'nginx_http_requests_total',
            { zone => 'small', status => '404' }) == $before + 1;
    }, timeout => 5);

    is(metric_sum($m, 'nginx_http_requests_total',
        { zone => 'small', status => '404' }), $before + 1,
        'small: new status counted once');
    is(metric_value($m, 'nginx_monitoring_series_dropped_total',
        { zone => 'small' }), overflow($m, 'small'),
        'small: dropped still equals overflow requests');
    is(metric_sum($m, 'nginx_http_requests_total', { zone => 'small' }),
        $N + 1000 + 1 + 3 + 1, 'small: total still exact');
}

###############################################################################

# max_series

my $C = 500;

$r = http_pipeline([ map { "/c/$_" } 1 .. $C ], port => port(8081));
is($r->{200}, $C, "$C distinct endpoints to the capped zone");

poll(sub {
    ($body, $m) = scrape();
    return metric_sum($m, 'nginx_http_requests_total', { zone => 'capped' })
        == $C;
}, timeout => 5);

is(metric_sum($m, 'nginx_http_requests_total', { zone => 'capped' }), $C,
    'capped: every request counted');

my $cseries = metric_value($m, 'nginx_monitoring_series', { zone => 'capped' });
ok(defined $cseries && $cseries <= 100 && $cseries >= 90,
    'capped: series gauge at max_series') or diag($cseries);

my $cover = overflow($m, 'capped');
cmp_ok($cover, '>=', $C - 100, 'capped: overflow');
is(metric_value($m, 'nginx_monitoring_series_dropped_total',
    { zone => 'capped' }), $cover, 'capped: dropped equals overflow');

my $cnamed = grep { $_->{labels}{endpoint} =~ m{^/c/\d+$} }
    metric_find($m, 'nginx_http_requests_total', { zone => 'capped' });
cmp_ok($cnamed, '<=', 100, 'capped: at most 100 named series');
is($cnamed + $cover, $C, 'capped: named series and overflow add up');

$used = metric_value($m, 'nginx_monitoring_zone_bytes',
    { zone => 'capped', state => 'used' });
$size = metric_value($m, 'nginx_monitoring_zone_bytes',
    { zone => 'capped', state => 'size' });
is($size, 1048576, 'capped: zone size');
ok(defined $used && $used <= $size, 'capped: used <= size');

($ok, $out) = promtool_check($body);
ok($ok, 'promtool check metrics, both zones') or diag($out);

###############################################################################

$t->stop();

my $log = $t->read_file('logs/error.log');

is(scalar(() = $log =~ /^.*\[warn\].*monitoring zone "small" is full.*$/mg),
    1, 'small: one "is full" warning');
is(scalar(() = $log =~ /^.*\[warn\].*monitoring zone "capped" is full.*$/mg),
    1, 'capped: one "is full" warning');

###############################################################################

$t->done_testing();

###############################################################################
