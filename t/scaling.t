#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: scaling out.  Two nginx instances,
# each with its own zone, are scraped by one Prometheus and send their
# alerts to one Alertmanager, as docs/scaling.md describes.  Both targets
# are up; the sums by instance, by cluster and across instances are the
# exact numbers of requests sent, also where that Prometheus sends its
# data for long retention (a remote_write receiver, a federating
# Prometheus); each instance's alert is its own alert in Alertmanager
# (monitoring_alert_label instance), grouped with the other by the
# shared cluster label; and Prometheus has the nginx_alerts series of
# both, under the same instance names.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Monitoring;

###############################################################################

my $t1 = Test::Monitoring->new();

plan(skip_all => 'no prometheus binary') unless $t1->has_prometheus();
plan(skip_all => 'no alertmanager binary') unless $t1->has_alertmanager();
plan(skip_all => 'no module') unless $t1->has_module();

my $t2 = Test::Monitoring->new();

# Alertmanager groups by cluster and alertname, and notifies a sink

my $receiver = $t1->webhook_sink();

my $am = $t1->alertmanager(config => <<"EOF");
route:
  receiver: sink
  group_by: ['cluster', 'alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h

receivers:
  - name: sink
    webhook_configs:
      - url: '$receiver->{url}/notify'
        send_resolved: true
EOF

# the same configuration on both instances but for the instance name;
# logical ports: traffic on $port, /metrics on $port + 1

my %WEB = (
    'web-1' => { t => $t1, port => 8080 },
    'web-2' => { t => $t2, port => 8090 },
);

for my $name (sort keys %WEB) {
    my $w = $WEB{$name};
    my ($p, $m) = ($w->{port}, $w->{port} + 1);

    $w->{t}->write_file_expand('nginx.conf', <<"EOF");

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m;

    monitoring_alert_interval  1s;

    monitoring_alert  Errors5xx  "count(5xx) >= 1"  window=1m
                      severity=warning  "summary=5xx responses"
                      label:team=web;

    monitoring_alert_webhook  http://127.0.0.1:$am->{port}/api/v2/alerts
                              resend=2s;

    monitoring_alert_label  instance  $name;
    monitoring_alert_label  cluster   shop;

    server {
        listen       127.0.0.1:%%PORT_$p%%;
        server_name  localhost;

        monitoring main;

        location / {
            return 200 "ok\\n";
        }

        location /err {
            return 500;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_$m%%;
        server_name  monitoring;

        monitoring off;

        location = /metrics {
            monitoring_metrics;
        }
    }
}

EOF

    $w->{t}->run();
}

###############################################################################

# known numbers of requests, some of them 5xx, to each instance

my %OK = ('web-1' => 130, 'web-2' => 240);
my %ERR = ('web-1' => 7, 'web-2' => 11);
my %N = map { $_ => $OK{$_} + $ERR{$_} } keys %OK;
my $TOTAL = $N{'web-1'} + $N{'web-2'};

for my $name (sort keys %WEB) {
    my $r = http_pipeline([ ('/') x $OK{$name}, ('/err') x $ERR{$name} ],
        port => port($WEB{$name}{port}), batch => 50);

    is_deeply([ $r->{200}, $r->{500} ], [ $OK{$name}, $ERR{$name} ],
        "$name: $N{$name} requests sent, $ERR{$name} of them 5xx");
}

# one Prometheus scrapes both; each target group names its instance as
# monitoring_alert_label does, and both share cluster="shop".  Behind
# it, for long retention: a receiver of its remote_write (as Thanos
# Receive or Mimir would be), and a global Prometheus that federates it

my $targets = join '', map {
    "      - targets: ['127.0.0.1:" . port($WEB{$_}{port} + 1) . "']\n"
    . "        labels: { instance: '$_', cluster: 'shop' }\n"
} sort keys %WEB;

my $rw = $t1->prometheus(port => 'remote_write',
    args => [ '--web.enable-remote-write-receiver' ], config => <<"EOF");
global:
  scrape_interval: 1s
EOF

my $p = $t1->prometheus(port => 'prometheus', config => <<"EOF");
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
  external_labels:
    region: eu

remote_write:
  - url: http://127.0.0.1:$rw->{port}/api/v1/write
    queue_config:
      batch_send_deadline: 1s

scrape_configs:
  - job_name: nginx
    metrics_path: /metrics
    static_configs:
$targets
EOF

my $fed = $t1->prometheus(port => 'federate', config => <<"EOF");
global:
  scrape_interval: 1s
  scrape_timeout: 1s

scrape_configs:
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': ['{job="nginx"}']
    static_configs:
      - targets: ['127.0.0.1:$p->{port}']
EOF

# a vector result as { value of label $by => value }

sub by {
    my ($by, $q) = @_;

    my $r = $t1->prom_query($p, $q) // [];
    return { map { ($_->{metric}{$by} // '') => $_->{value}[1] + 0 } @$r };
}

###############################################################################

# both targets up, scraped without error

my @up;

poll(sub {
    @up = grep { ($_->{health} // '') eq 'up' } @{$t1->prom_targets($p)};
    return @up == 2;
}, timeout => 20, interval => 0.25);

is(scalar @up, 2, 'prometheus: both targets up');
is_deeply([ sort map { $_->{labels}{instance} } @up ], [ 'web-1', 'web-2' ],
    'prometheus: targets named web-1 and web-2');
is_deeply([ map { $_->{labels}{cluster} } @up ], [ 'shop', 'shop' ],
    'prometheus: both in cluster shop');
is_deeply([ map { $_->{lastError} } @up ], [ '', '' ],
    'prometheus: no scrape error');

# counts: by instance, across instances, by cluster

$t1->prom_wait($p, 'sum(nginx_http_requests_total)',
    sub { @{$_[0]} && $_[0][0]{value}[1] == $TOTAL }, timeout => 20);

is_deeply(by(instance => 'sum by (instance) (nginx_http_requests_total)'),
    \%N, 'requests by instance');
is_deeply(by(instance =>
    'sum by (instance) (nginx_http_requests_total{status=~"5.."})'),
    \%ERR, '5xx by instance');
is($t1->prom_value($p, 'sum(nginx_http_requests_total)'), $TOTAL,
    'requests across instances');
is_deeply(by(cluster => 'sum by (cluster) (nginx_http_requests_total)'),
    { shop => $TOTAL }, 'requests by cluster');
is_deeply(by(endpoint =>
    'sum by (endpoint) (nginx_http_requests_total{cluster="shop"})'),
    { '/' => $OK{'web-1'} + $OK{'web-2'},
        '/err' => $ERR{'web-1'} + $ERR{'web-2'} },
    'requests by endpoint across instances');
is($t1->prom_value($p, 'sum(nginx_http_request_duration_seconds_count)'),
    $TOTAL, 'histogram count across instances');

# the same buckets on both: one histogram across instances, loopback
# requests all in the first bucket (5ms)

my $q = $t1->prom_value($p, 'histogram_quantile(0.99, sum by (le) '
    . '(nginx_http_request_duration_seconds_bucket))');

ok(defined $q && $q >= 0 && $q <= 0.005, 'p99 across instances')
    or diag($q // 'undef');

my $les = by(le => 'count by (le) '
    . '(nginx_http_request_duration_seconds_bucket{endpoint="/"})');

is(scalar keys %$les, 12, 'default buckets: 11 bounds and +Inf')
    or diag(join ' ', sort keys %$les);
is_deeply([ grep { $les->{$_} != 2 } sort keys %$les ], [],
    'every bound on both instances');

# the same sums where the data was sent for long retention, with the
# external label of the Prometheus that scraped it

my $SUM = 'sum by (instance) (nginx_http_requests_total'
    . '{cluster="shop",region="eu"})';

for my $d ([ 'remote write', $rw ], [ 'federation', $fed ]) {
    my ($what, $to) = @$d;

    $t1->prom_wait($to, $SUM, sub { @{$_[0]} == 2
        && $_[0][0]{value}[1] + $_[0][1]{value}[1] == $TOTAL },
        timeout => 20);

    my $r = $t1->prom_query($to, $SUM) // [];

    is_deeply({ map { $_->{metric}{instance} => $_->{value}[1] } @$r },
        \%N, "$what: requests by instance");
}

###############################################################################

# alerts: the rule fired on both; Prometheus has nginx_alerts of both,
# under their target's instance and cluster

my $ALERTS = 'nginx_alerts{alertname="Errors5xx",alertstate="firing"}';

my $series = $t1->prom_wait($p, $ALERTS, sub { @{$_[0]} == 2 },
    timeout => 20) // [];

is_deeply([ sort map { $_->{metric}{instance} // '' } @$series ],
    [ 'web-1', 'web-2' ], 'prometheus: nginx_alerts of both instances');
is_deeply([ map { $_->{metric}{cluster} // '' } @$series ],
    [ 'shop', 'shop' ], 'prometheus: nginx_alerts in cluster shop');
is_deeply([ grep { /^exported_/ } map { keys %{$_->{metric}} } @$series ],
    [], 'prometheus: no clash with labels nginx would have set');
is($t1->prom_value($p, "count by (cluster, alertname) ($ALERTS)"), 2,
    'prometheus: two firing, counted by cluster');

# Alertmanager: two alerts, one per instance, both in cluster shop

sub listed {
    my $l = $t1->am_alerts($am, filter => 'alertname="Errors5xx"') // [];
    return sort { $a->{labels}{instance} cmp $b->{labels}{instance} }
        grep { defined $_->{labels}{instance} } @$l;
}

my @listed;
poll(sub { (@listed = listed()) == 2 }, timeout => 20, interval => 0.25);

is(scalar @listed, 2, 'alertmanager: two alerts');
is_deeply([ map { $_->{labels} } @listed ], [ map { {
    alertname => 'Errors5xx', severity => 'warning', team => 'web',
    cluster => 'shop', instance => $_ } } qw(web-1 web-2) ],
    'alertmanager: labels, instance and cluster');
is_deeply([ map { $_->{status}{state} } @listed ], [ 'active', 'active' ],
    'alertmanager: both active');

# metrics and alerts name the instances alike

is_deeply([ map { $_->{labels}{instance} } @listed ],
    [ sort map { $_->{metric}{instance} // '' } @$series ],
    'instance names agree in Prometheus and Alertmanager');

# each instance re-sends its alert (resend=2s): still two alerts, each
# delivery deduplicated by its labels

sub deliveries {
    my ($name) = @_;

    my (undef, $body) = metrics(port($WEB{$name}{port} + 1));

    return metric_sum(parse_metrics($body),
        'nginx_monitoring_webhook_deliveries_total', { result => 'success' });
}

ok(poll(sub { deliveries('web-1') >= 2 && deliveries('web-2') >= 2 },
    timeout => 15, interval => 0.25), 'each instance delivered twice')
    or diag(deliveries('web-1') . ' ' . deliveries('web-2'));

is(scalar(@listed = listed()), 2, 'alertmanager: still two alerts');

# one alert group: cluster and alertname, both instances in it

my $groups = http_json('/api/v2/alerts/groups', port => $am->{port})->{data};
my @groups = grep { ($_->{labels}{alertname} // '') eq 'Errors5xx' }
    @{ref $groups eq 'ARRAY' ? $groups : []};

is(scalar @groups, 1, 'alertmanager: one group');
is_deeply($groups[0]{labels}, { cluster => 'shop', alertname => 'Errors5xx' },
    'alertmanager: grouped by cluster and alertname');
is_deeply([ sort map { $_->{labels}{instance} } @{$groups[0]{alerts} // []} ],
    [ 'web-1', 'web-2' ], 'alertmanager: both instances in the group');

# the receiver hears of the group with both alerts in it

sub notified {
    return grep {
        my $j = $_->{json};
        ref $j eq 'HASH' && ($j->{status} // '') eq 'firing'
            && @{$j->{alerts} // []} == 2
    } $t1->sink_requests($receiver);
}

my @n;
poll(sub { @n = notified() }, timeout => 15, interval => 0.25);

ok(@n, 'receiver notified of both alerts at once');

my $n = $n[0]{json} // {};

is_deeply($n->{groupLabels}, { cluster => 'shop', alertname => 'Errors5xx' },
    'notification: group labels');
is($n->{commonLabels}{cluster}, 'shop', 'notification: common cluster');
ok(!exists $n->{commonLabels}{instance},
    'notification: instances differ');

###############################################################################

$t2->stop();
$t1->stop();

done_testing();

###############################################################################
