#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: the Prometheus text exposition,
# its families, histograms, label escaping after hostile requests, custom
# buckets and the slow request counter.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Encode ();
use Test::More;
use Test::Monitoring;

###############################################################################

my $t = Test::Monitoring->new(echo => 1);

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    # raw $uri endpoints: this file is about them, not normalization
    monitoring_normalize_auto  off;

    large_client_header_buffers 4 16k;

    monitoring_zone  main  1m;

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  localhost;

        monitoring main;

        location / {
            return 200 "ok\n";
        }

        location /slow {
            monitoring_buckets 10ms 100ms 1s;
            monitoring_slow_threshold 20ms;

            echo_sleep 0.05;
            echo ok;
        }

        location /fast {
            monitoring_buckets 10ms 100ms 1s;
            monitoring_slow_threshold 20ms;

            return 200 "ok\n";
        }

        location /seconds {
            monitoring_buckets 0.005 0.25 2;
            return 200 "ok\n";
        }

        location /ep {
            monitoring_endpoint $http_x_endpoint;
            return 200 "ok\n";
        }

        location /metrics {
            monitoring_metrics;
        }
    }
}

EOF

my $started = time();

$t->run();

###############################################################################

my %families = (
    nginx_http_requests_total => 'counter',
    nginx_http_request_duration_seconds => 'histogram',
    nginx_http_request_size_bytes_total => 'counter',
    nginx_http_response_size_bytes_total => 'counter',
    nginx_http_slow_requests_total => 'counter',
    nginx_worker_requests_total => 'counter',
    nginx_worker_restarts_total => 'counter',
    nginx_monitoring_series => 'gauge',
    nginx_monitoring_series_dropped_total => 'counter',
    nginx_monitoring_zone_bytes => 'gauge',
    nginx_start_time_seconds => 'gauge',
    nginx_http_connections => 'gauge',
    nginx_http_connections_accepted_total => 'counter',
    nginx_http_connections_handled_total => 'counter',
    nginx_up => 'gauge',
    nginx_build_info => 'gauge',
);

my @default_le = qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf);

# checks of the format that hold for any scrape

sub check_format {
    my ($body, $what) = @_;

    my (%help, %type, %seen, @errors);
    my $current;

    for my $line (split /\n/, $body) {
        if ($line =~ /^# (HELP|TYPE) (\S+)(?: (.*))?$/) {
            my ($kw, $name, $rest) = ($1, $2, $3);
            if ($kw eq 'HELP') {
                $help{$name}++;
            } else {
                $type{$name} = $type{$name} ? 'dup' : $rest;
            }
            push @errors, "family $name is not contiguous"
                if $seen{$name} && ($current // '') ne $name;
            $current = $name;
            $seen{$name} = 1;
            next;
        }

        next if $line =~ /^#/;

        my ($name) = $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)/;
        unless (defined $name) {
            push @errors, "bad line: $line";
            next;
        }

        my $family = $name;
        if (!$type{$family}) {
            ($family) = $name =~ /^(.*)_(?:bucket|sum|count)$/;
            $family = $name unless $family && $type{$family};
        }

        push @errors, "sample $name without TYPE" unless $type{$family};
        push @errors, "sample $name outside its family"
            unless ($current // '') eq $family;
    }

    is(join("\n", @errors), '', "$what: families contiguous and typed");

    my @dup = grep { $help{$_} != 1 } keys %help;
    push @dup, grep { ($type{$_} // '') eq 'dup' } keys %type;
    push @dup, grep { !$help{$_} } keys %type;
    is(join(',', sort @dup), '', "$what: one HELP and one TYPE per family");

    for my $f (sort keys %families) {
        is($type{$f}, $families{$f}, "$what: $f is a $families{$f}");
    }

    # histograms: per series, le increasing, cumulative, +Inf last = _count

    my $m = parse_metrics($body);

    ok(scalar metric_find($m, 'nginx_http_request_duration_seconds_bucket'),
        "$what: histogram series present");
    is(join("\n", histogram_errors($m, totals => 1)), '',
        "$what: histograms consistent");

    my ($ok, $out) = promtool_check($body);
    ok($ok, "$what: promtool check metrics") or diag($out);

    return $m;
}

###############################################################################

# a first scrape, with some ordinary traffic

like(http_get('/'), qr{^HTTP/1.1 200}, 'GET /');
like(http_get('/a/b?c=d'), qr{^HTTP/1.1 200}, 'GET /a/b?c=d');
like(http_get('/seconds'), qr{^HTTP/1.1 200}, 'GET /seconds');

for (1 .. 3) {
    like(http_get('/slow'), qr/ok/, "slow request $_");
    like(http_get('/fast'), qr/ok/, "fast request $_");
}

my ($h, $body) = metrics(port(8080));

is($h->{status}, 200, 'metrics status');
is($h->{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8',
    'metrics content type');
unlike($body, qr/^# EOF/m, 'no EOF marker in text format');

my $m = check_format($body, 'plain');

# global metrics

is(metric_value($m, 'nginx_up', {}), 1, 'nginx_up');
is(metric_value($m, 'nginx_build_info', { version => '1.22.1' }), 1,
    'nginx_build_info version');
like((metric_find($m, 'nginx_build_info'))[0]{labels}{module_version} // '',
    qr/^\S+$/, 'nginx_build_info module_version');

for my $state (qw(active reading writing waiting)) {
    ok(defined metric_value($m, 'nginx_http_connections',
        { state => $state }), "connections $state");
}

cmp_ok(metric_value($m, 'nginx_http_connections', { state => 'active' })
    // 0, '>=', 1, 'connections active');
cmp_ok(metric_value($m, 'nginx_http_connections_accepted_total', {}) // 0,
    '>=', 9, 'connections accepted');
cmp_ok(metric_value($m, 'nginx_http_connections_handled_total', {}) // 0,
    '>=', 9, 'connections handled');

is(scalar(grep { exists $_->{labels}{zone} }
    metric_find($m, 'nginx_up'), metric_find($m, 'nginx_build_info'),
    metric_find($m, 'nginx_http_connections'),
    metric_find($m, 'nginx_http_connections_accepted_total')), 0,
    'global metrics have no zone label');

my $st = metric_value($m, 'nginx_start_time_seconds', { zone => 'main' });
ok(defined $st && $st >= $started - 5 && $st <= time() + 1,
    'start time') or diag("start time " . ($st // 'none'));

is(metric_value($m, 'nginx_monitoring_zone_bytes',
    { zone => 'main', state => 'size' }), 1048576, 'zone bytes size');

my $used = metric_value($m, 'nginx_monitoring_zone_bytes',
    { zone => 'main', state => 'used' });
ok(defined $used && $used > 0 && $used <= 1048576, 'zone bytes used');

cmp_ok(metric_value($m, 'nginx_monitoring_series', { zone => 'main' }) // 0,
    '>=', 5, 'series gauge');
is(metric_value($m, 'nginx_monitoring_series_dropped_total',
    { zone => 'main' }), 0, 'nothing dropped');
is(metric_value($m, 'nginx_worker_restarts_total', { zone => 'main' }), 0,
    'no worker restarts');
is(metric_sum($m, 'nginx_worker_requests_total', { zone => 'main' }),
    metric_sum($m, 'nginx_http_requests_total', { zone => 'main' }),
    'worker requests');

# endpoint is $uri, without the query string

is(metric_sum($m, 'nginx_http_requests_total',
    { endpoint => '/a/b', method => 'GET', status => '200',
        server => 'localhost', zone => 'main' }), 1, 'endpoint is $uri');

# buckets: default, custom in ms, custom in seconds

sub les {
    my ($endpoint) = @_;
    return join ' ', map { $_->{labels}{le} eq '+Inf' ? '+Inf'
        : 0 + $_->{labels}{le} }
        metric_find($m, 'nginx_http_request_duration_seconds_bucket',
            { endpoint => $endpoint });
}

is(les('/'), join(' ', map { $_ eq '+Inf' ? $_ : 0 + $_ } @default_le),
    'default buckets');
is(les('/fast'), '0.01 0.1 1 +Inf', 'buckets 10ms 100ms 1s');
is(les('/seconds'), '0.005 0.25 2 +Inf', 'buckets 0.005 0.25 2');

# slow requests: /slow takes 50ms with a 20ms threshold, /fast does not

is(metric_sum($m, 'nginx_http_slow_requests_total', { endpoint => '/slow' }),
    3, 'slow requests counted');
is(metric_sum($m, 'nginx_http_slow_requests_total', { endpoint => '/fast' }),
    0, 'fast requests not counted as slow');
is(metric_sum($m, 'nginx_http_slow_requests_total', { endpoint => '/' }),
    0, 'default threshold 1s');

is(join(' ', map { $_->{value} }
    metric_find($m, 'nginx_http_request_duration_seconds_bucket',
        { endpoint => '/slow' })), '0 3 3 3', 'slow requests in 100ms bucket');

my $sum = metric_value($m, 'nginx_http_request_duration_seconds_sum',
    { endpoint => '/slow' }) // 0;
ok($sum >= 0.14 && $sum < 3, 'slow requests duration sum') or diag($sum);

###############################################################################

# hostile requests

my %hostile = (
    'GET /q1"x HTTP/1.1' => '/q1"x',
    'GET /q2%22x HTTP/1.1' => '/q2"x',
    'GET /q3%0Ax HTTP/1.1' => "/q3\nx",
    'GET /q4\\x HTTP/1.1' => '/q4\\x',
    'GET /q5%5Cx HTTP/1.1' => '/q5\\x',
    'GET /q6<script>alert(1)</script> HTTP/1.1'
        => '/q6<script>alert(1)</script>',
    'GET /q7%3Cscript%3Ealert(%22x%22)%3C/script%3E HTTP/1.1'
        => '/q7<script>alert("x")</script>',
    'GET /caf%C3%A9 HTTP/1.1' => "/caf\xc3\xa9",
    "GET /q8\\\"\\n%5C%22%0A\\ HTTP/1.1" => "/q8\\\"\\n\\\"\n\\",
);

for my $line (sort keys %hostile) {
    like(http_get('', raw => "$line\r\nHost: localhost\r\n"
        . "Connection: close\r\n\r\n"), qr{^HTTP/1.1 200},
        "hostile request $line");
}

my $invalid = http_get('', raw => "GET /q9%FF%FEx HTTP/1.1\r\n"
    . "Host: localhost\r\nConnection: close\r\n\r\n");
like($invalid, qr{^HTTP/1.1 200}, 'invalid utf-8 request');

my $raw_invalid = http_get('', raw => "GET /q10\xff\xc3x HTTP/1.1\r\n"
    . "Host: localhost\r\nConnection: close\r\n\r\n");
like($raw_invalid, qr{^HTTP/1.1 200}, 'raw invalid utf-8 request');

my $long = '/q11/' . ('a' x 8192);
like(http_get($long), qr{^HTTP/1.1 200}, '8k path');

# a long path of 2-byte characters: truncation must not split one

like(http_get('/q12/' . ('%C3%A9' x 200)), qr{^HTTP/1.1 200},
    'long path of 2-byte characters');

# what Prometheus (Go's utf8.ValidString) refuses: overlong forms,
# surrogates, code points past U+10FFFF, a sequence cut at the end;
# a 4-byte character kept; control characters but tab and newline
# replaced, so that /metrics cannot drive a terminal (DEL is kept)

my %edge = (
    '/q13%C0%AFx' => undef,
    '/q14%ED%A0%80x' => undef,
    '/q15%F4%90%80%80x' => undef,
    '/q16%E2%82' => undef,
    '/q17%F0%9F%98%80x' => "/q17\xf0\x9f\x98\x80x",
    '/q18%01%09%0D%7Fx' => "/q18\xef\xbf\xbd\x09\xef\xbf\xbd\x7fx",
);

for my $path (sort keys %edge) {
    like(http_get($path), qr{^HTTP/1.1 200}, "edge request $path");
}

like(http_get('/host1', host => "\x01\x02\xff\xfe\x7f"), qr{^HTTP/1.1 },
    'binary host');
like(http_get('/host2', host => 'h' x 8000), qr{^HTTP/1.1 },
    'long host');
like(http_get('/host3', host => ''), qr{^HTTP/1.1 }, 'empty host');
like(http_get('/host4', host => 'a"b\\c'), qr{^HTTP/1.1 }, 'quoted host');

like(http_get('/ep', headers => "X-Endpoint: e1\"\\\xff\xfe<b>"),
    qr{^HTTP/1.1 200}, 'endpoint from a header');

($h, $body) = metrics(port(8080));

$m = check_format($body, 'hostile');

for my $line (sort keys %hostile) {
    is(metric_sum($m, 'nginx_http_requests_total',
        { endpoint => $hostile{$line} }), 1, "endpoint of $line");
}

ok(index($body, 'endpoint="/q1\\"x"') >= 0, 'quote escaped');
ok(index($body, 'endpoint="/q3\\nx"') >= 0, 'newline escaped');
ok(index($body, 'endpoint="/q4\\\\x"') >= 0, 'backslash escaped');
ok(index($body, 'endpoint="/q8\\\\\\"\\\\n\\\\\\"\\n\\\\"') >= 0,
    'mixed escapes');

my ($q9) = map { $_->{labels}{endpoint} }
    metric_find($m, 'nginx_http_requests_total', { endpoint => qr/^\/q9/ });
like($q9 // '', qr/^\/q9(?:\xef\xbf\xbd)+x$/, 'invalid utf-8 replaced');

my ($q10) = map { $_->{labels}{endpoint} }
    metric_find($m, 'nginx_http_requests_total', { endpoint => qr/^\/q10/ });
like($q10 // '', qr/^\/q10(?:\xef\xbf\xbd)+x$/, 'raw invalid utf-8 replaced');

my ($q11) = map { $_->{labels}{endpoint} }
    metric_find($m, 'nginx_http_requests_total', { endpoint => qr/^\/q11/ });
ok(defined $q11 && length($q11) <= 256 && length($q11) >= 128
    && index($long, $q11) == 0, 'long endpoint truncated')
    or diag(length($q11 // ''));

my ($q12) = map { $_->{labels}{endpoint} }
    metric_find($m, 'nginx_http_requests_total', { endpoint => qr/^\/q12/ });
ok(defined $q12 && length($q12) <= 256 && length($q12) >= 128
    && $q12 =~ /^\/q12\/(?:\xc3\xa9)+$/, 'long endpoint cut between characters')
    or diag(length($q12 // '') . ' ' . ($q12 // 'none'));

for my $path (sort keys %edge) {
    my ($prefix) = $path =~ m{^(/q\d+)};
    my @s = metric_find($m, 'nginx_http_requests_total',
        { endpoint => qr/^\Q$prefix\E/ });

    is(scalar @s, 1, "edge $path: one series");
    my $v = @s ? $s[0]{labels}{endpoint} : '';

    if (defined $edge{$path}) {
        is($v, $edge{$path}, "edge $path: as expected");
    } else {
        ok(_utf8($v) && $v =~ /\xef\xbf\xbd/, "edge $path: replaced")
            or diag(unpack 'H*', $v);
    }
}

my ($ep) = map { $_->{labels}{endpoint} }
    metric_find($m, 'nginx_http_requests_total', { endpoint => qr/^e1/ });
like($ep // '', qr/^e1"\\(?:\xef\xbf\xbd)+<b>$/,
    'endpoint from a header, invalid utf-8 replaced');

# every label value, and the whole body, is valid UTF-8

my @bad = grep { !_utf8($_) } map { values %{$_->{labels}} }
    grep { !$_->{error} } @$m;
is(scalar @bad, 0, 'label values are valid utf-8');
ok(_utf8($body), 'body is valid utf-8');

# the server label comes from the configuration, never from Host

my %servers = map { ($_->{labels}{server} // 'none') => 1 }
    metric_find($m, 'nginx_http_requests_total');
is(join(',', sort keys %servers), 'localhost', 'server label');

# nginx still serves

like(http_get('/'), qr{^HTTP/1.1 200}, 'still serving');

###############################################################################

$t->done_testing();

###############################################################################

sub _utf8 {
    my ($s) = @_;
    my $copy = $s;
    return eval { Encode::decode('UTF-8', $copy, Encode::FB_CROAK); 1 };
}

###############################################################################
