#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: the dashboard page in a real
# browser (headless Chromium): it loads its data from LOCATION/api only,
# shows the status and the endpoints, renders a hostile request path as
# text, lists the alert rules with their state, and fits a desktop and a
# phone screen (screenshots for a human).

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Copy qw(copy);
use File::Path qw(make_path);
use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep time);

###############################################################################

plan(skip_all => 'no chromium') unless chromium();

my $t = Test::Monitoring->new();

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format  uri  '$request_uri';

    monitoring_zone  main  1m;

    monitoring_alert_interval  1s;
    monitoring_alert  MissingPages  "count(404) >= 1"  window=1m
                      severity=critical
                      summary="<b>pages</b> are missing";
    monitoring_alert  Slow  "p95 > 5s"  window=1m;

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  app;

        monitoring main;

        location / {
            return 200 "ok\n";
        }

        location /missing {
            return 404;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%%;
        server_name  dashboard;

        monitoring off;
        access_log %%TESTDIR%%/logs/dashboard.log uri;

        location /monitoring {
            monitoring_dashboard;
        }

        location / {
            return 404;
        }
    }
}

EOF

$t->run();

###############################################################################

my $hostile = '<img src=x onerror=alert(1)>';
my $hostile_path = '/h/%3Cimg%20src=x%20onerror=alert(1)%3E';

my @paths = ((('/api/users/list') x 30), (('/about') x 10),
    (('/missing') x 2), $hostile_path);

my $res = http_pipeline(\@paths, port => port(8080));
is($res->{total}, scalar @paths, 'traffic sent');

my $api;

poll(sub {
    $api = http_json('/monitoring/api', port => port(8081))->{data} // {};
    return ($api->{window}{requests} // 0) == @paths;
});

is($api->{window}{requests}, scalar @paths, 'traffic in the window');

my $status = $api->{status} // 'none';
my $top = $api->{endpoints}[0]{endpoint} // 'none';

is($top, '/api/users/list', 'top endpoint in the API');

poll(sub {
    $api = http_json('/monitoring/api', port => port(8081))->{data} // {};
    my ($r) = grep { $_->{name} eq 'MissingPages' }
        @{ $api->{alerts}{rules} // [] };
    return ($r->{state} // '') eq 'firing';
}, timeout => 10);

is($api->{alerts}{firing}, 1, 'an alert fires');
$status = $api->{status} // 'none';

# the page references no other host: only the SVG namespace, which
# is a name, not a request

my $page = http_body(http_get('/monitoring', port => port(8081)));
my @urls = grep { $_ ne 'http://www.w3.org/2000/svg' }
    $page =~ m{(https?://[^\s"'<>)\\]*)}g;

is("@urls", '', 'page source: no URL of another host');

###############################################################################

# the browser, bounded in time, in its own process group

my $dir = $t->testdir();
my $url = 'http://127.0.0.1:' . port(8081) . '/monitoring';
my $log_offset = length $t->read_file('logs/dashboard.log');

sub browser {
    my ($name, @args) = @_;
    return $t->browser($name, $url, @args);
}

my ($st, $dom) = browser('dom', '--dump-dom');

is($st, 0, 'chromium ran') or diag($t->read_file('logs/chromium-dom.err'));

my ($shown) = $dom =~ /<[^>]*\bid="status"[^>]*>([^<]*)</;
is($shown, $status, "status shown: $status");

my ($state) = $dom =~ /<[^>]*\bid="banner"[^>]*\bdata-state="([^"]*)"/;
is($state, $status, 'banner state');

my ($tbody) = $dom =~ m{<tbody id="endpoints"[^>]*>(.*?)</tbody>}s;
$tbody //= '';

my @rows = $tbody =~ m{(<tr\b.*?</tr>)}gs;
ok(@rows >= 4, 'endpoint rows') or diag($tbody);
like($rows[0] // '', qr{>\Q$top\E<}, 'top endpoint in the first row');

like($tbody, qr{&lt;img src=x onerror=alert\(1\)&gt;},
    'hostile path shown as text');
unlike($dom, qr{<img\b}i, 'no img element in the page');
unlike($dom, qr{<[a-z][^>]*\sonerror\s*=}i, 'no onerror attribute');

# the alerts: the firing rule first, its summary as text

my ($alerts) = $dom =~ m{<ul class="alert-list"[^>]*>(.*?)</ul>}s;
$alerts //= '';

like($alerts, qr{^<li id="alert-MissingPages"}, 'firing alert listed first')
    or diag($alerts);
like($alerts, qr{<li id="alert-MissingPages">.*?>firing<}s, 'firing badge');
like($alerts, qr{<li id="alert-Slow">.*?>inactive<}s, 'inactive rule listed');
like($alerts, qr{&lt;b&gt;pages&lt;/b&gt; are missing}, 'summary as text');

# the browser asked this host for the page and its data, nothing else

my $log = $t->read_file('logs/dashboard.log');
my @req = split /\n/, substr($log, $log_offset);

ok((grep { $_ eq '/monitoring' } @req), 'page requested');
ok((grep { $_ eq '/monitoring/api' } @req), 'api requested');
is(join(' ', grep { !m{^/monitoring(?:/api)?$} && $_ ne '/favicon.ico' }
    @req), '', 'nothing else requested') or diag("@req");

# screenshots, desktop and phone

my @shots;

for my $w ([ 1280, 1600 ], [ 390, 1400 ]) {
    my $file = "$dir/dashboard-$w->[0].png";

    my ($sst) = browser("shot-$w->[0]", "--window-size=$w->[0],$w->[1]",
        "--screenshot=$file");

    is($sst, 0, "screenshot $w->[0] px: chromium ran");
    ok(-s $file, "screenshot $w->[0] px: written");

    open my $fh, '<', $file;
    my $magic = '';
    read($fh, $magic, 8) if $fh;
    is($magic, "\x89PNG\r\n\x1a\n", "screenshot $w->[0] px: a PNG");

    push @shots, $file;
}

unless ($ENV{TEST_NGINX_LEAVE}) {
    my $out = "$Test::Monitoring::REPO/build/screenshots";
    make_path($out);
    copy($_, $out) for grep { -s } @shots;
    diag("screenshots in $out") if $ENV{TEST_NGINX_VERBOSE};
}

$t->done_testing();

###############################################################################
