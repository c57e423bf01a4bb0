#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: the Prometheus files of
# contrib/prometheus, checked by the tools they are for.  promtool checks
# the configuration and the rules and runs the rules' unit tests; then a
# real Prometheus, started from contrib/prometheus/prometheus.yml (its
# targets and Alertmanager pointed at loopback), scrapes an nginx that
# answers 5xx, loads alerts.yml, and its API shows every rule evaluated
# without error, Errors5xx firing and sent to a real Alertmanager.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Monitoring;

###############################################################################

my $t = Test::Monitoring->new();

my $dir = "$Test::Monitoring::REPO/contrib/prometheus";
my ($promtool) = grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH};

plan(skip_all => 'no promtool') unless defined $promtool;

# a command's exit code and output (stdout and stderr), bounded

sub run_cmd {
    my (@cmd) = @_;

    my $pid = open(my $fh, '-|') // die "fork: $!\n";

    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec 'timeout', '60', @cmd or POSIX::_exit(127);
    }

    local $/;
    my $out = <$fh> // '';
    close $fh;

    return ($? >> 8, $out);
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!\n";
    local $/;
    return <$fh>;
}

###############################################################################

# promtool, on the files as they are in the repository

my $rules = slurp("$dir/alerts.yml");
my @names = $rules =~ /^\s*- alert: (\w+)/mg;
my $nrules = @names;

cmp_ok($nrules, '>=', 12, "alerts.yml has $nrules alerting rules");

my ($rc, $out) = run_cmd($promtool, 'check', 'config', "$dir/prometheus.yml");
is($rc, 0, 'promtool check config prometheus.yml') or diag($out);
like($out, qr/SUCCESS: 1 rule files found/, 'config: alerts.yml found');
like($out, qr/SUCCESS: \Q$nrules\E rules found/, 'config: rules valid');

($rc, $out) = run_cmd($promtool, 'check', 'rules', "$dir/alerts.yml");
is($rc, 0, 'promtool check rules alerts.yml') or diag($out);
like($out, qr/SUCCESS: \Q$nrules\E rules found/, 'rules: all rules found');

($rc, $out) = run_cmd($promtool, 'test', 'rules', "$dir/alerts_test.yml");
is($rc, 0, 'promtool test rules alerts_test.yml') or diag($out);
like($out, qr/SUCCESS/, 'unit tests succeed');

# every rule has unit tests where it fires and where it must not

my $tests = slurp("$dir/alerts_test.yml");

for my $name (@names) {
    my $fires = $tests =~ /alertname: $name\n\s+exp_alerts:\n\s+- exp_labels/;
    my $quiet = $tests =~ /alertname: $name\n\s+exp_alerts: \[\]/;
    ok($fires && $quiet, "$name: unit tests firing and not firing");
}

###############################################################################

SKIP: {

skip('no prometheus binary', 1) unless $t->has_prometheus();
skip('no alertmanager binary', 1) unless $t->has_alertmanager();

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m;
    monitoring  main;

    # a built-in rule and a webhook: the module's own alert series
    # exist for the health rules of alerts.yml

    monitoring_alert_interval  1s;
    monitoring_alert  BuiltinErrors  "count(5xx) >= 1"  window=1m;
    monitoring_alert_webhook  http://127.0.0.1:%%PORT_8093%%/api/v2/alerts;

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        listen       127.0.0.1:%%PORT_8081%%;
        server_name  localhost;

        location / {
            return 200 "ok\n";
        }

        location /fail {
            return 503;
        }

        location = /metrics {
            monitoring off;
            monitoring_metrics;
        }
    }
}

EOF

my $am = $t->alertmanager(port => 8093);

$t->run();

# one 503 before the first scrape: Prometheus sees that series from its
# first sample on, and the errors after it count in increase()

my $r = http_pipeline([ ('/') x 20, '/fail' ]);
is($r->{503}, 1, 'first error');

# contrib/prometheus/prometheus.yml with loopback targets: web-1 and
# web-2 are the two ports of the nginx, web-3 a port where nothing
# listens; every second instead of every 15

my $config = slurp("$dir/prometheus.yml");
my $down = $t->closed_port();
my $web1 = '127.0.0.1:' . port(8080);
my $web2 = '127.0.0.1:' . port(8081);
my $web3 = "127.0.0.1:$down";

my @subst = (
    [ 'scrape_interval: 15s', 'scrape_interval: 1s' ],
    [ 'scrape_timeout: 10s', 'scrape_timeout: 1s' ],
    [ 'evaluation_interval: 15s', 'evaluation_interval: 1s' ],
    [ 'web-1.example.com:80', $web1 ],
    [ 'web-2.example.com:80', $web2 ],
    [ 'web-3.example.com:80', $web3 ],
    [ 'alertmanager.example.com:9093', "127.0.0.1:$am->{port}" ],
);

for my $s (@subst) {
    my $n = $config =~ s/\Q$s->[0]\E/$s->[1]/g;
    ok($n, "prometheus.yml: $s->[0] replaced");
}

unlike($config, qr/example\.com/, 'prometheus.yml: only loopback targets');

my $p = $t->prometheus(config => $config, files => { 'alerts.yml' => $rules });

# wait for two scrapes of the 503 series, then more errors

my $res = $t->prom_wait($p,
    'count_over_time(nginx_http_requests_total{status="503"}[1m]) >= 2',
    sub { @{$_[0]} == 2 }, timeout => 20);
is(scalar @{$res // []}, 2,
    'prometheus scraped the 503 series of both instances twice');

$r = http_pipeline([ ('/') x 60, ('/fail') x 8 ]);
is($r->{503}, 8, 'more errors');

# the targets, with the cluster label of prometheus.yml

my $targets = $t->prom_targets($p);
my %tg = map { $_->{labels}{instance} => $_ } @$targets;

is(scalar @$targets, 3, 'three targets');
is($tg{$web1}{labels}{cluster}, 'shop-eu', 'web-1: cluster label');
is($tg{$web1}{labels}{job}, 'nginx', 'web-1: job');
like($tg{$web1}{scrapeUrl}, qr{^http://\Q$web1\E/metrics$}, 'web-1: /metrics');
is($tg{$web2}{health}, 'up', 'web-2 up');
is($tg{$web3}{labels}{cluster}, 'shop-us', 'web-3: cluster label');

# every rule evaluated without error

my $groups;

poll(sub {
    my $res = http_json('/api/v1/rules', port => $p->{port}, timeout => 5);
    $groups = $res->{data}{data}{groups} // [];
    my @rules = map { @{$_->{rules}} } @$groups;
    return @rules && !grep { $_->{health} ne 'ok' } @rules;
}, timeout => 15, interval => 0.25);

is(join(' ', sort map { $_->{name} } @$groups),
    'nginx-monitoring-health nginx-monitoring-recipes', 'rule groups loaded');

my @loaded = map { @{$_->{rules}} } @$groups;

is(join(' ', sort map { $_->{name} } @loaded), join(' ', sort @names),
    'every rule of alerts.yml loaded');
is(join(' ', map { "$_->{name}=$_->{health}" }
    grep { $_->{health} ne 'ok' } @loaded), '', 'every rule health ok');
is(join(' ', map { "$_->{name}: $_->{lastError}" }
    grep { ($_->{lastError} // '') ne '' } @loaded), '', 'no rule error');

# Errors5xx fires, for each nginx instance; HighErrorRate (for=5m),
# NoTraffic (no /api/ series: the `or` branch) and NginxDown for web-3
# (for=1m) are pending

my %alerts;

poll(sub {
    my $res = http_json('/api/v1/alerts', port => $p->{port}, timeout => 5);
    %alerts = ();
    for my $a (@{$res->{data}{data}{alerts} // []}) {
        my $l = $a->{labels};
        $alerts{"$l->{alertname} $l->{instance}"} = $a;
    }
    return ($alerts{"Errors5xx $web1"}{state} // '') eq 'firing'
        && ($alerts{"Errors5xx $web2"}{state} // '') eq 'firing'
        && $alerts{"NginxDown $web3"};
}, timeout => 20, interval => 0.25);

my $e = $alerts{"Errors5xx $web1"} // {};
my $l = $e->{labels} // {};

is($e->{state}, 'firing', 'Errors5xx firing');
is(join(',', map { "$_=$l->{$_}" } sort keys %$l),
    "alertname=Errors5xx,cluster=shop-eu,instance=$web1,severity=warning,"
    . 'zone=main', 'Errors5xx labels');
is($e->{annotations}{summary}, '5xx responses', 'Errors5xx summary');
cmp_ok($e->{value}, '>=', 5, 'Errors5xx value');
is(($alerts{"Errors5xx $web2"} // {})->{state}, 'firing',
    'Errors5xx firing for web-2');

is(($alerts{"HighErrorRate $web1"} // {})->{state}, 'pending',
    'HighErrorRate pending');
is(($alerts{"NoTraffic $web1"} // {})->{state}, 'pending',
    'NoTraffic pending');
is(($alerts{"NginxDown $web3"} // {})->{state}, 'pending',
    'NginxDown pending for the closed port');

my %expected = map { $_ => 1 } ("Errors5xx $web1", "Errors5xx $web2",
    "HighErrorRate $web1", "HighErrorRate $web2", "NoTraffic $web1",
    "NoTraffic $web2", "NginxDown $web3");

is(join(' ', grep { !$expected{$_} } sort keys %alerts), '',
    'no other alert');

# Prometheus sent it to the Alertmanager of prometheus.yml

my $sent;

poll(sub {
    $sent = $t->am_alerts($am, filter => 'alertname="Errors5xx"');
    return $sent && grep { ($_->{labels}{instance} // '') eq $web1 } @$sent;
}, timeout => 15, interval => 0.25);

my ($in_am) = grep { ($_->{labels}{instance} // '') eq $web1 } @{$sent // []};
is($in_am && $in_am->{labels}{cluster}, 'shop-eu',
    'Errors5xx in Alertmanager');

my (undef, $plog) = $t->kill_spawned($p->{pid});
unlike($plog // '', qr/level=error/, 'prometheus: no errors logged')
    or diag($plog);

}

###############################################################################

$t->done_testing();

###############################################################################
