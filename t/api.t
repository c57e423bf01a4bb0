#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: the JSON document of
# monitoring_dashboard at LOCATION/api and LOCATION?format=json (fields
# and types of docs/api.md, counts, endpoints, upstreams, labels,
# history), hostile request paths, methods, the page's headers, and the
# zone a handler without one takes.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Monitoring;
use Time::HiRes qw(time);

###############################################################################

my $t = Test::Monitoring->new();

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m;

    large_client_header_buffers  4 16k;

    upstream backend {
        server 127.0.0.1:%%PORT_8081%%;
    }

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  front;

        monitoring main;

        location /ok {
            return 200 "ok\n";
        }

        location /err {
            return 500;
        }

        location /nf {
            return 404;
        }

        location /p/ {
            proxy_pass http://backend;
        }

        location /lab {
            monitoring_label  team  blue;
            monitoring_label  tier  web;
            return 200 "ok\n";
        }

        location /h/ {
            return 200 "ok\n";
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%%;
        server_name  backend;

        monitoring off;

        location / {
            return 200 "backend\n";
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8082%%;
        server_name  dashboard;

        monitoring off;

        location /monitoring {
            monitoring_dashboard;
        }
    }
}

EOF

my $started = time();

$t->run();

###############################################################################

sub api {
    my ($path, %opts) = @_;
    return http_json($path // '/monitoring/api', port => port(8082), %opts);
}

# the JSON type of every field, as "path: type" lines, arrays by their
# first element only

sub types {
    my ($v, $path) = @_;

    my $type = json_type($_[0]);
    my @out = ("$path: $type");

    if ($type eq 'object') {
        push @out, types($v->{$_}, "$path.$_") for sort keys %$v;
    } elsif ($type eq 'array' && @$v) {
        push @out, types($v->[0], "$path\[0]");
    }

    return @out;
}

sub type_of {
    my ($lines, $path) = @_;
    my ($l) = grep { /^\Q$path\E: / } @$lines;
    return $l ? (split /: /, $l)[1] : 'missing';
}

my %sent = ('/ok' => 40, '/err' => 20, '/nf' => 10, '/p/x' => 6, '/lab' => 3);
my $total = 0;
$total += $_ for values %sent;

# interleaved, so that each endpoint's requests spread over the same time

my @paths;
my %left = %sent;

while (grep { $_ > 0 } values %left) {
    for my $p (sort keys %left) {
        next unless $left{$p} > 0;
        push @paths, $p;
        $left{$p}--;
    }
}

my $res = http_pipeline(\@paths, port => port(8080), parallel => 2);

is($res->{total}, $total, 'requests sent');

my $r;

poll(sub {
    $r = api();
    return ($r->{data}{window}{requests} // 0) == $total;
});

my $d = $r->{data} // {};

is($r->{status}, 200, 'api: 200');
is($r->{error}, undef, 'api: valid UTF-8 JSON') or diag($r->{body});
is($r->{headers}{'content-type'}, 'application/json', 'api: content type');
is($r->{headers}{'cache-control'}, 'no-store', 'api: no-store');

# fields and types of docs/api.md

my @types = types($d, '');

my %want = (
    '.zone' => 'string',
    '.status' => 'string',
    '.generated_at' => 'number',
    '.refresh_seconds' => 'number',
    '.thresholds' => 'object',
    '.thresholds.window_seconds' => 'number',
    '.thresholds.error_rate.warning' => 'number',
    '.thresholds.error_rate.critical' => 'number',
    '.thresholds.p95_ms.warning' => 'number',
    '.thresholds.p95_ms.critical' => 'number',
    '.window' => 'object',
    '.window.seconds' => 'number',
    '.window.requests' => 'number',
    '.window.rps' => 'number',
    '.window.error_rate' => 'number',
    '.window.latency_ms.p50' => 'number',
    '.window.latency_ms.p90' => 'number',
    '.window.latency_ms.p95' => 'number',
    '.window.latency_ms.p99' => 'number',
    '.window.latency_ms.mean' => 'number',
    (map { (".window.status.$_" => 'number') } qw(1xx 2xx 3xx 4xx 5xx)),
    '.totals' => 'object',
    '.totals.requests' => 'number',
    '.totals.status' => 'object',
    '.totals.status.200' => 'number',
    '.totals.request_bytes' => 'number',
    '.totals.response_bytes' => 'number',
    '.totals.slow' => 'number',
    '.totals.series' => 'number',
    '.totals.dropped' => 'number',
    '.totals.zone_bytes.used' => 'number',
    '.totals.zone_bytes.size' => 'number',
    '.totals.start_time' => 'number',
    '.endpoints' => 'array',
    '.endpoints[0].server' => 'string',
    '.endpoints[0].endpoint' => 'string',
    '.endpoints[0].method' => 'string',
    '.endpoints[0].requests' => 'number',
    '.endpoints[0].rps' => 'number',
    '.endpoints[0].error_rate' => 'number',
    '.endpoints[0].p95_ms' => 'number',
    '.upstreams' => 'array',
    '.upstreams[0].upstream' => 'string',
    '.upstreams[0].peer' => 'string',
    '.upstreams[0].requests' => 'number',
    '.upstreams[0].rps' => 'number',
    '.upstreams[0].error_rate' => 'number',
    '.upstreams[0].p95_ms' => 'number',
    '.alerts.configured' => 'bool',
    '.alerts.firing' => 'number',
    '.alerts.pending' => 'number',
    '.alerts.rules' => 'array',
    '.history.step_seconds' => 'number',
    '.history.points' => 'array',
    '.history_24h.step_seconds' => 'number',
    '.history_24h.points' => 'array',
);

my @bad = grep { type_of(\@types, $_) ne $want{$_} } sort keys %want;

is(join(', ', map { "$_ is " . type_of(\@types, $_) } @bad), '',
    'fields of docs/api.md with their types') or diag(join "\n", @types);

is(join(',', sort keys %$d), join(',', sort qw(zone status generated_at
    refresh_seconds thresholds window totals endpoints upstreams alerts
    history history_24h)), 'top level fields');

is($d->{zone}, 'main', 'zone');
is($d->{status}, 'degraded', 'status: 20 of 79 are 5xx');
ok(abs(($d->{generated_at} // 0) - time()) < 5, 'generated_at is now');
is($d->{refresh_seconds}, 5, 'refresh_seconds');

is_deeply($d->{thresholds}, {
    window_seconds => 60,
    error_rate => { warning => 0.01, critical => 0.05 },
    p95_ms => { warning => 200, critical => 500 },
}, 'default thresholds');

# the window

my $w = $d->{window} // {};

is($w->{seconds}, 60, 'window seconds');
is($w->{requests}, $total, 'window requests: what was sent');
# over 60-70 s, or over the zone's age while it is younger than that

my $age = $d->{generated_at} - $d->{totals}{start_time};
my $covered = $age < 60 ? ($age < 1 ? 1 : $age) : undef;

ok(defined $covered
   ? abs($w->{rps} - $total / $covered) <= $total / $covered * 0.1 + 0.01
   : $w->{rps} >= $total / 70.1 && $w->{rps} <= $total / 60 + 0.01,
    'window rps: requests over the seconds covered')
    or diag("rps $w->{rps} age $age");
ok(abs($w->{error_rate} - 20 / $total) < 0.0011, 'window error rate')
    or diag("error_rate $w->{error_rate}");
is_deeply($w->{status}, { '1xx' => 0, '2xx' => 49, '3xx' => 0, '4xx' => 10,
    '5xx' => 20 }, 'window status classes');

my $l = $w->{latency_ms} // {};

ok($l->{p50} <= $l->{p90} && $l->{p90} <= $l->{p95}
    && $l->{p95} <= $l->{p99}, 'percentiles in order') or diag(explain $l);
ok($l->{p99} < 1000 && $l->{mean} >= 0 && $l->{mean} < 1000,
    'latencies are milliseconds') or diag(explain $l);

# totals

my $tt = $d->{totals} // {};

is($tt->{requests}, $total, 'totals requests');
is_deeply($tt->{status}, { 200 => 49, 404 => 10, 500 => 20 },
    'totals per status code');
ok($tt->{request_bytes} >= $total * 20, 'request bytes')
    or diag($tt->{request_bytes});
ok($tt->{response_bytes} >= $total * 50, 'response bytes')
    or diag($tt->{response_bytes});
is($tt->{slow}, 0, 'no slow requests');
ok($tt->{series} >= 6, 'series: 5 endpoints and an upstream peer')
    or diag($tt->{series});
is($tt->{dropped}, 0, 'none dropped');
is($tt->{zone_bytes}{size}, 1048576, 'zone size');
ok($tt->{zone_bytes}{used} > 0
    && $tt->{zone_bytes}{used} < $tt->{zone_bytes}{size}, 'zone used');
ok($tt->{start_time} >= int($started) - 1 && $tt->{start_time} <= time(),
    'start_time') or diag("$tt->{start_time} vs $started");

# endpoints: by rps, with their counts

my @e = @{$d->{endpoints} // []};

is(scalar @e, 5, 'five endpoints');
is(join(' ', map { $_->{endpoint} } @e), '/ok /err /nf /p/x /lab',
    'endpoints sorted by rps') or diag(explain \@e);

my @rps = map { $_->{rps} } @e;
ok(!grep({ $rps[$_] > $rps[$_ - 1] } 1 .. $#rps), 'rps not increasing')
    or diag("@rps");

my %e = map { $_->{endpoint} => $_ } @e;

is(join(',', map { "$_=" . ($e{$_} ? $e{$_}{requests} : 'none') }
        sort keys %sent),
    join(',', map { "$_=$sent{$_}" } sort keys %sent),
    'requests per endpoint');

ok(!grep({ $_->{server} ne 'front' || $_->{method} ne 'GET' } @e),
    'server and method') or diag(explain \@e);

is($e{'/err'} && $e{'/err'}{error_rate}, 1, 'error rate of /err');
is($e{'/nf'} && $e{'/nf'}{error_rate}, 0, '4xx are not errors');
ok($e{'/ok'} && $e{'/ok'}{rps} > 0, 'rps of /ok');

is_deeply($e{'/lab'} && $e{'/lab'}{labels}, { team => 'blue', tier => 'web' },
    'custom labels of an endpoint');
ok(!grep({ exists $_->{labels} && %{$_->{labels}} } @e[grep {
    $e[$_]{endpoint} ne '/lab' } 0 .. $#e]), 'no labels elsewhere');

# upstreams

my @u = @{$d->{upstreams} // []};
my $peer = '127.0.0.1:' . port(8081);

is(scalar @u, 1, 'one upstream peer');
is($u[0] && $u[0]{upstream}, 'backend', 'upstream name');
is($u[0] && $u[0]{peer}, $peer, 'upstream peer');
is($u[0] && $u[0]{requests}, 6, 'upstream requests');
is($u[0] && $u[0]{error_rate}, 0, 'upstream error rate');

# alerts: none configured here

is_deeply($d->{alerts}, { configured => JSON::PP::false(), firing => 0,
    pending => 0, rules => [], interval_seconds => 5 }, 'no alerts');

# history: complete 10 s points since the start, 5 min points for 24 h

for my $h (qw(history history_24h)) {
    my $step = $h eq 'history' ? 10 : 300;
    my $p = $d->{$h}{points} // [];

    is($d->{$h}{step_seconds}, $step, "$h step");

    my @bad = grep {
        !(defined $_->{t} && $_->{t} % $step == 0 && $_->{t} < time()
          && defined $_->{requests} && defined $_->{errors}
          && exists $_->{p50} && exists $_->{p95} && exists $_->{p99})
    } @$p;

    is(scalar @bad, 0, "$h points have t, requests, errors, p50-p99")
        or diag(explain $p);

    my $sum = 0;
    $sum += $_->{requests} // 0 for @$p;

    ok($sum <= $total, "$h: no more requests than sent") or diag($sum);
}

# the same document with ?format=json, and for HEAD

my $f = api('/monitoring?format=json');

is($f->{status}, 200, 'format=json: 200');
is($f->{headers}{'content-type'}, 'application/json',
    'format=json: content type');
is($f->{data} && $f->{data}{totals}{requests}, $total,
    'format=json: the document');

$f = api('/monitoring/api?x=1');
is($f->{data} && $f->{data}{zone}, 'main', 'api with arguments');

my $head = http_get('/monitoring/api', port => port(8082), method => 'HEAD');

is(http_status($head), 200, 'HEAD api: 200');
is(http_header($head, 'Content-Type'), 'application/json',
    'HEAD api: content type');
is(http_body($head), '', 'HEAD api: no body');

$head = http_get('/monitoring', port => port(8082), method => 'HEAD');

is(http_status($head), 200, 'HEAD page: 200');
like(http_header($head, 'Content-Type') // '', qr{^text/html},
    'HEAD page: content type');
is(http_body($head), '', 'HEAD page: no body');

for my $path ('/monitoring', '/monitoring/api') {
    my $post = http_get($path, port => port(8082), method => 'POST',
        body => '{}');
    is(http_status($post), 405, "POST $path: 405");
}

# the page

my $page = http_get('/monitoring', port => port(8082));
my $ph = http_headers($page);
my $html = http_body($page);

is(http_status($page), 200, 'page: 200');
is($ph->{'content-type'}, 'text/html; charset=utf-8', 'page: content type');
like($ph->{'content-security-policy'} // '',
    qr/^default-src 'none'; connect-src 'self';/, 'page: CSP');
unlike($ph->{'content-security-policy'} // '', qr/https?:|\*/,
    'page: CSP allows no other host');
is($ph->{'x-content-type-options'}, 'nosniff', 'page: nosniff');
is(length $html, $ph->{'content-length'}, 'page: content length');
like($html, qr/id="status"/, 'page: status element');
like($html, qr/<tbody id="endpoints">/, 'page: endpoints table');

my @urls = grep { $_ ne 'http://www.w3.org/2000/svg' }
    $html =~ m{(https?://[^\s"'<>)]*)}g;
is("@urls", '', 'page: no URL but the SVG namespace');
unlike($html, qr{(?:src|href|action)\s*=\s*["']?(?:https?:)?//}i,
    'page: loads nothing from another host');

my $again = api('/monitoring?format=html');
like($again->{headers}{'content-type'} // '', qr{^text/html},
    'format=html: the page');

###############################################################################

# hostile request paths: still valid UTF-8 JSON, the strings kept

my $long = '/h/' . ('ab.' x 2800);

my %hostile = (
    '/h/%22q%22'                                => '/h/"q"',
    '/h/b%5Cs'                                  => '/h/b\\s',
    '/h/raw"q"'                                 => '/h/raw"q"',
    '/h/raw\\b'                                 => '/h/raw\\b',
    '/h/nl%0Ax'                                 => "/h/nl\nx",
    '/h/%FF%FEz'                                => "/h/\x{FFFD}\x{FFFD}z",
    '/h/%3Cimg%20src=x%20onerror=alert(1)%3E'   =>
        '/h/<img src=x onerror=alert(1)>',
    $long                                       => substr($long, 0, 255),
);

for my $path (sort keys %hostile) {
    my $resp = http_get($path, port => port(8080));
    is(http_status($resp), 200, 'hostile path answered: '
        . substr($path, 0, 40));
}

poll(sub {
    $r = api();
    return ($r->{data}{window}{requests} // 0) == $total + keys %hostile;
});

$d = $r->{data} // {};

is($r->{error}, undef, 'hostile: valid UTF-8 JSON')
    or diag(substr($r->{body}, 0, 2000));
is($d->{window}{requests}, $total + keys %hostile, 'hostile: counted');

%e = map { $_->{endpoint} => $_ } @{$d->{endpoints} // []};

for my $path (sort keys %hostile) {
    my $want = $hostile{$path};
    ok($e{$want} && $e{$want}{requests} == 1,
        'hostile endpoint: ' . substr($path, 0, 40))
        or diag(explain [ sort keys %e ]);
}

is(length $hostile{$long}, 255, 'long endpoint cut to 255 bytes');

like($r->{body}, qr{"/h/\\"q\\""}, 'quote escaped in JSON');
like($r->{body}, qr{"/h/nl\\nx"}, 'newline escaped in JSON');

$t->stop();

###############################################################################

# a handler without a zone: its location's, the only one, or an error

my $c = Test::Monitoring->new();

sub config {
    my ($zones, $server) = @_;

    my $conf = <<"EOF";

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

$zones

    server {
        listen       127.0.0.1:%%PORT_8090%%;
        server_name  localhost;

$server
    }
}

EOF

    $c->write_file_expand('nginx.conf', $conf);

    my ($ok, $out) = $c->test_config();

    # the line of the handler directive in the file

    my @lines = split /\n/, $c->read_file('nginx.conf'), -1;
    my ($line) = grep { $lines[$_ - 1] =~ /monitoring_(?:dashboard|health);/ }
        1 .. @lines;

    return ($ok ? undef : $out, $line);
}

my $two = "    monitoring_zone  a  1m;\n    monitoring_zone  b  1m;\n";
my $file = $c->testdir() . '/nginx.conf';

for my $directive (qw(monitoring_dashboard monitoring_health)) {
    my ($err, $line) = config($two,
        "        location /m {\n            $directive;\n        }\n");

    like($err, qr/"$directive" directive needs a zone: several zones are declared, and its location records into none, in \Q$file:$line\E/,
        "$directive: several zones, none recorded into")
        or diag("line $line");

    ($err) = config($two, "        monitoring b;\n"
        . "        location /m {\n            $directive;\n        }\n");
    is($err, undef, "$directive: the zone of the server");

    ($err) = config($two, "        location /m {\n"
        . "            monitoring a;\n            $directive;\n        }\n");
    is($err, undef, "$directive: the zone of the location");

    ($err) = config($two, "        location /m {\n"
        . "            $directive b;\n        }\n");
    is($err, undef, "$directive: a zone named");

    ($err) = config("    monitoring_zone  a  1m;\n",
        "        location /m {\n            $directive;\n        }\n");
    is($err, undef, "$directive: the only zone");

    ($err, $line) = config('',
        "        location /m {\n            $directive;\n        }\n");
    like($err, qr/"$directive" directive needs a zone: no zone is declared/,
        "$directive: no zone declared");
}

done_testing();

###############################################################################
