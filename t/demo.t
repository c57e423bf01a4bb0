#!/usr/bin/perl

# Tests for the demo (make run, demo/run.sh, docs/demo.md), run as a
# user runs it: the runner prints the URLs; the dashboard, /metrics and
# /health answer; the traffic generator's requests are counted, over
# endpoints of different latencies and an upstream; its incident makes
# the demo alert fire; SIGINT to the runner stops nginx and the
# generator.  Also: the configuration of the Docker image passes
# nginx -t, and a screenshot of the dashboard for a human.
#
# TEST_DEMO_SCREENSHOT_AFTER=S takes the screenshot S seconds after the
# demo started (at once by default), when its charts have some history:
# the README's docs/img/dashboard.png was taken with 660.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Copy qw(copy);
use File::Path qw(make_path);
use POSIX qw(WNOHANG);
use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep time);

###############################################################################

my $t = Test::Monitoring->new();

my $echo = $ENV{TEST_NGINX_ECHO}
    // '/usr/lib/nginx/modules/ngx_http_echo_module.so';

plan(skip_all => 'the demo loads the module') if $ENV{TEST_NGINX_STATIC};
plan(skip_all => 'no module built') unless -f $t->module_path();
plan(skip_all => 'no echo module') unless -f $echo;
plan(skip_all => 'no curl') unless grep { -x "$_/curl" } split /:/,
    $ENV{PATH} // '';

my $dir = $t->testdir();
my $runner = "$Test::Monitoring::REPO/demo/run.sh";
my $nginx = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';

# the workers run as nobody: they read PREFIX/html

chmod 0755, $dir;

my $shot_after = $ENV{TEST_DEMO_SCREENSHOT_AFTER} // 0;

my %env = (
    PORT => port(8080),
    BACKEND_PORT => port(8081),
    NGINX => $nginx,
    MODULE => $t->module_path(),
    ECHO_MODULE => $echo,
    DEMO_PREFIX => "$dir/demo",
    DEMO_DURATION => 300 + $shot_after,
    DEMO_INCIDENT_START => 3,
    DEMO_INCIDENT_EVERY => 120,
    DEMO_INCIDENT_LENGTH => 60,
);

###############################################################################

sub group {
    my ($pgrp) = @_;
    my $p = processes();
    return grep { $p->{$_}{pgrp} == $pgrp && $p->{$_}{state} ne 'Z' }
        sort { $a <=> $b } keys %$p;
}

sub read_text {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return <$fh> // '';
}

###############################################################################

# the configuration of the Docker image: as its Dockerfile makes it

{
    local %ENV = (%ENV, %env, PORT => 8080, BACKEND_PORT => 8081,
        DEMO_PREFIX => "$dir/docker", DEMO_LISTEN => '0.0.0.0',
        DEMO_ALLOW => 'all');

    my $out = `$runner --check 2>&1`;

    is($?, 0, 'docker configuration passes nginx -t') or diag($out);

    my $conf = read_text("$dir/docker/nginx.conf");
    like($conf, qr/^\s*listen 0\.0\.0\.0:8080;/m, 'docker: listens on all');
    like($conf, qr/^\s*allow all;/m, 'docker: dashboard open');
    unlike($conf, qr/@[A-Z_]+@/, 'docker: no placeholder left');
}

# a prefix that is not empty and not a demo's is left alone

{
    mkdir "$dir/site";
    mkdir "$dir/site/html";
    open my $fh, '>', "$dir/site/html/index.html" or die "$!\n";
    close $fh;

    local %ENV = (%ENV, %env, DEMO_PREFIX => "$dir/site");

    my $out = `$runner --check 2>&1`;

    isnt($?, 0, 'foreign prefix refused');
    like($out, qr/is not empty and not a demo's prefix/,
        'foreign prefix: message');
    ok(-f "$dir/site/html/index.html", 'foreign prefix: files kept');
}

###############################################################################

# the demo, in its own process group: a Ctrl-C of a terminal reaches
# that group, as SIGINT does below

my $out = "$dir/runner.out";
my $pid = fork() // die "fork: $!\n";

if ($pid == 0) {
    setpgrp(0, 0);
    @ENV{keys %env} = values %env;
    open STDIN, '<', '/dev/null';
    open STDOUT, '>', $out;
    open STDERR, '>&', \*STDOUT;
    exec $runner or POSIX::_exit(127);
}

my $runner_status;

# whatever happens, nothing of the demo survives the test

END {
    return unless $pid;

    for my $sig ('TERM', 'KILL') {
        last unless group($pid);
        kill $sig, -$pid;
        my $until = time() + 5;
        sleep 0.1 while group($pid) && time() < $until;
    }

    waitpid($pid, 0) unless defined $runner_status;
}

my $started = time();

poll(sub { read_text($out) =~ /stop with Ctrl-C/
    || waitpid($pid, WNOHANG) == $pid }, timeout => 20);

my $printed = read_text($out);
my $url = 'http://127.0.0.1:' . port(8080);

like($printed, qr{^\s*dashboard\s+\Q$url\E/monitoring$}m, 'dashboard URL');
like($printed, qr{^\s*metrics\s+\Q$url\E/metrics$}m, 'metrics URL');
like($printed, qr{^\s*health\s+\Q$url\E/health$}m, 'health URL');

unless ($printed =~ /stop with Ctrl-C/) {
    diag("the demo did not start:\n$printed");
    done_testing();
    exit 1;
}

# the configuration it wrote

my $r = `$nginx -t -p $dir/demo/ -c nginx.conf -e logs/t.log 2>&1`;
is($?, 0, 'demo configuration passes nginx -t') or diag($r);

# the pages a user opens

$r = http_get('/monitoring', port => port(8080));
is(http_status($r), 200, 'dashboard');
like(http_header($r, 'Content-Type') // '', qr{^text/html}, 'dashboard html');

my $health = http_json('/health', port => port(8080));
like($health->{status} // '', qr/^(200|503)$/, 'health answers');
like($health->{data}{status} // '', qr/^(healthy|warning|degraded)$/,
    'health status');

is(http_status(http_get('/static/app.css', port => port(8080))), 200,
    'demo site static file');

# the generator's traffic, counted and growing

sub scrape {
    my (undef, $body) = metrics(port(8080));
    return parse_metrics($body);
}

my @endpoints = ('/api/users/{id}', '/api/orders/{id}', '/api/search',
    '/checkout', '/proxy/inventory/{id}', '/static/app.css');

my $n1 = poll(sub {
    metric_sum(scrape(), 'nginx_http_requests_total') >= 10;
}, timeout => 10, interval => 0.5);
$n1 = metric_sum(scrape(), 'nginx_http_requests_total');

# every endpoint of the mix, a few slow requests among them

my $m;

poll(sub {
    $m = scrape();
    return 0 if grep { !metric_sum($m, 'nginx_http_requests_total',
        { endpoint => $_ }) } @endpoints;
    metric_sum($m, 'nginx_http_request_duration_seconds_count',
        { endpoint => '/api/search' }) >= 5;
}, timeout => 30, interval => 1);

my $n2 = metric_sum($m, 'nginx_http_requests_total');

ok($n1 >= 10, "generator's requests counted: $n1");
ok($n2 > $n1, "and growing: $n2");

for my $e (@endpoints) {
    ok(metric_sum($m, 'nginx_http_requests_total', { endpoint => $e }),
        "endpoint $e")
        or diag(join "\n", map { $_->{line} }
            metric_find($m, 'nginx_http_requests_total'));
}

ok(metric_find($m, 'nginx_http_requests_total', { app => 'demo' }),
    'custom label');
ok(!metric_find($m, 'nginx_http_requests_total',
    { endpoint => qr{^/(?:metrics|monitoring|health)} }),
    'scrapes and health checks not counted');
ok(metric_sum($m, 'nginx_http_upstream_requests_total',
    { upstream => 'backend' }), 'upstream series');

sub mean_ms {
    my ($e) = @_;
    my $n = metric_sum($m, 'nginx_http_request_duration_seconds_count',
        { endpoint => $e });
    my $s = metric_sum($m, 'nginx_http_request_duration_seconds_sum',
        { endpoint => $e });
    return $n ? 1000 * $s / $n : 0;
}

my $fast = mean_ms('/api/users/{id}');
my $slow = mean_ms('/api/search');

ok($fast < 60, "fast endpoint: mean $fast ms");
ok($slow >= 50 && $slow > 3 * $fast, "slow endpoint: mean $slow ms");

# the incident: the demo alert fires, /health says degraded

my $firing = poll(sub {
    metric_value(scrape(), 'nginx_alerts',
        { alertname => 'HighErrorRate', alertstate => 'firing' });
}, timeout => 60, interval => 1);

ok($firing, sprintf('HighErrorRate fires, %.0f s after the start',
    time() - $started));

$health = http_json('/health', port => port(8080));
is($health->{data}{status} // '', 'degraded', 'health degraded meanwhile');

$m = scrape();
ok(!metric_find($m, 'nginx_alerts', { alertname => 'SlowRequests' }),
    'the other rule stays inactive');

like(read_text($out), qr/^traffic: incident/m, 'incident announced');

###############################################################################

# a screenshot of the dashboard of the running demo, for a human

SKIP: {
    skip 'no chromium', 1 unless chromium();

    my $file = "$dir/demo-dashboard.png";

    sleep 1 while time() < $started + $shot_after;

    my ($st) = $t->browser('shot', "$url/monitoring",
        '--window-size=1280,1600', "--screenshot=$file");

    ok(defined $st && $st == 0 && -s $file, 'dashboard screenshot');

    if (-s $file) {
        my $shots = "$Test::Monitoring::REPO/build/screenshots";
        make_path($shots);
        copy($file, "$shots/demo-dashboard.png");
    }
}

###############################################################################

# Ctrl-C: the runner stops nginx, its workers and the generator

my $procs = processes();
delete @$procs{ grep { $procs->{$_}{state} eq 'Z' } keys %$procs };
my $master = read_text("$dir/demo/logs/nginx.pid") =~ /(\d+)/ ? $1 : 0;
my @workers = grep { $procs->{$_}{ppid} == $master } keys %$procs;
my ($gen) = grep { $procs->{$_}{ppid} == $pid
    && $procs->{$_}{cmd} =~ /traffic\.sh/ } keys %$procs;

is($procs->{$master}{ppid} // 0, $pid, 'nginx runs under the runner');
is(scalar @workers, 2, 'two workers');
ok($gen, 'generator runs under the runner');

# as a terminal's Ctrl-C: to the whole group, nginx and the generator
# get it too

kill 'INT', -$pid;

my $until = time() + 20;
sleep 0.1 until waitpid($pid, WNOHANG) == $pid || time() > $until;
$runner_status = $? if time() <= $until;

is($runner_status // -1, 130 << 8, 'runner exits on SIGINT');

my @left = grep { kill 0, $_ } grep { $_ } $master, @workers, $gen;
is("@left", '', 'nginx, workers, generator gone');
is(join(' ', group($pid)), '', 'nothing left in the group');

like(read_text($out), qr/^demo: stopped$/m, 'runner says stopped');
ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => port(8080),
    Proto => 'tcp'), 'port closed');

my @bad = grep { /\[(?:alert|emerg|crit)\]/ }
    split /\n/, read_text("$dir/demo/logs/error.log");
is(join("\n", @bad), '', 'no alerts in the error log');

diag(sprintf 'demo test took %.0f s', time() - $started)
    if $ENV{TEST_NGINX_VERBOSE};

done_testing();

###############################################################################
