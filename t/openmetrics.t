#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: OpenMetrics exposition chosen by
# the Accept header, the text format otherwise.

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

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  localhost;

        monitoring main;

        location / {
            return 200 "ok\n";
        }

        location /missing {
            return 404;
        }

        location /metrics {
            monitoring_metrics;
        }
    }
}

EOF

$t->run();

###############################################################################

my $TEXT = 'text/plain; version=0.0.4; charset=utf-8';
my $OM = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

# what Prometheus 2.42 sends

my $PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,'
    . 'application/openmetrics-text;version=0.0.1;q=0.75,'
    . 'text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

my %counters = map { $_ => 1 } qw(
    nginx_http_requests
    nginx_http_request_size_bytes
    nginx_http_response_size_bytes
    nginx_http_slow_requests
    nginx_worker_requests
    nginx_worker_restarts
    nginx_monitoring_series_dropped
    nginx_http_connections_accepted
    nginx_http_connections_handled
);

for (1 .. 3) {
    like(http_get("/x"), qr{^HTTP/1.1 200}, "GET /x $_");
}

like(http_get("/missing"), qr{^HTTP/1.1 404}, 'GET /missing');
like(http_get("/a\"b%0Ac\\d"), qr{^HTTP/1.1 200}, 'GET with escapes');

# text format without Accept, with a text Accept, with */*

for my $accept (undef, 'text/plain;version=0.0.4', '*/*',
    'application/json')
{
    my $name = 'Accept ' . ($accept // 'none');
    my ($h, $body) = metrics(port(8080), accept => $accept);

    is($h->{status}, 200, "$name: status");
    is($h->{'content-type'}, $TEXT, "$name: text format");
    unlike($body, qr/^# EOF/m, "$name: no # EOF");
    like($body, qr/^# TYPE nginx_http_requests_total counter$/m,
        "$name: counter TYPE with _total");
}

# OpenMetrics

for my $accept ($PROMETHEUS_ACCEPT, 'application/openmetrics-text',
    'application/openmetrics-text; version=1.0.0',
    'text/html, application/openmetrics-text;q=0.9')
{
    my ($h, $body) = metrics(port(8080), accept => $accept);

    is($h->{status}, 200, "Accept $accept: status");
    is($h->{'content-type'}, $OM, "Accept $accept: openmetrics");
    check_om($body, "Accept $accept");
}

# the same counts in both formats

my (undef, $text) = metrics(port(8080));
my (undef, $om) = metrics(port(8080), accept => $PROMETHEUS_ACCEPT);

my $mt = parse_metrics($text);
my $mo = parse_metrics($om);

for my $m ([ $mt, 'text' ], [ $mo, 'openmetrics' ]) {
    is(metric_sum($m->[0], 'nginx_http_requests_total',
        { zone => 'main', endpoint => '/x', method => 'GET', status => '200' }),
        3, "$m->[1]: requests_total /x");
    is(metric_sum($m->[0], 'nginx_http_requests_total',
        { zone => 'main', endpoint => '/missing', status => '404' }),
        1, "$m->[1]: requests_total /missing");
    is(metric_sum($m->[0], 'nginx_http_requests_total',
        { zone => 'main', endpoint => "/a\"b\nc\\d" }),
        1, "$m->[1]: escaped endpoint");
    is(metric_sum($m->[0], 'nginx_http_request_duration_seconds_count',
        { zone => 'main', endpoint => '/x' }), 3, "$m->[1]: histogram count");
    is(metric_value($m->[0], 'nginx_up', {}), 1, "$m->[1]: nginx_up");
}

ok(index($om, 'endpoint="/a\\"b\\nc\\\\d"') >= 0,
    'openmetrics: label escaping');

###############################################################################

$t->done_testing();

###############################################################################

sub check_om {
    my ($body, $name) = @_;

    like($body, qr/\n# EOF\n\z/, "$name: ends with # EOF");
    is(scalar(() = $body =~ /^# EOF$/mg), 1, "$name: one # EOF");
    unlike($body, qr/^$/m, "$name: no empty lines");
    unlike($body, qr/^# TYPE \S+_total counter$/m,
        "$name: no counter TYPE with _total");

    my (%type, %help, %seen, @errors);
    my $current;

    for my $line (split /\n/, $body) {
        last if $line eq '# EOF';

        if ($line =~ /^# (HELP|TYPE|UNIT) (\S+)(?: (.*))?$/) {
            my ($kw, $family, $rest) = ($1, $2, $3);

            push @errors, "$kw $family twice"
                if $kw eq 'TYPE' && $type{$family}
                    || $kw eq 'HELP' && $help{$family};
            push @errors, "family $family is not contiguous"
                if $seen{$family} && $current ne $family;

            $type{$family} = $rest if $kw eq 'TYPE';
            $help{$family} = 1 if $kw eq 'HELP';
            $seen{$family} = 1;
            $current = $family;
            next;
        }

        if ($line =~ /^#/) {
            push @errors, "stray comment: $line";
            next;
        }

        my ($sample) = $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)/;
        my $type = $type{$current // ''} // '';

        my $ok = !defined $sample ? 0
            : $type eq 'counter' ? $sample =~ /^\Q$current\E_(?:total|created)$/
            : $type eq 'histogram'
                ? $sample =~ /^\Q$current\E_(?:bucket|sum|count|created)$/
            : $type eq 'gauge' ? $sample eq $current
            : 0;

        push @errors, "sample not in its family ($type "
            . ($current // '') . "): $line" unless $ok;
    }

    is(join("\n", @errors), '', "$name: families and samples");

    for my $f (sort keys %counters) {
        is($type{$f}, 'counter', "$name: $f is a counter");
        ok($help{$f}, "$name: $f has HELP");
    }

    is($type{nginx_http_request_duration_seconds}, 'histogram',
        "$name: duration histogram");

    for my $f (qw(nginx_http_connections nginx_monitoring_series
        nginx_monitoring_zone_bytes nginx_start_time_seconds nginx_up
        nginx_build_info))
    {
        is($type{$f}, 'gauge', "$name: $f is a gauge");
    }
}

###############################################################################
