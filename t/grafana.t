#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: the Grafana dashboard of
# contrib/grafana.  Its structure (variables, data source of every
# panel, $instance and $__rate_interval in every expression), then every
# PromQL expression it holds, of panels, nested panels, annotations and
# variables, run against a real Prometheus that scrapes a real nginx
# under traffic (endpoints, 5xx, an upstream, slow requests, an alert
# firing): each must return data.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Monitoring;

use JSON::PP;
use Time::HiRes qw(sleep time);

###############################################################################

my $t = Test::Monitoring->new(echo => 1);

my $file = "$Test::Monitoring::REPO/contrib/grafana/nginx-monitoring.json";

open my $fh, '<', $file or die "$file: $!\n";
my $json = do { local $/; <$fh> };
close $fh;

my $d = eval { JSON::PP->new->utf8->decode($json) };
ok($d, 'dashboard is valid JSON') or BAIL_OUT("not JSON: $@");

###############################################################################

# the dashboard itself

my $ds = '${datasource}';

cmp_ok($d->{schemaVersion}, '>=', 36, 'schemaVersion at least 36');
cmp_ok($d->{schemaVersion}, '<=', 39, 'schemaVersion at most 39');
ok(length $d->{uid} && length $d->{uid} <= 40, 'uid');
ok(length $d->{title}, 'title');
ok(!defined $d->{id}, 'no id: importable');

my %var = map { $_->{name} => $_ } @{$d->{templating}{list}};

is($var{datasource}{type}, 'datasource', 'datasource variable');
is($var{datasource}{query}, 'prometheus', 'datasource variable: prometheus');

for my $v (qw(cluster instance zone)) {
    my $x = $var{$v} // {};
    is($x->{type}, 'query', "$v variable: a query");
    is($x->{datasource}{uid}, $ds, "$v variable: on the datasource");
    like($x->{query}, qr/^label_values\(.*,\s*\Q$v\E\)$/,
        "$v variable: label_values");
    ok($x->{multi} && $x->{includeAll} && $x->{allValue} eq '.*',
        "$v variable: multi, all");
}

like($var{instance}{query}, qr/^label_values\(nginx_up\b/,
    'instance variable: from nginx_up');

# every panel, rows' nested panels too

sub walk {
    map { ($_, walk(@{$_->{panels} // []})) } @_;
}

my @panels = walk(@{$d->{panels}});
my @rows = grep { $_->{type} eq 'row' } @panels;
my @charts = grep { $_->{type} ne 'row' } @panels;

ok((grep { $_->{collapsed} && @{$_->{panels}} } @rows),
    'a collapsed row with nested panels');
cmp_ok(scalar @charts, '>=', 20, scalar(@charts) . ' panels');

my %ids;
$ids{$_->{id}}++ for @panels;
is(join(' ', grep { $ids{$_} > 1 } sort keys %ids), '', 'panel ids unique');

my %types = map { $_ => 1 } qw(timeseries stat table bargauge gauge);
my (@exprs, @bad);

for my $p (@charts) {
    my $name = $p->{title};
    my $g = $p->{gridPos} // {};

    push @bad, "$name: type $p->{type}" unless $types{$p->{type}};
    push @bad, "$name: gridPos"
        unless $g->{w} && $g->{h} && defined $g->{x} && defined $g->{y}
            && $g->{x} + $g->{w} <= 24;
    push @bad, "$name: panel datasource"
        unless ($p->{datasource}{type} // '') eq 'prometheus'
            && ($p->{datasource}{uid} // '') eq $ds;
    push @bad, "$name: no targets" unless @{$p->{targets} // []};

    my %ref;

    for my $tg (@{$p->{targets} // []}) {
        push @bad, "$name: target datasource"
            unless ($tg->{datasource}{uid} // '') eq $ds;
        push @bad, "$name: refId" if !$tg->{refId} || $ref{$tg->{refId}}++;
        push @exprs, [ "$name ($tg->{refId})", $tg->{expr} ];
    }
}

is(join("\n", @bad), '', 'panels: type, gridPos, datasource, targets');

for my $a (grep { defined $_->{expr} } @{$d->{annotations}{list}}) {
    is($a->{datasource}{uid}, $ds, "annotation $a->{name}: datasource");
    push @exprs, [ "annotation $a->{name}", $a->{expr} ];
}

# every selector filtered by $cluster and $instance (and $zone for the
# families that have a zone), every range $__rate_interval

my $families = qr/\b(nginx_[a-z_]+|up)\b/;

for my $e (@exprs) {
    my ($name, $expr) = @$e;

    my @sel = $expr =~ /$families\{([^}]*)\}/g;
    my @all = $expr =~ /$families/g;
    my @ranges = $expr =~ /\[([^\]]*)\]/g;

    my @unfiltered = grep { $_ !~ /\binstance=~"\$instance"/
        || $_ !~ /\bcluster=~"\$cluster"/ } @sel[grep { $_ % 2 } 0 .. $#sel];

    ok(@all && @all == @sel / 2 && !@unfiltered,
        "$name: every selector has \$cluster and \$instance")
        or diag($expr);

    ok(!grep({ $_ ne '$__rate_interval' } @ranges),
        "$name: ranges are \$__rate_interval") or diag($expr);

    ok($expr !~ /\b(rate|increase)\(/ || @ranges,
        "$name: rates over a range") or diag($expr);
}

###############################################################################

# a real nginx and a real Prometheus

SKIP: {

skip('no prometheus binary', 1) unless $t->has_prometheus();
skip('no echo module', 1)
    unless -f ($ENV{TEST_NGINX_ECHO}
        // '/usr/lib/nginx/modules/ngx_http_echo_module.so');

my $sink = $t->webhook_sink(port => 8099);

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m;
    monitoring  main;

    monitoring_slow_threshold  40ms;

    # one rule firing at the first 5xx, one pending

    monitoring_alert_interval  1s;
    monitoring_alert  Errors  "count(5xx) >= 1"  window=1m;
    monitoring_alert  SlowP99  "p99 > 1ms"  window=1m  for=1h;
    monitoring_alert_webhook  http://127.0.0.1:%%PORT_8099%%/api/v2/alerts;

    upstream backend {
        server  127.0.0.1:%%PORT_8081%%;
    }

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  front;

        location / {
            return 200 "ok\n";
        }

        location /err {
            return 500;
        }

        location /slow {
            echo_sleep 0.05;
            echo ok;
        }

        location /api/ {
            proxy_pass http://backend;
        }

        location = /metrics {
            monitoring off;
            monitoring_metrics;
        }
    }

    # the upstream, and a second scrape target of the same nginx

    server {
        listen       127.0.0.1:%%PORT_8081%%;
        server_name  backend;

        location / {
            echo_sleep 0.01;
            echo ok;
        }

        location /api/fail {
            return 503;
        }

        location = /metrics {
            monitoring off;
            monitoring_metrics;
        }
    }
}

EOF

$t->run();

# traffic all along, bounded

my @paths = ('/', '/', '/index', '/err', '/slow', '/api/users/1',
    '/api/users/2', '/api/fail', '/api/items');

my $traffic = $t->spawn_sub(sub {
    $SIG{TERM} = 'DEFAULT';

    my $end = time() + 600;
    while (time() < $end) {
        http_pipeline(\@paths);
        sleep 0.1;
    }
});

my $web1 = '127.0.0.1:' . port(8080);
my $web2 = '127.0.0.1:' . port(8081);

my $p = $t->prometheus(config => <<"EOF");
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s

scrape_configs:
  - job_name: nginx
    metrics_path: /metrics
    static_configs:
      - targets: ['$web1', '$web2']
        labels:
          cluster: 'shop-eu'
EOF

# wait for rates over both targets: upstreams, alerts, deliveries

my $ready = $t->prom_wait($p,
    'count(count_over_time(nginx_up[15s]) >= 5)'
    . ' and on() sum(rate(nginx_http_upstream_requests_total[15s])) > 0'
    . ' and on() count(nginx_alerts{alertstate="firing"}) > 0'
    . ' and on() count(nginx_alerts{alertstate="pending"}) > 0'
    . ' and on() sum(nginx_monitoring_webhook_deliveries_total'
    . '{result="success"}) > 0',
    sub { @{$_[0]} && $_[0][0]{value}[1] == 2 }, timeout => 30);

ok(@{$ready // []}, 'prometheus has data of both targets');

# Grafana's interpolation: a multi-value variable with one value
# selected is "(value)", the value escaped for a regex (as Grafana's
# Prometheus data source does); $__rate_interval a window of 15
# one-second scrapes

sub grafana_regex {
    my @v = map {
        (my $s = $_) =~ s/\\/\\\\\\\\/g;
        $s =~ s/([\$^*{}\[\]'+?.()|])/\\\\$1/g;
        $s;
    } @_;
    return '(' . join('|', @v) . ')';
}

my %subst = (
    cluster => grafana_regex('shop-eu'),
    instance => grafana_regex($web1),
    zone => grafana_regex('main'),
    datasource => 'prometheus',
    __rate_interval => '15s',
    __interval => '5s',
    __interval_ms => '5000',
    __range => '1m',
    __range_s => '60',
    __range_ms => '60000',
);

sub interpolate {
    my ($s) = @_;
    $s =~ s/\$\{(\w+)\}|\$(\w+)|\[\[(\w+)\]\]/
        $subst{$1 \/\/ $2 \/\/ $3} \/\/ "\$UNKNOWN($+)"/ge;
    return $s;
}

# every panel expression returns data, of the selected instance only

for my $e (@exprs) {
    my ($name, $expr) = @$e;
    my $q = interpolate($expr);

    my $r = $t->prom_wait($p, $q, sub { @{$_[0]} }, timeout => 10) // [];

    ok(@$r && $q !~ /\$/, "$name: data") or diag($q);

    my @finite = grep { $_->{value}[1] !~ /^[+-]?(NaN|Inf)$/ } @$r;
    ok(@finite, "$name: a finite value") or diag($q);

    my @other = grep { defined $_->{metric}{instance}
        && $_->{metric}{instance} ne $web1 } @$r;
    ok(!@other, "$name: selected instance only") or diag($q);
}

# variables: label_values(SELECTOR, LABEL) is SELECTOR's values of LABEL

my %want = (cluster => 'shop-eu', instance => $web1, zone => 'main');

for my $v (qw(cluster instance zone)) {
    my ($sel, $label) = $var{$v}{query} =~ /^label_values\((.*),\s*(\w+)\)$/;

    my $r = $t->prom_query($p, interpolate($sel)) // [];
    my %values = map { ($_->{metric}{$label} // '') => 1 } @$r;

    ok($values{$want{$v}}, "variable $v: values") or diag(join ' ', %values);
}

# with every instance ("All"), both targets

$subst{instance} = '.*';

my $r = $t->prom_query($p, interpolate($var{instance}{query}
    =~ s/^label_values\((.*),\s*\w+\)$/$1/r)) // [];
is(join(' ', sort map { $_->{metric}{instance} } @$r),
    join(' ', sort $web1, $web2), 'variable instance: All');

$t->kill_spawned($traffic);

my (undef, $plog) = $t->kill_spawned($p->{pid});
unlike($plog // '', qr/level=error/, 'prometheus: no errors logged')
    or diag($plog);

}

###############################################################################

$t->done_testing();

###############################################################################
