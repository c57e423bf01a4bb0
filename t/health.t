#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: monitoring_health, its verdict
# from the window's error rate and p95 against the default and custom
# monitoring_health_thresholds, its own requests kept out of the window,
# and the checks of monitoring_health_thresholds at nginx -t.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);

###############################################################################

# one server and one zone per scenario: each zone has its own window

sub servers {
    my (%s) = @_;

    my $conf = '';

    for my $port (sort { $a <=> $b } keys %s) {
        my $zone = $s{$port};
        $conf .= <<"EOF";
    monitoring_zone  $zone  1m;

    server {
        listen       127.0.0.1:%%PORT_$port%%;
        server_name  $zone;

        monitoring $zone;

        location /ok {
            return 200 "ok\\n";
        }

        location /err {
            return 500;
        }

        location /slow {
            echo_sleep 0.6;
            echo ok;
        }

        location /health {
            monitoring_health;
        }
    }

EOF
    }

    return $conf;
}

# the dashboards, recording into no zone

sub dashboards {
    my ($port, @zones) = @_;

    my $conf = <<"EOF";
    server {
        listen       127.0.0.1:%%PORT_$port%%;
        server_name  dashboards;

        monitoring off;

EOF

    for my $zone (@zones) {
        $conf .= <<"EOF";
        location /mon/$zone {
            monitoring_dashboard $zone;
        }

EOF
    }

    return $conf . "    }\n";
}

my %default = (
    8080 => 'empty',
    8081 => 'ok',
    8082 => 'warn',
    8083 => 'degraded',
    8084 => 'latency',
    8085 => 'edge5',
    8086 => 'edge1',
);

my $t = Test::Monitoring->new(echo => 1);

$t->write_file_expand('nginx.conf', <<"EOF");

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

@{[ servers(%default) ]}
@{[ dashboards(8089, values %default) ]}
}

EOF

$t->run();

###############################################################################

# health($port): { status => HTTP status, data => decoded JSON, ... }

sub health {
    my ($port, %opts) = @_;
    return http_json($opts{path} // '/health', port => port($port), %opts);
}

sub api {
    my ($port, $zone) = @_;
    return http_json("/mon/$zone/api", port => port($port))->{data} // {};
}

# send: 'path' => count, ... over pipelined connections, interleaved

sub send_mix {
    my ($port, $parallel, @mix) = @_;

    my @paths;
    my %left = @mix;
    my @order = grep { !ref } @mix[grep { $_ % 2 == 0 } 0 .. $#mix];

    while (grep { $left{$_} > 0 } @order) {
        for my $p (@order) {
            next unless $left{$p} > 0;
            push @paths, $p;
            $left{$p}--;
        }
    }

    my $r = http_pipeline(\@paths, port => port($port),
        parallel => $parallel, timeout => 30);

    return $r->{total} // 0;
}

# the requests sent are in the window once their log phase has run

sub wait_window {
    my ($port, $zone, $n) = @_;

    poll(sub { (api($port, $zone)->{window}{requests} // -1) == $n },
        timeout => 5);
}

###############################################################################

# no traffic: healthy

my $h = health(8080);

is($h->{status}, 200, 'no traffic: 200');
is($h->{error}, undef, 'no traffic: valid JSON');
like($h->{headers}{'content-type'} // '', qr{^application/json},
    'content type');
is($h->{headers}{'cache-control'}, 'no-store', 'not cached');

my $d = $h->{data} // {};

is(join(',', sort keys %$d),
    'alerts_firing,checked_at,error_rate,p95_ms,rps,status',
    'the fields of the health document');

my %types = map { $_ => json_type($d->{$_}) } keys %$d;

is($types{status}, 'string', 'status is a string');
is($types{error_rate}, 'number', 'error_rate is a number');
is($types{p95_ms}, 'null', 'p95_ms is null without traffic');
is($types{rps}, 'number', 'rps is a number');
is($types{alerts_firing}, 'number', 'alerts_firing is a number');
is($types{checked_at}, 'string', 'checked_at is a string');

is($d->{status}, 'healthy', 'no traffic: healthy');
is($d->{error_rate}, 0, 'no traffic: error_rate 0');
is($d->{rps}, 0, 'no traffic: rps 0');
is($d->{alerts_firing}, 0, 'no alerts');

my $checked = $d->{checked_at} // '';

if ($checked =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/) {
    my $ts = eval { timegm($6, $5, $4, $3, $2 - 1, $1) } // 0;
    ok(abs($ts - time()) < 5, 'checked_at is now') or diag($checked);
} else {
    fail('checked_at is ISO 8601 UTC') or diag($checked);
}

# HEAD and other methods

my $r = http_get('/health', port => port(8080), method => 'HEAD');
is(http_status($r), 200, 'HEAD');
is(http_body($r), '', 'HEAD: no body');
like(http_header($r, 'Content-Type') // '', qr{^application/json},
    'HEAD: content type');

$r = http_get('/health', port => port(8080), method => 'POST', body => 'x');
is(http_status($r), 405, 'POST: 405');

# only 200s: healthy

is(send_mix(8081, 4, '/ok' => 50), 50, 'ok: 50 sent');
wait_window(8089, 'ok', 50);

$h = health(8081);
$d = $h->{data} // {};

is($h->{status}, 200, 'only 200s: 200');
is($d->{status}, 'healthy', 'only 200s: healthy');
is($d->{error_rate}, 0, 'only 200s: error_rate 0');
is(json_type($d->{p95_ms}), 'number', 'p95_ms is a number with traffic');
ok(defined $d->{p95_ms} && $d->{p95_ms} >= 0 && $d->{p95_ms} < 100,
    'only 200s: p95 small') or diag(explain $d);
ok($d->{rps} > 50 / 71 && $d->{rps} <= 50, 'rps: requests per covered second')
    or diag(explain $d);

# 3% errors: warning, still 200

is(send_mix(8082, 4, '/ok' => 97, '/err' => 3), 100, 'warn: 100 sent');
wait_window(8089, 'warn', 100);

$h = health(8082);
$d = $h->{data} // {};

is($h->{status}, 200, '3% errors: 200');
is($d->{status}, 'warning', '3% errors: warning');
is($d->{error_rate}, 0.03, '3% errors: error_rate');

# 10% errors: degraded, 503

is(send_mix(8083, 4, '/ok' => 90, '/err' => 10), 100, 'degraded: 100 sent');
wait_window(8089, 'degraded', 100);

$h = health(8083);
$d = $h->{data} // {};

is($h->{status}, 503, '10% errors: 503');
is($d->{status}, 'degraded', '10% errors: degraded');
is($d->{error_rate}, 0.1, '10% errors: error_rate');
is($h->{error}, undef, '503: still the JSON document');

# the health requests are counted, but not in the window

health(8083) for 1 .. 4;

my $api;

poll(sub {
    $api = api(8089, 'degraded');
    return ($api->{totals}{requests} // 0) == 105;
}, timeout => 5);

is($api->{totals}{requests}, 105, 'health requests counted in totals');
is($api->{totals}{status}{503}, 5, 'their 503s counted');
is($api->{window}{requests}, 100, 'health requests not in the window');
is($api->{status}, 'degraded', 'API says degraded too');

# exactly 5% errors is not above the critical 5%: warning

is(send_mix(8085, 4, '/ok' => 95, '/err' => 5), 100, 'edge5: 100 sent');
wait_window(8089, 'edge5', 100);

$h = health(8085);

is($h->{status}, 200, 'exactly 5% errors: 200');
is($h->{data} && $h->{data}{status}, 'warning', 'exactly 5%: warning');

# exactly 1% errors is not above the warning 1%: healthy

is(send_mix(8086, 4, '/ok' => 99, '/err' => 1), 100, 'edge1: 100 sent');
wait_window(8089, 'edge1', 100);

$h = health(8086);

is($h->{status}, 200, 'exactly 1% errors: 200');
is($h->{data} && $h->{data}{status}, 'healthy', 'exactly 1%: healthy');

# p95 over 500 ms: degraded; 10 of 50 requests take 600 ms, p95 is the
# 48th smallest

my @slow = map { ('/slow', '/ok', '/ok', '/ok', '/ok') } 1 .. 10;

my $t0 = time();
my $res = http_pipeline(\@slow, port => port(8084), parallel => 10,
    timeout => 30);
my $took = time() - $t0;

is($res->{total}, 50, 'latency: 50 sent');
ok($took < 5, 'latency: slow requests in parallel')
    or diag("took $took s");
wait_window(8089, 'latency', 50);

$h = health(8084);
$d = $h->{data} // {};

is($h->{status}, 503, 'p95 over 500 ms: 503');
is($d->{status}, 'degraded', 'p95 over 500 ms: degraded');
is($d->{error_rate}, 0, 'latency: no errors');
ok(defined $d->{p95_ms} && $d->{p95_ms} >= 590 && $d->{p95_ms} < 800,
    'latency: p95 about 600 ms') or diag(explain $d);

$t->stop();

###############################################################################

# custom thresholds: the same traffic, other verdicts; a short window

my %custom = (
    8090 => 'errors15',
    8091 => 'latency',
    8092 => 'errors10',
    8093 => 'recover',
);

my $t2 = Test::Monitoring->new(echo => 1);

$t2->write_file_expand('nginx.conf', <<"EOF");

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_health_thresholds error_rate=10%,20% p95=1s,2s window=10s;

@{[ servers(%custom) ]}
@{[ dashboards(8099, values %custom) ]}
}

EOF

$t2->run();

my $th = api(8099, 'recover')->{thresholds} // {};

is_deeply($th, {
    window_seconds => 10,
    error_rate => { warning => 0.1, critical => 0.2 },
    p95_ms => { warning => 1000, critical => 2000 },
}, 'custom thresholds in the API') or diag(explain $th);

# 15% errors: degraded by default, warning here

is(send_mix(8090, 4, '/ok' => 85, '/err' => 15), 100, 'custom: 100 sent');
wait_window(8099, 'errors15', 100);

$h = health(8090);

is($h->{status}, 200, 'custom, 15% errors: 200');
is($h->{data} && $h->{data}{status}, 'warning', 'custom, 15% errors: warning');

# 10% errors: degraded by default, healthy here

is(send_mix(8092, 4, '/ok' => 90, '/err' => 10), 100, 'custom: 100 sent');
wait_window(8099, 'errors10', 100);

$h = health(8092);

is($h->{status}, 200, 'custom, 10% errors: 200');
is($h->{data} && $h->{data}{status}, 'healthy', 'custom, 10% errors: healthy');

# p95 of 600 ms: degraded by default, healthy here

$res = http_pipeline(\@slow, port => port(8091), parallel => 10,
    timeout => 30);

is($res->{total}, 50, 'custom latency: 50 sent');
wait_window(8099, 'latency', 50);

$h = health(8091);
$d = $h->{data} // {};

is($h->{status}, 200, 'custom, p95 600 ms: 200');
is($d->{status}, 'healthy', 'custom, p95 600 ms: healthy');
ok(defined $d->{p95_ms} && $d->{p95_ms} >= 590, 'custom, p95 is still 600 ms')
    or diag(explain $d);

# 30% errors: degraded; polled every 0.5 s, its own 503s do not keep it
# degraded once the 10 s window (with the slot before: 20 s) has passed

is(send_mix(8093, 4, '/ok' => 70, '/err' => 30), 100, 'recover: 100 sent');
wait_window(8099, 'recover', 100);

my $start = time();
my ($polls, $n503, $recovered) = (0, 0, undef);

while (time() - $start < 35) {
    $h = health(8093);
    $polls++;

    if (($h->{status} // 0) == 503) {
        $n503++;

    } elsif (($h->{status} // 0) == 200
             && ($h->{data}{status} // '') eq 'healthy')
    {
        $recovered = time() - $start;
        last;
    }

    sleep 0.5;
}

ok($n503 >= 1, 'recover: degraded at first') or diag("$n503 503s");
ok(defined $recovered, 'recover: healthy again while polled')
    or diag("$polls polls, $n503 503s, last: " . ($h->{body} // ''));
ok(defined $recovered && $recovered <= 21, 'recover: within the window')
    or diag('after ' . ($recovered // 'never') . ' s');

$d = $h->{data} // {};

is($d->{error_rate}, 0, 'recover: error_rate 0');
is(json_type($d->{p95_ms}), 'null', 'recover: p95_ms null again');

$api = {};

poll(sub {
    $api = api(8099, 'recover');
    return ($api->{totals}{requests} // 0) == 100 + $polls;
}, timeout => 5);

is($api->{totals}{requests}, 100 + $polls, 'recover: health polls counted');
is($api->{totals}{status}{503}, $n503, 'recover: their 503s counted');
is($api->{window}{requests}, 0, 'recover: window empty');

$t2->stop();

###############################################################################

# thresholds parsed: percent, fractions, times

my $t3 = Test::Monitoring->new();

$t3->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m;
    monitoring_health_thresholds p95=150ms,0.5s error_rate=0.5%,0.02
                                 window=20s;

    server {
        listen       127.0.0.1:%%PORT_8100%%;
        server_name  localhost;

        location /monitoring {
            monitoring_dashboard;
        }

        location /health {
            monitoring_health;
        }
    }
}

EOF

$t3->run();

$th = http_json('/monitoring/api', port => port(8100))->{data}{thresholds};

is_deeply($th, {
    window_seconds => 20,
    error_rate => { warning => 0.005, critical => 0.02 },
    p95_ms => { warning => 150, critical => 500 },
}, 'thresholds: 0.5%, a fraction, ms and s') or diag(explain $th);

$h = health(8100);
is($h->{data} && $h->{data}{status}, 'healthy',
    'health with the only zone declared');

$t3->stop();

###############################################################################

# monitoring_health_thresholds checked at nginx -t

my $c = Test::Monitoring->new();


my $D = '"monitoring_health_thresholds" directive';

like($c->config_error('monitoring_health_thresholds error_rate=5%,1%;'),
    qr/invalid value "error_rate=5%,1%" in $D, the warning threshold is above the critical one/,
    'error_rate warning above critical');
like($c->config_error('monitoring_health_thresholds p95=1s,200ms;'),
    qr/invalid value "p95=1s,200ms" in $D, the warning threshold is above the critical one/,
    'p95 warning above critical');
like($c->config_error('monitoring_health_thresholds p95=abc,1s;'),
    qr/invalid value "p95=abc,1s" in $D/, 'p95 not a time');
like($c->config_error('monitoring_health_thresholds error_rate=x%,5%;'),
    qr/invalid value "error_rate=x%,5%" in $D/, 'error_rate not a ratio');
like($c->config_error('monitoring_health_thresholds error_rate=1%;'),
    qr/invalid value "error_rate=1%" in $D/, 'one value only');
like($c->config_error('monitoring_health_thresholds window=15s;'),
    qr/invalid window "15s" in $D, it must be 10s, 20s, ... 1m/,
    'window not a multiple of 10s');
like($c->config_error('monitoring_health_thresholds window=2m;'),
    qr/invalid window "2m" in $D, it must be 10s, 20s, ... 1m/,
    'window over a minute');
like($c->config_error('monitoring_health_thresholds window=0s;'),
    qr/invalid window "0s" in $D, it must be 10s, 20s, ... 1m/,
    'window zero');
like($c->config_error('monitoring_health_thresholds foo=1;'),
    qr/invalid parameter "foo=1" in $D/, 'unknown parameter');
like($c->config_error('monitoring_health_thresholds window=10s;'
        . ' monitoring_health_thresholds window=20s;'),
    qr/$D is duplicate/, 'duplicate');
is($c->config_error('monitoring_health_thresholds error_rate=1%,1% p95=1s,1s'
        . ' window=60s;'), undef, 'equal warning and critical pass');
is($c->config_error('monitoring_health_thresholds window=30s;'), undef,
    'window alone passes');

# the default as docs/directives.md writes it, and as the error message
# for a bad window suggests: window=1m

is($c->config_error('monitoring_health_thresholds error_rate=1%,5%'
        . ' p95=200ms,500ms window=1m;'), undef, 'the documented default passes');

done_testing();

###############################################################################
