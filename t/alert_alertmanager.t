#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: alerts delivered to a real
# Alertmanager through its /api/v2/alerts.  A firing rule shows up there,
# active, with its labels and annotations; once resolved it is gone from
# the list, and Alertmanager tells its own receiver "resolved".

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Sys::Hostname qw(hostname);
use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);

###############################################################################

my $t = Test::Monitoring->new();

plan(skip_all => 'no alertmanager binary') unless $t->has_alertmanager();
plan(skip_all => 'no module') unless $t->has_module();

# Alertmanager forwards its notifications to a sink

my $receiver = $t->webhook_sink();
my $am = $t->alertmanager(webhook => "$receiver->{url}/notify");

$t->write_file_expand('nginx.conf', <<"EOF");

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m;

    monitoring_alert_interval  1s;
    monitoring_alert_url       http://status.example/nginx/;

    monitoring_alert  Errors  "error_rate > 10%"  window=3s
                      severity=critical  "summary=Too many errors"
                      "description=Over 10% of the requests failed"
                      label:team=web;

    monitoring_alert_webhook  http://127.0.0.1:$am->{port}/api/v2/alerts
                              format=alertmanager  resend=2s;

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  localhost;

        monitoring main;

        location /err {
            return 500;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%%;
        server_name  monitoring;

        monitoring off;

        location /metrics {
            monitoring_metrics;
        }

        location /mon {
            monitoring_dashboard main;
        }
    }
}

EOF

$t->run();

###############################################################################

my $HOST = lc hostname();
my $WEBHOOK = "http://127.0.0.1:$am->{port}/api/v2/alerts";

sub rule {
    my $d = http_json('/mon/api', port => port(8081))->{data} // {};
    my ($r) = grep { $_->{name} eq 'Errors' } @{$d->{alerts}{rules} // []};
    return $r // {};
}

sub deliveries {
    my ($result) = @_;

    my (undef, $body) = metrics(port(8081));

    return metric_value(parse_metrics($body),
        'nginx_monitoring_webhook_deliveries_total',
        { webhook => $WEBHOOK, result => $result }) // -1;
}

# the alerts of the rule Alertmanager lists; undef if it did not answer

sub listed {
    my $l = $t->am_alerts($am) or return undef;
    return [ grep { ($_->{labels}{alertname} // '') eq 'Errors' } @$l ];
}

# the notifications the receiver got about the rule, with that status

sub notified {
    my ($status) = @_;

    return grep {
        my $j = $_->{json};
        ref $j eq 'HASH' && ($j->{status} // '') eq $status
            && grep { ($_->{labels}{alertname} // '') eq 'Errors'
                && ($_->{status} // '') eq $status } @{$j->{alerts} // []}
    } $t->sink_requests($receiver);
}

# RFC 3339 as epoch seconds, fractions optional, "Z" only

sub rfc3339 {
    my ($s) = @_;

    return undef unless defined $s
        && $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z$/;

    return timegm($6, $5, $4, $3, $2 - 1, $1) + ($7 // 0);
}

###############################################################################

ok(poll(sub { defined rule()->{evaluated_at} }, timeout => 5), 'evaluated');

# errors until Alertmanager has the alert

my $errors = $t->spawn_sub(sub {
    $SIG{TERM} = 'DEFAULT';

    while (1) {
        http_get('/err', timeout => 2);
        sleep 0.1;
    }
});

my @listed;
poll(sub { @listed = @{listed() // []} }, timeout => 15, interval => 0.2);

is(scalar @listed, 1, 'the alert is in Alertmanager');

my $alert = $listed[0] // {};
my $fired = rule();

is($fired->{state}, 'firing', 'firing in the API');
is($alert->{status}{state}, 'active', 'active');
is_deeply($alert->{labels}, { alertname => 'Errors', severity => 'critical',
    instance => $HOST, team => 'web' }, 'labels');
is($alert->{annotations}{summary}, 'Too many errors', 'summary');
is($alert->{annotations}{description}, 'Over 10% of the requests failed',
    'description');
like($alert->{annotations}{value} // '', qr/^(?:1|0\.\d+)$/, 'value');
is($alert->{generatorURL}, 'http://status.example/nginx/#alert-Errors',
    'generatorURL');
ok(abs((rfc3339($alert->{startsAt}) // 0) - ($fired->{since} // -1)) < 0.0015,
    'startsAt, when it fired') or diag("$alert->{startsAt} $fired->{since}");
ok((rfc3339($alert->{endsAt}) // 0) > time(), 'endsAt in the future');

ok(poll(sub { notified('firing') }, timeout => 15),
    'Alertmanager notified its receiver: firing');

# the errors stop, the window passes: resolved, and gone from the list

$t->kill_spawned($errors);

ok(poll(sub { (rule()->{state} // '') eq 'resolved' }, timeout => 15,
    interval => 0.2), 'resolved in the API');

my $resolved = rule();

ok(poll(sub { my $l = listed(); $l && !@$l }, timeout => 15,
    interval => 0.2), 'gone from Alertmanager');

my @n;
poll(sub { @n = notified('resolved') }, timeout => 15, interval => 0.2);

ok(@n, 'Alertmanager notified its receiver: resolved');

my ($r) = grep { $_->{labels}{alertname} eq 'Errors' }
    @{$n[0]{json}{alerts} // []};
$r //= {};

is_deeply($r->{labels}, $alert->{labels}, 'resolved: labels');
ok(abs((rfc3339($r->{endsAt}) // 0) - ($resolved->{since} // -1)) < 0.0015,
    'resolved: endsAt, when it resolved')
    or diag(($r->{endsAt} // '') . " $resolved->{since}");
# Alertmanager writes its times without trailing zeros: compare times

ok(abs((rfc3339($r->{startsAt}) // 0) - (rfc3339($alert->{startsAt}) // -1))
    < 0.0005, 'resolved: startsAt')
    or diag(($r->{startsAt} // '') . " $alert->{startsAt}");

ok(deliveries('success') >= 2, 'deliveries counted');
is(deliveries('error') + deliveries('http_error') + deliveries('invalid')
    + deliveries('timeout'), 0, 'no failed delivery');

$t->stop();

done_testing();

###############################################################################
