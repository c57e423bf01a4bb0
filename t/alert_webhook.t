#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: alerts delivered to webhooks.
# A generic webhook gets each transition to firing and to resolved once,
# in order; an Alertmanager webhook gets the firing alert again every
# "resend" and the resolution; credentials in a webhook URL become Basic
# auth and are shown nowhere; webhooks that fail (refused, hanging,
# answering 500 or garbage) are retried, counted, and do not disturb the
# requests nginx serves; with several workers and across a reload each
# transition is still delivered once and resends keep their pace.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use MIME::Base64 qw(encode_base64);
use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);

###############################################################################

# the servers every configuration below has: the monitored one, and the
# one with /metrics and the dashboard, outside any zone

my $SERVERS = <<'EOF';
    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  localhost;

        monitoring main;

        location /ok {
            return 200 "ok\n";
        }

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
EOF

sub conf {
    my ($t, $http, $workers) = @_;

    $t->write_file_expand('nginx.conf', <<"EOF");

%%TEST_GLOBALS%%

worker_processes  @{[ $workers // 1 ]};

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m;

    monitoring_alert_interval  1s;

$http
$SERVERS
}

EOF
}

sub api {
    return http_json('/mon/api', port => port(8081))->{data} // {};
}

sub rule {
    my ($name) = @_;
    my ($r) = grep { $_->{name} eq $name } @{api()->{alerts}{rules} // []};
    return $r // {};
}

sub wait_state {
    my ($name, $state, $timeout) = @_;
    return poll(sub { (rule($name)->{state} // '') eq $state },
        timeout => $timeout // 10, interval => 0.2);
}

# the rule has a first sample: errors from now on are in its window

sub wait_evaluated {
    my ($name) = @_;
    return poll(sub { defined rule($name)->{evaluated_at} }, timeout => 5);
}

sub deliveries {
    my ($webhook, $result) = @_;

    my (undef, $body) = metrics(port(8081));

    return metric_value(parse_metrics($body),
        'nginx_monitoring_webhook_deliveries_total',
        { zone => 'main', webhook => $webhook, result => $result }) // -1;
}

sub evaluations {
    my (undef, $body) = metrics(port(8081));

    return metric_value(parse_metrics($body),
        'nginx_monitoring_alert_evaluations_total', { zone => 'main' }) // 0;
}

# a client that keeps sending errors, so that the alert keeps firing

sub errors {
    my ($t) = @_;

    return $t->spawn_sub(sub {
        $SIG{TERM} = 'DEFAULT';

        while (1) {
            http_get('/err', timeout => 2);
            sleep 0.1;
        }
    });
}

# "2024-05-01T10:20:30.123Z" as epoch seconds, undef if not that form

sub rfc3339 {
    my ($s) = @_;

    return undef unless defined $s
        && $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$/;

    return timegm($6, $5, $4, $3, $2 - 1, $1) + $7 / 1000;
}

# the same instant, to the millisecond

sub same_time {
    my ($x, $y) = @_;
    return defined $x && defined $y && abs($x - $y) < 0.0015;
}

# Alertmanager posts: [ { time, entries => [...] } ], an entry firing when
# it ends after the post

sub am_posts {
    my ($t, $sink) = @_;

    return map {
        my $r = $_;
        my @e = ref $r->{json} eq 'ARRAY' ? @{$r->{json}} : ();
        $_->{firing} = (rfc3339($_->{endsAt}) // 0) > $r->{time} for @e;
        { time => $r->{time}, entries => \@e, request => $r };
    } $t->sink_requests($sink);
}

# the startsAt of the posts' first alerts, each once

sub starts {
    my %s = map { ($_->{entries}[0]{startsAt} // '?') => 1 } @_;
    return join ' ', sort keys %s;
}

# the smallest and the largest gap between consecutive times

sub gaps {
    my @t = @_;
    return sort { $a <=> $b } map { $t[$_] - $t[$_ - 1] } 1 .. $#t;
}

sub min_gap {
    my @g = gaps(@_);
    return @g ? $g[0] : 9**9**9;
}

sub max_gap {
    my @g = gaps(@_);
    return @g ? $g[-1] : 0;
}

###############################################################################

# a generic and an Alertmanager webhook, one more refused, for one rule

my $t = Test::Monitoring->new();

my $generic = $t->webhook_sink(port => 8091);
my $am = $t->webhook_sink(port => 8092);
my $refused = $t->closed_port();

my $c = <<"EOF";
    monitoring_alert_url  http://status.example/nginx/;

    monitoring_alert  Errors  "error_rate > 10%"  window=3s
                      severity=critical  "summary=Too many errors"
                      "description=Over 10% of the requests failed"
                      label:team=web  label:tier=edge;

    # on every alert; the rule's own tier wins, as over external labels
    monitoring_alert_label  cluster   shop;
    monitoring_alert_label  tier      core;
    monitoring_alert_label  instance  web-1;

    monitoring_alert_webhook
        http://alice:secret\@127.0.0.1:%%PORT_8091%%/hooks/generic?src=nginx
        format=generic;

    monitoring_alert_webhook  http://127.0.0.1:%%PORT_8092%%/api/v2/alerts
                              format=alertmanager  resend=2s;

    monitoring_alert_webhook  http://bob:secret\@127.0.0.1:$refused/refused
                              format=generic;
EOF

conf($t, $c);
$t->run();

###############################################################################

ok(wait_evaluated('Errors'), 'evaluated');

my $errors = errors($t);

my @g = $t->sink_wait($generic, 1, timeout => 10);
is(scalar @g, 1, 'generic: firing delivered');

my $fired = rule('Errors');
is($fired->{state}, 'firing', 'firing in the API');

# errors for a while: Alertmanager gets the firing alert again and again

my @posts;

poll(sub {
    @posts = grep { grep { $_->{firing} } @{$_->{entries}} }
        am_posts($t, $am);
    return @posts && time() - $posts[0]{time} >= 8;
}, timeout => 15, interval => 0.2);

my $span_start = $posts[0]{time} // time();
my $span_end = time();

$t->kill_spawned($errors);

ok(wait_state('Errors', 'resolved', 15), 'resolved in the API');
my $resolved = rule('Errors');

@g = $t->sink_wait($generic, 2, timeout => 10);
is(scalar @g, 2, 'generic: resolution delivered');

# nothing more, however long we wait: each transition once

sleep 4;

@g = $t->sink_requests($generic);
is(join(' ', map { $_->{json}{state} // '?' } @g), 'firing resolved',
    'generic: firing, then resolved, each once');
is(scalar $t->sink_requests($generic, all => 1), 2,
    'generic: no other request');

###############################################################################

# generic: the request

my ($f, $r) = map { $_->{json} // {} } @g;

is($g[0]{method}, 'POST', 'generic: POST');
is($g[0]{path}, '/hooks/generic?src=nginx', 'generic: path of the URL');
is($g[0]{headers}{'content-type'}, 'application/json',
    'generic: content type');
like($g[0]{headers}{'user-agent'} // '', qr{^nginx-monitoring/\d+\.\d+},
    'generic: user agent');
is($g[0]{headers}{authorization},
    'Basic ' . encode_base64('alice:secret', ''),
    'generic: credentials of the URL as Basic auth');
is($g[1]{headers}{authorization}, $g[0]{headers}{authorization},
    'generic: Basic auth in each request');
is($g[0]{headers}{host}, '127.0.0.1:' . port(8091), 'generic: host');
is($g[0]{headers}{'content-length'}, length $g[0]{body},
    'generic: content length');

# generic: the firing object

is($f->{alertname}, 'Errors', 'firing: alertname');
is($f->{state}, 'firing', 'firing: state');
is($f->{severity}, 'critical', 'firing: severity');
is($f->{instance}, 'web-1', 'firing: instance from monitoring_alert_label');
is($f->{zone}, 'main', 'firing: zone');
is($f->{expr}, 'error_rate > 10%', 'firing: expr as written');
ok(defined $f->{value} && $f->{value} > 0.1 && $f->{value} <= 1,
    'firing: value above the threshold') or diag(explain $f);
is($f->{summary}, 'Too many errors', 'firing: summary');
is($f->{description}, 'Over 10% of the requests failed',
    'firing: description');
is_deeply($f->{labels}, { team => 'web', tier => 'edge', cluster => 'shop' },
    'firing: rule labels, then monitoring_alert_label');
ok(same_time(rfc3339($f->{at}), $fired->{since}),
    'firing: at, the time it fired') or diag("$f->{at} $fired->{since}");
is($f->{startsAt}, $f->{at}, 'firing: startsAt');
ok(!exists $f->{endsAt}, 'firing: no endsAt');
ok(rfc3339($f->{at}) <= $g[0]{time}, 'firing: at is not in the future');

# generic: the resolved object

is($r->{alertname}, 'Errors', 'resolved: alertname');
is($r->{state}, 'resolved', 'resolved: state');
is($r->{severity}, 'critical', 'resolved: severity');
is($r->{instance}, 'web-1', 'resolved: instance');
is($r->{zone}, 'main', 'resolved: zone');
is($r->{expr}, 'error_rate > 10%', 'resolved: expr');
is($r->{value}, undef, 'resolved: no value, no requests in the window');
is($r->{summary}, 'Too many errors', 'resolved: summary');
is_deeply($r->{labels}, { team => 'web', tier => 'edge', cluster => 'shop' },
    'resolved: rule labels, then monitoring_alert_label');
is($r->{startsAt}, $f->{startsAt}, 'resolved: startsAt of the firing');
ok(same_time(rfc3339($r->{endsAt}), $resolved->{since}),
    'resolved: endsAt, the time it resolved')
    or diag("$r->{endsAt} $resolved->{since}");
is($r->{at}, $r->{endsAt}, 'resolved: at');
ok(rfc3339($r->{endsAt}) > rfc3339($r->{startsAt}),
    'resolved: ends after it starts');

###############################################################################

# Alertmanager: an array of alerts, each post

my @all = am_posts($t, $am);
my $first = $all[0]{request};
my $e = $all[0]{entries}[0] // {};

is($first->{method}, 'POST', 'alertmanager: POST');
is($first->{path}, '/api/v2/alerts', 'alertmanager: path');
is($first->{headers}{'content-type'}, 'application/json',
    'alertmanager: content type');
ok(!exists $first->{headers}{authorization}, 'alertmanager: no auth');
is(ref $first->{json}, 'ARRAY', 'alertmanager: a JSON array');
is(scalar @{$all[0]{entries}}, 1, 'alertmanager: one alert');

is_deeply($e->{labels}, { alertname => 'Errors', severity => 'critical',
    instance => 'web-1', team => 'web', tier => 'edge', cluster => 'shop' },
    'alertmanager: labels');
is($e->{annotations}{summary}, 'Too many errors', 'alertmanager: summary');
is($e->{annotations}{description}, 'Over 10% of the requests failed',
    'alertmanager: description');
like($e->{annotations}{value} // '', qr/^(?:1|0\.\d+)$/,
    'alertmanager: value annotation');
is($e->{generatorURL}, 'http://status.example/nginx/#alert-Errors',
    'alertmanager: generatorURL');
is($e->{startsAt}, $f->{startsAt}, 'alertmanager: startsAt, when it fired');
ok(rfc3339($e->{endsAt}) > $all[0]{time},
    'alertmanager: firing, endsAt in the future');

# resent every 2s while firing, the same alert

my @times = map { $_->{time} } @posts;
my @in = grep { $_ >= $span_start && $_ <= $span_end } @times;
my $span = $span_end - $span_start;

ok(@in >= int($span / 3) && @in <= int($span / 2) + 2,
    'alertmanager: resent about every 2s')
    or diag(scalar(@in) . " posts in $span s");
ok(min_gap(@times) > 1.5, 'alertmanager: no more often than every 2s')
    or diag("times: @times");
is(starts(@posts), $f->{startsAt}, 'alertmanager: resends of the same alert');

# then resolved: endsAt the time of the resolution

my ($res) = grep { !$_->{firing} } map { @{$_->{entries}} } @all;
$res //= {};

ok(same_time(rfc3339($res->{endsAt}), $resolved->{since}),
    'alertmanager: resolved, endsAt when it resolved')
    or diag(explain $res);
is($res->{startsAt}, $f->{startsAt}, 'alertmanager: resolved, startsAt');
is_deeply($res->{labels}, $e->{labels}, 'alertmanager: resolved, labels');

my ($after) = grep { grep { !$_->{firing} } @{$_->{entries}} } @all;
ok($after && rfc3339($res->{endsAt}) <= $after->{time},
    'alertmanager: resolved, endsAt not in the future');

###############################################################################

# credentials: shown nowhere

my $name = "http://127.0.0.1:$refused/refused";

ok(poll(sub { deliveries($name, 'error') >= 1 }, timeout => 5),
    'refused webhook: failed deliveries counted by its name');
is(deliveries("http://127.0.0.1:" . port(8091)
    . '/hooks/generic?src=nginx', 'success'), 2,
    'generic webhook: deliveries counted by its name');

my (undef, $m) = metrics(port(8081));
my $json = http_get('/mon/api', port => port(8081));
my $json2 = http_get('/mon?format=json', port => port(8081));
my $page = http_get('/mon', port => port(8081));

is(join(' ', sort map { $_->{labels}{result} } metric_find(parse_metrics($m),
    'nginx_monitoring_webhook_deliveries_total', { webhook => $name })),
    'error http_error invalid success timeout',
    'metrics name the webhook, each result');
unlike($m, qr/secret/, 'no password in metrics');
unlike($m, qr/alice|bob/, 'no user in metrics');
like($json, qr/"firing"|"rules"/, 'API answered');
unlike($json, qr/secret/, 'no password in the API');
unlike($json2, qr/secret/, 'no password in the API, format=json');
like($page, qr/<html/i, 'dashboard answered');
unlike($page, qr/secret/, 'no password in the dashboard');

my $log = $t->read_file('logs/error.log');

like($log, qr/webhook "\Q$name\E" failed/, 'failures logged by name');
unlike($log, qr/secret/, 'no password in the error log');

$t->stop();

###############################################################################

# failing webhooks: refused, hanging, 500, garbage

my $t2 = Test::Monitoring->new();

my %sink = map { $_ => $t2->webhook_sink(mode => $_) } qw(hang 500 garbage);
my $closed = $t2->closed_port();

my %url = (
    closed => "http://127.0.0.1:$closed/closed",
    hang => "$sink{hang}{url}/hang",
    500 => "$sink{500}{url}/500",
    garbage => "$sink{garbage}{url}/garbage",
);

my %result = (closed => 'error', hang => 'timeout', 500 => 'http_error',
    garbage => 'invalid');

my $c2 = <<"EOF";
    monitoring_alert  Errors  "count(5xx) >= 5"  window=1m;

    monitoring_alert_webhook  $url{closed}  format=generic;
    monitoring_alert_webhook  $url{hang}  format=alertmanager  resend=2s
                              timeout=1s;
    monitoring_alert_webhook  $url{500}  format=generic;
    monitoring_alert_webhook  $url{garbage}  format=alertmanager  resend=2s;
EOF

conf($t2, $c2);
$t2->run();

ok(wait_evaluated('Errors'), 'faults: evaluated');

is(http_pipeline([ ('/err') x 10 ])->{500}, 10, 'faults: 10 errors');
ok(wait_state('Errors', 'firing', 10), 'faults: firing');

# each failure counted, and tried again

for my $k (sort keys %url) {
    ok(poll(sub { deliveries($url{$k}, $result{$k}) > 1 }, timeout => 10,
        interval => 0.2), "$k: failures counted, retried")
        or diag(deliveries($url{$k}, $result{$k}));
    is(deliveries($url{$k}, 'success'), 0, "$k: no success");
}

# nginx serves meanwhile

my $ok = 0;
for (1 .. 200) {
    $ok++ if (http_status(http_get('/ok')) // 0) == 200;
}
is($ok, 200, 'faults: 200 requests answered meanwhile');

is(rule('Errors')->{state}, 'firing', 'faults: still firing');

# the sinks mend: the firing alert gets through

$t2->sink_set_mode($sink{$_}, 'ok') for keys %sink;

for my $k (sort keys %sink) {
    ok(poll(sub { deliveries($url{$k}, 'success') >= 1 }, timeout => 20,
        interval => 0.2), "$k: delivered once the sink answers");

    my @r = $t2->sink_requests($sink{$k}, all => 1);
    ok(@r > 1, "$k: tried several times");
}

my @r = $t2->sink_requests($sink{500});
is(join(' ', map { $_->{json}{state} // '?' } @r),
    join(' ', ('firing') x @r), '500: the firing transition each time');
is(scalar(keys %{{ map { $_->{body} => 1 } @r }}), 1,
    '500: the same body each time');

@r = $t2->sink_requests($sink{garbage});
is(($r[-1]{json}[0]{labels}{alertname} // ''), 'Errors',
    'garbage: the firing alert delivered');

is(deliveries($url{closed}, 'success'), 0, 'closed: still failing');
is(rule('Errors')->{state}, 'firing', 'faults: firing still');

$t2->stop();

###############################################################################

# four workers, one evaluation per tick; and a reload

my $t3 = Test::Monitoring->new();

my $gen3 = $t3->webhook_sink(port => 8093);
my $am3 = $t3->webhook_sink(port => 8094);

my $c3 = <<"EOF";
    monitoring_alert  Errors  "error_rate > 10%"  window=3s;

    monitoring_alert_webhook  http://127.0.0.1:%%PORT_8093%%/generic
                              format=generic;
    monitoring_alert_webhook  http://127.0.0.1:%%PORT_8094%%/am
                              format=alertmanager  resend=2s;
EOF

conf($t3, $c3, 4);
$t3->run();

is(scalar $t3->worker_pids(), 4, 'workers: 4');
ok(wait_evaluated('Errors'), 'workers: evaluated');

$errors = errors($t3);

@g = $t3->sink_wait($gen3, 1, timeout => 10);
is(scalar @g, 1, 'workers: firing delivered');

my $starts = $g[0]{json}{startsAt} // '';
my $t0 = $g[0]{time} // time();
my $evals = evaluations();

sleep 0.5 while time() < $t0 + 6;

$t3->reload();

is(rule('Errors')->{state}, 'firing', 'reload: still firing');

sleep 0.5 while time() < $t0 + 12;

$t3->kill_spawned($errors);

my $t1 = time();
$evals = evaluations() - $evals;

ok($evals >= ($t1 - $t0) / 2 && $evals <= $t1 - $t0 + 2,
    'workers, reload: one evaluation a second')
    or diag("$evals evaluations in " . ($t1 - $t0) . " s");

ok(wait_state('Errors', 'resolved', 15), 'workers: resolved');

@g = $t3->sink_wait($gen3, 2, timeout => 10);
sleep 3;
@g = $t3->sink_requests($gen3, all => 1);

is(join(' ', map { $_->{json}{state} // '?' } @g), 'firing resolved',
    'workers, reload: each transition once');
is($g[1]{json}{startsAt}, $starts, 'reload: the same firing resolved');

@posts = grep { grep { $_->{firing} } @{$_->{entries}} } am_posts($t3, $am3);
@times = map { $_->{time} } @posts;
@in = grep { $_ >= $t0 - 0.5 && $_ <= $t1 } @times;
$span = $t1 - $t0;

ok(@in >= int($span / 3) && @in <= int($span / 2) + 2,
    'workers, reload: resent about every 2s')
    or diag(scalar(@in) . " posts in $span s: @times");
ok(min_gap(@times) > 1.5, 'workers, reload: no more often than every 2s')
    or diag("times: @times");
ok(max_gap(@in) < 6, 'reload: resends do not pause')
    or diag("times: @times");
is(starts(@posts), $starts, 'workers, reload: the same alert all along');
ok((grep { $_ > $t0 + 7 } @times) >= 2, 'reload: resends go on after it');

$t3->stop();

done_testing();

###############################################################################
