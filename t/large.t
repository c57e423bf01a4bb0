#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: a scrape of thousands of series is
# complete and valid in both formats, over HTTP/1.0, keepalive, and while
# requests are being recorded.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use POSIX ();
use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep time);

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

    monitoring_zone  main  32m;

    server {
        listen       127.0.0.1:%%PORT_8080%% reuseport;
        server_name  localhost;

        monitoring main;

        location / {
            return 200 "ok\n";
        }

        location /metrics {
            monitoring off;
            monitoring_metrics;
        }
    }
}

EOF

$t->run();

###############################################################################

my $N = 5000;

my $r = http_pipeline([ map { "/s/$_" } 1 .. $N ], parallel => 2);
is($r->{200}, $N, "$N distinct endpoints");

my ($h, $body, $m);

poll(sub {
    ($h, $body) = metrics(port(8080));
    $m = parse_metrics($body);
    return metric_sum($m, 'nginx_http_requests_total', {}) == $N;
}, timeout => 5);

is(metric_sum($m, 'nginx_http_requests_total', {}), $N, 'all counted');
is(scalar(metric_find($m, 'nginx_http_requests_total',
    { endpoint => qr{^/s/\d+$} })), $N, "$N series");
is(scalar(metric_find($m, 'nginx_http_request_duration_seconds_bucket',
    { endpoint => qr{^/s/\d+$} })), $N * 12, 'all buckets');
is(metric_value($m, 'nginx_monitoring_series', { zone => 'main' }), $N,
    'series gauge');
is(metric_value($m, 'nginx_monitoring_series_dropped_total',
    { zone => 'main' }), 0, 'nothing dropped');
is(scalar(grep { $_->{error} } @$m), 0, 'every line parsed');
is(join("\n", histogram_errors($m, totals => 1)), '', 'histograms');
like($body, qr/\nnginx_build_info\{[^\n]*\} 1\n\z/, 'body complete');

my %seen;
my @dup = grep { $seen{$_}++ } map { $_->{line} =~ /^(\S+\})/ ? $1 : () }
    @$m;
is(scalar @dup, 0, 'no sample twice') or diag(join "\n", @dup[0 .. 4]);

my ($ok, $out) = promtool_check($body);
ok($ok, 'promtool check metrics') or diag(substr($out, 0, 2000));

# OpenMetrics

my ($oh, $om) = metrics(port(8080), accept => 'application/openmetrics-text');
like($oh->{'content-type'}, qr{^application/openmetrics-text},
    'openmetrics content type');
like($om, qr/\n# EOF\n\z/, 'openmetrics complete');

my $mo = parse_metrics($om);
is(metric_sum($mo, 'nginx_http_requests_total', {}), $N,
    'openmetrics: all counted');

# HTTP/1.0: no chunked encoding, the same body

my $r10 = http_get('/metrics', version => 'HTTP/1.0');
is(http_status($r10), 200, 'HTTP/1.0 scrape');

sub zone_lines {
    join "\n", grep { /zone="main"/ } split /\n/, $_[0];
}

my $zl = zone_lines($body);
ok(length $zl > 1000000 && zone_lines(http_body($r10)) eq $zl,
    'HTTP/1.0 scrape: same zone samples');

# two scrapes on one keepalive connection

my $k = http_pipeline([ '/metrics', '/metrics', '/metrics' ], batch => 1);
is($k->{200}, 3, 'keepalive scrapes');

###############################################################################

# scrapes while requests are recorded, old and new series: each must be
# valid on its own (cumulative buckets, +Inf = _count)

my $ab = $t->spawn([ 'ab', '-q', '-k', '-c', '4', '-t', '3', '-n', '1000000',
    '-s', '5', 'http://127.0.0.1:' . port(8080) . '/s/1' ]);

my $creator = $t->spawn_sub(sub {
    http_pipeline([ map { "/n/$_" } 1 .. 3000 ], batch => 20,
        timeout => 10);
});

my @errors;
my $scrapes = 0;
my $deadline = time() + 3;

# consistency, not speed: at least two scrapes, however slow the machine

while ((time() < $deadline || $scrapes < 2)
       && $scrapes < 20 && time() < $deadline + 15)
{
    my ($sh, $sbody) = metrics(port(8080));
    my $sm = parse_metrics($sbody);
    $scrapes++;

    push @errors, "status $sh->{status}" unless ($sh->{status} // 0) == 200;
    push @errors, "parse errors" if grep { $_->{error} } @$sm;
    push @errors, "incomplete" unless $sbody =~ /\nnginx_build_info\{/;
    push @errors, histogram_errors($sm);
    last if @errors;
}

cmp_ok($scrapes, '>=', 2, 'scrapes under load');
is(join("\n", @errors[0 .. ($#errors > 9 ? 9 : $#errors)]), '',
    'scrapes under load are consistent');

$t->reap($ab, 15);

$t->reap($creator, 10);

poll(sub {
    ($h, $body) = metrics(port(8080));
    $m = parse_metrics($body);
    return metric_sum($m, 'nginx_http_requests_total',
        { endpoint => qr{^/n/} }) == 3000;
}, timeout => 5);

is(metric_sum($m, 'nginx_http_requests_total', { endpoint => qr{^/n/} }),
    3000, 'series created under scrapes');
is(join("\n", histogram_errors($m, totals => 1)), '',
    'histograms after load');

###############################################################################

$t->done_testing();

###############################################################################
