#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: alert rules evaluated every
# second by the real nginx, as the JSON API, /metrics and /health show
# them: firing and resolution, "for" through pending, keep_firing_for,
# the transitions kept, each metric of the expression language, the
# endpoint= and zone= scopes, nginx_alerts, and critical alerts making
# /health degraded.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep time);

###############################################################################

my $t = Test::Monitoring->new(echo => 1);

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main   1m;
    monitoring_zone  other  1m;
    monitoring_zone  hz     1m;

    monitoring_buckets  50ms 100ms 500ms 1s;

    monitoring_alert_interval  1s;

    # firing, pending, keep_firing_for, transitions

    # delivered with alerts, never in nginx_alerts
    monitoring_alert_label  cluster   shop;
    monitoring_alert_label  instance  web-1;

    monitoring_alert  Errors   "error_rate > 10%"  zone=main  window=3s
                      endpoint=/e/*  severity=page  label:team=web
                      'label:note=a "b" \ c';

    monitoring_alert  Slowly   "count(5xx) > 0"  zone=main  window=8s
                      for=3s  endpoint=/p/*;

    monitoring_alert  Kept     "count(4xx) > 0"  zone=main  window=2s
                      keep_firing_for=4s  endpoint=/k/*;
    monitoring_alert  NotKept  "count(4xx) > 0"  zone=main  window=2s
                      endpoint=/k/*;

    monitoring_alert  Flap     "count(2xx) > 0"  zone=main  window=1s
                      endpoint=/flap;

    monitoring_alert  Quiet    "rps < 1"  zone=main  window=2s
                      endpoint=/q/*;

    # the metrics

    monitoring_alert  Count5xx  "count(5xx) > 0"     zone=main  window=1m
                      endpoint=/limited/*;
    monitoring_alert  Ratio4xx  "ratio(4xx) > 50%"   zone=main  window=1m
                      endpoint=/limited/*;
    monitoring_alert  Rate429   "rate(429) > 0.1/s"  zone=main  window=1m
                      endpoint=/limited/*;
    monitoring_alert  Count429  "count(429) >= 30"   zone=main  window=1m
                      endpoint=/limited/*;

    monitoring_alert  SlowP95   "p95 > 100ms"   zone=main  window=1m
                      endpoint=/lat/slow;
    monitoring_alert  FastP95   "p95 > 100ms"   zone=main  window=1m
                      endpoint=/lat/fast;
    monitoring_alert  SlowMean  "mean > 150ms"  zone=main  window=1m
                      endpoint=/lat/slow;
    monitoring_alert  FastMean  "mean > 150ms"  zone=main  window=1m
                      endpoint=/lat/fast;

    # the scopes

    monitoring_alert  Api    "count(2xx) >= 5"  zone=main   window=1m
                      endpoint=/api/*;
    monitoring_alert  Other  "count(2xx) >= 3"  zone=other  window=1m;

    # /health

    monitoring_alert  Down  "rps < 1"  zone=hz  window=2s  severity=critical;
    monitoring_alert  Busy  "count(2xx) > 0"  zone=hz  window=2s;

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  main;

        monitoring main;

        location / {
            return 200 "ok\n";
        }

        location /e/fail {
            return 500;
        }

        location /p/fail {
            return 502;
        }

        location /k/ {
            return 404;
        }

        location /limited/x {
            return 429;
        }

        location /lat/slow {
            echo_sleep 0.2;
            echo ok;
        }

        location /lat/fast {
            echo_sleep 0.06;
            echo ok;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%%;
        server_name  other;

        monitoring other;

        location / {
            return 200 "ok\n";
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8082%%;
        server_name  hz;

        monitoring hz;

        location / {
            return 200 "ok\n";
        }

        location /health {
            monitoring_health;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8089%%;
        server_name  dashboards;

        monitoring off;

        location /mon/main {
            monitoring_dashboard main;
        }

        location /mon/other {
            monitoring_dashboard other;
        }

        location /mon/hz {
            monitoring_dashboard hz;
        }

        location /metrics {
            monitoring_metrics;
        }
    }
}

EOF

$t->run();

###############################################################################

# the "alerts" object of a zone's API; rules() by name

sub alerts {
    my ($zone) = @_;

    my $r = http_json("/mon/" . ($zone // 'main') . '/api', port => port(8089));
    return $r->{data} && $r->{data}{alerts} // {};
}

sub rules {
    my ($zone) = @_;
    return { map { $_->{name} => $_ } @{alerts($zone)->{rules} // []} };
}

# watch($until, $timeout): poll the main zone's rules until $until->($rules)
# is true; returns the last rules and, per rule, what was seen of it in
# order, as [ time, state, value ] each time either changed

sub watch {
    my ($until, $timeout) = @_;

    my (%seen, $rules);

    poll(sub {
        $rules = rules();

        my $now = time();

        for my $r (values %$rules) {
            my $s = $seen{$r->{name}} //= [];
            my $v = $r->{value} // 'null';

            push @$s, [ $now, $r->{state}, $v ]
                if !@$s || $s->[-1][1] ne $r->{state} || $s->[-1][2] ne $v;
        }

        return $until->($rules);
    }, timeout => $timeout, interval => 0.1);

    return ($rules, \%seen);
}

sub states {
    my ($seen, $name) = @_;

    my @s = map { $_->[1] } @{$seen->{$name} // []};
    return join ' ', map { $s[$_] } grep { !$_ || $s[$_] ne $s[$_ - 1] }
        0 .. $#s;
}

# the state of a rule as seen at a time

sub state_at {
    my ($seen, $name, $time) = @_;

    my @s = grep { $_->[0] <= $time } @{$seen->{$name} // []};
    return @s ? $s[-1][1] : '';
}

# the values seen of a rule while it was in a state

sub values_in {
    my ($seen, $name, $state) = @_;
    return map { $_->[2] } grep { $_->[1] eq $state } @{$seen->{$name} // []};
}

sub send_to {
    my ($port, @paths) = @_;

    my $r = http_pipeline(\@paths, port => port($port), timeout => 30);
    return $r->{total} // 0;
}

sub transitions {
    my ($rule) = @_;
    return join ' ', map { $_->{state} } @{$rule->{transitions} // []};
}

###############################################################################

# every rule evaluated once before the traffic starts

my $rules;

poll(sub {
    $rules = rules();
    return keys %$rules && !grep { !defined $_->{evaluated_at} }
        values %$rules;
}, timeout => 10);

ok(%$rules && !grep({ !defined $_->{evaluated_at} } values %$rules),
    'all rules evaluated') or diag(explain $rules);

is(rules('other')->{Other}{state}, 'inactive', 'other zone: inactive');
ok(!exists $rules->{Other}, 'other zone\'s rule not in main\'s API');

my $a = alerts();

is($a->{interval_seconds}, 1, 'interval 1s');
is(scalar @{$a->{rules} // []}, 15, 'main zone: 15 rules');

my $j = http_json('/mon/main?format=json', port => port(8089));
is(scalar @{$j->{data} && $j->{data}{alerts}{rules} // []}, 15,
    '?format=json: the rules too');
ok(abs(($rules->{Errors}{evaluated_at} // 0) - time()) < 5,
    'evaluated_at is now');

###############################################################################

# an error burst fires error_rate > 10% at once (for=0), a for=3s rule
# goes pending first, and keep_firing_for holds one rule after the
# condition clears; all resolve once their windows pass

my $burst = time();

is(send_to(8080, map { ('/e/fail') x 9, '/e/ok' } 1 .. 2), 20,
    'error burst sent');
is(send_to(8080, ('/p/fail') x 5), 5, '5xx for the pending rule sent');
is(send_to(8080, ('/k/x') x 5), 5, '404s for keep_firing_for sent');

my $seen;

($rules, $seen) = watch(sub {
    my ($r) = @_;
    return $r->{Errors}{state} eq 'resolved'
        && $r->{Slowly}{state} eq 'resolved'
        && $r->{Kept}{state} eq 'resolved';
}, 30);

is(states($seen, 'Errors'), 'inactive firing resolved',
    'error_rate: firing, then resolved');
is(states($seen, 'Slowly'), 'inactive pending firing resolved',
    'for=3s: pending, firing, resolved');
is(states($seen, 'NotKept'), 'inactive firing resolved',
    'count(4xx): firing, then resolved');
is(states($seen, 'Kept'), 'inactive firing resolved',
    'keep_firing_for: firing, then resolved');

my $e = $rules->{Errors};

is(transitions($e), 'firing resolved', 'error_rate: transitions');

my ($fire, $res) = @{$e->{transitions} // []};

ok(($fire->{value} // 0) > 0.1 && $fire->{value} <= 1,
    'error_rate: value when it fired, a fraction') or diag(explain $e);
ok($fire->{at} >= $burst - 0.01 && $fire->{at} < $burst + 5,
    'error_rate: fired within a few intervals of the burst')
    or diag(explain $e);
is(json_type($res->{value}), 'null',
    'error_rate: no value once the window holds no requests');
ok($res->{at} - $fire->{at} >= 2 && $res->{at} - $fire->{at} < 8,
    'error_rate: resolved after about the 3s window')
    or diag(explain $e);
is($e->{since}, $res->{at}, 'resolved: since is the resolution');
is(json_type($e->{value}), 'null', 'resolved: value null');

# the value as it was seen while firing: 18 errors in 20 requests

ok(grep({ $_ eq '0.9' } values_in($seen, 'Errors', 'firing')),
    'error_rate: value while firing') or diag(explain $seen->{Errors});

# for=3s: firing only 3s after it became pending

my $s = $rules->{Slowly};
my %at = map { $_->{state} => $_->{at} } @{$s->{transitions} // []};

is(transitions($s), 'pending firing resolved', 'for=3s: transitions');
ok(defined $at{pending} && defined $at{firing}
    && $at{firing} - $at{pending} >= 2.999
    && $at{firing} - $at{pending} < 6,
    'for=3s: firing 3s after pending') or diag(explain $s);
ok(($s->{transitions}[0]{value} // 0) >= 1
    && $s->{transitions}[0]{value} <= 5, 'for=3s: count(5xx) when pending');
is($s->{transitions}[1]{value}, 5, 'for=3s: count(5xx) when firing');

my ($p) = grep { $_->[1] eq 'pending' } @{$seen->{Slowly}};
my ($f) = grep { $_->[1] eq 'firing' } @{$seen->{Slowly}};

ok($p && $f && $f->[0] - $p->[0] >= 2,
    'for=3s: seen pending for a while before firing')
    or diag(explain $seen->{Slowly});

# keep_firing_for=4s: still firing when its twin without it resolved

my ($notkept) = grep { $_->[1] eq 'resolved' } @{$seen->{NotKept}};
my ($kept) = grep { $_->[1] eq 'resolved' } @{$seen->{Kept}};

is($notkept && state_at($seen, 'Kept', $notkept->[0]), 'firing',
    'keep_firing_for: firing when the twin without it resolved')
    or diag(explain [ $seen->{Kept}, $seen->{NotKept} ]);
is((values_in($seen, 'Kept', 'firing'))[-1], 'null',
    'keep_firing_for: firing while the condition is false')
    or diag(explain $seen->{Kept});
ok($notkept && $kept && $kept->[0] - $notkept->[0] >= 2,
    'keep_firing_for: resolved later than without it')
    or diag(explain [ $seen->{Kept}, $seen->{NotKept} ]);

%at = map { $_->{state} => $_->{at} } @{$rules->{Kept}{transitions} // []};
my %at0 = map { $_->{state} => $_->{at} }
    @{$rules->{NotKept}{transitions} // []};

is($at{firing}, $at0{firing}, 'keep_firing_for: fired at the same time');

# the twin resolved at the first evaluation that found the condition
# false; this one goes on firing for 4s from there, as in Prometheus

ok(defined $at{resolved} && defined $at0{resolved}
    && $at{resolved} - $at0{resolved} >= 3.999
    && $at{resolved} - $at0{resolved} < 7,
    'keep_firing_for: resolved 4s after the condition cleared')
    or diag(explain [ $rules->{Kept}{transitions},
        $rules->{NotKept}{transitions} ]);

###############################################################################

# count, ratio, rate on a location answering 429, next to one answering
# 200; p95 and mean on slow and fast locations

is(send_to(8080, map { ('/limited/x') x 3, '/limited/ok' } 1 .. 10), 40,
    '30 429s and 10 200s sent');

my $r = http_pipeline([ map { ('/lat/slow', '/lat/fast') } 1 .. 20 ],
    port => port(8080), parallel => 20, timeout => 30);
is($r->{200}, 40, '20 slow and 20 fast requests sent');

($rules) = watch(sub {
    my ($r) = @_;
    return ($r->{Count429}{value} // 0) == 30
        && ($r->{Ratio4xx}{value} // 0) == 0.75
        && defined $r->{FastP95}{value}
        && defined $r->{SlowP95}{value}
        && ($r->{SlowP95}{state} eq 'firing'
            && $r->{SlowMean}{state} eq 'firing'
            && $r->{Rate429}{state} eq 'firing');
}, 10);

is($rules->{Count429}{state}, 'firing', 'count(429) >= 30: firing');
is($rules->{Count429}{value}, 30, 'count(429): value');
is($rules->{Count429}{unit}, 'count', 'count(429): unit');

is($rules->{Count5xx}{state}, 'inactive', 'count(5xx): 429s are not 5xx');
is($rules->{Count5xx}{value}, 0, 'count(5xx): value 0 with requests');

is($rules->{Ratio4xx}{state}, 'firing', 'ratio(4xx) > 50%: firing');
is($rules->{Ratio4xx}{value}, 0.75, 'ratio(4xx): value, a fraction');
is($rules->{Ratio4xx}{unit}, 'ratio', 'ratio(4xx): unit');

my $rate = $rules->{Rate429}{value} // 0;

is($rules->{Rate429}{state}, 'firing', 'rate(429) > 0.1/s: firing');
ok($rate >= 30 / 61 && $rate <= 30, 'rate(429): per second of the window')
    or diag(explain $rules->{Rate429});
is($rules->{Rate429}{unit}, '/s', 'rate(429): unit');

my $p95 = $rules->{SlowP95}{value} // 0;

is($rules->{SlowP95}{state}, 'firing', 'p95 > 100ms: fired by 200ms requests');
ok($p95 > 100 && $p95 <= 500, 'p95: in the 100ms..500ms bucket')
    or diag(explain $rules->{SlowP95});
is($rules->{SlowP95}{unit}, 'ms', 'p95: unit');

$p95 = $rules->{FastP95}{value} // 0;

is($rules->{FastP95}{state}, 'inactive', 'p95 > 100ms: not by 60ms requests');
ok($p95 > 50 && $p95 <= 100, 'p95: in the 50ms..100ms bucket')
    or diag(explain $rules->{FastP95});

my $mean = $rules->{SlowMean}{value} // 0;

is($rules->{SlowMean}{state}, 'firing', 'mean > 150ms: firing');
ok($mean >= 190 && $mean < 400, 'mean: about 200ms')
    or diag(explain $rules->{SlowMean});

$mean = $rules->{FastMean}{value} // 0;

is($rules->{FastMean}{state}, 'inactive', 'mean > 150ms: not for 60ms');
ok($mean >= 55 && $mean < 150, 'mean: about 60ms')
    or diag(explain $rules->{FastMean});

###############################################################################

# endpoint=/api/* counts only the endpoints it matches; zone= only its zone

is(send_to(8080, '/api/users/1', '/api/users/2', '/api/items', '/api/v2/x',
    ('/api') x 5, ('/apiary') x 5, ('/x/api/y') x 5), 19,
    '4 requests in /api/*, 15 around it');
is(send_to(8081, '/a', '/b'), 2, '2 requests to the other zone');

($rules) = watch(sub { ($_[0]->{Api}{value} // 0) == 4 }, 10);

is($rules->{Api}{value}, 4, 'endpoint=/api/*: counts its endpoints only');
is($rules->{Api}{state}, 'inactive', 'endpoint=/api/*: 4 of 5');

my $o;
poll(sub { $o = rules('other')->{Other}; ($o->{value} // 0) == 2 },
    timeout => 10);

is($o->{value}, 2, 'zone=other: counts its zone only');
is($o->{state}, 'inactive', 'zone=other: 2 of 3');

is(send_to(8080, '/api/users/3'), 1, 'one more request in /api/*');
is(send_to(8081, '/c'), 1, 'one more request to the other zone');

($rules) = watch(sub { $_[0]->{Api}{state} eq 'firing' }, 10);

is($rules->{Api}{state}, 'firing', 'endpoint=/api/*: firing at 5');
is($rules->{Api}{value}, 5, 'endpoint=/api/*: value 5');

poll(sub { $o = rules('other')->{Other}; $o->{state} eq 'firing' },
    timeout => 10);

is($o->{state}, 'firing', 'zone=other: firing at 3');
is($o->{value}, 3, 'zone=other: value 3');

is(alerts('other')->{firing}, 1, 'other zone: one firing');

###############################################################################

# nginx_alerts: pending and firing rules, with their labels

my $m;

is(send_to(8080, ('/p/fail') x 2), 2, '5xx for the pending rule again');
is(send_to(8080, ('/e/fail') x 5), 5, 'errors again');

poll(sub {
    (undef, my $body) = metrics(port(8089));
    $m = parse_metrics($body);
    return metric_value($m, 'nginx_alerts', { alertname => 'Slowly' })
        && metric_value($m, 'nginx_alerts', { alertname => 'Errors' });
}, timeout => 10);

is(metric_value($m, 'nginx_alerts', { zone => 'main', alertname => 'Errors',
    alertstate => 'firing', severity => 'page', team => 'web',
    note => 'a "b" \ c' }), 1, 'nginx_alerts: a firing rule, its labels');
is(metric_value($m, 'nginx_alerts', { zone => 'main', alertname => 'Slowly',
    alertstate => 'pending', severity => 'warning' }), 1,
    'nginx_alerts: a pending rule');
is(metric_value($m, 'nginx_alerts', { zone => 'other', alertname => 'Other',
    alertstate => 'firing' }), 1, 'nginx_alerts: another zone');

is(scalar(metric_find($m, 'nginx_alerts', { alertname => 'FastP95' })), 0,
    'nginx_alerts: no line for an inactive rule');
is(scalar(metric_find($m, 'nginx_alerts', { alertname => 'Kept' })), 0,
    'nginx_alerts: no line for a resolved rule');
ok(!grep({ $_->{value} != 1 } metric_find($m, 'nginx_alerts')),
    'nginx_alerts: all 1');
ok(!grep({ exists $_->{labels}{cluster} || exists $_->{labels}{instance} }
    metric_find($m, 'nginx_alerts')),
    'nginx_alerts: no labels of monitoring_alert_label');

my %labels = map { %{$_->{labels}} } metric_find($m, 'nginx_alerts',
    { alertname => 'Slowly' });
is(join(',', sort keys %labels), 'alertname,alertstate,severity,zone',
    'nginx_alerts: the labels of a rule without its own');

my ($ok, $out) = promtool_check((metrics(port(8089)))[1]);
ok($ok, 'promtool check metrics with alerts') or diag($out);

my $body = (metrics(port(8089)))[1];
like($body, qr/^# TYPE nginx_alerts gauge$/m, 'nginx_alerts: a gauge');

###############################################################################

# rps < 1 fires on silence and resolves with traffic

($rules, $seen) = watch(sub { $_[0]->{Quiet}{state} eq 'firing' }, 10);

is($rules->{Quiet}{state}, 'firing', 'rps < 1: firing on silence');
is($rules->{Quiet}{value}, 0, 'rps < 1: value 0, not null');

is(send_to(8080, map { "/q/$_" } 1 .. 20), 20, '20 requests for rps < 1');

($rules, $seen) = watch(sub { $_[0]->{Quiet}{state} eq 'resolved' }, 10);

is($rules->{Quiet}{state}, 'resolved', 'rps < 1: resolved by traffic');
ok(($rules->{Quiet}{value} // 0) >= 1, 'rps < 1: value at least 1')
    or diag(explain $rules->{Quiet});

($rules) = watch(sub { $_[0]->{Quiet}{state} eq 'firing' }, 10);

is(transitions($rules->{Quiet}), 'firing resolved firing',
    'rps < 1: fires again on silence');

###############################################################################

# /health: degraded while a critical rule fires, alerts_firing counts
# the firing rules, whatever their severity

my $h;

poll(sub {
    $h = http_json('/health', port => port(8082));
    return ($h->{status} // 0) == 503;
}, timeout => 10);

is($h->{status}, 503, 'critical rule firing: 503');
is($h->{data} && $h->{data}{status}, 'degraded',
    'critical rule firing: degraded');
is($h->{data} && $h->{data}{alerts_firing}, 1, 'alerts_firing: 1');
is($h->{data} && $h->{data}{error_rate}, 0, 'no errors in the window');
is(http_json('/mon/hz/api', port => port(8089))->{data}{status}, 'degraded',
    'critical rule firing: the API says degraded too');

# /health polled ten times a second is not traffic: rps < 1 goes on firing

my @polled = map {
    sleep 0.1;
    http_json('/health', port => port(8082))->{status} // 0;
} 1 .. 30;

is(join(' ', grep { $_ != 503 } @polled), '',
    'polling /health does not resolve rps < 1');

# traffic: the critical rule resolves, a warning one fires

my $pid = $t->spawn_sub(sub {
    $SIG{TERM} = 'DEFAULT';

    my $end = time() + 15;
    while (time() < $end) {
        http_pipeline([ ('/') x 5 ], port => port(8082), timeout => 5);
        sleep 0.2;
    }
});

poll(sub {
    $h = http_json('/health', port => port(8082));
    return ($h->{status} // 0) == 200
        && ($h->{data}{alerts_firing} // 0) == 1;
}, timeout => 10);

is($h->{status}, 200, 'warning rule firing: 200');
is($h->{data} && $h->{data}{status}, 'healthy',
    'warning rule firing: healthy');
is($h->{data} && $h->{data}{alerts_firing}, 1,
    'alerts_firing: counts a warning rule');
is(http_json('/mon/hz/api', port => port(8089))->{data}{status}, 'healthy',
    'warning rule firing: the API says healthy');

$t->kill_spawned($pid);

# silence again: degraded, then healthy once both rules are resolved...
# the critical one fires again on silence, so only its firing is checked

poll(sub {
    $h = http_json('/health', port => port(8082));
    return ($h->{status} // 0) == 503;
}, timeout => 10);

is($h->{status}, 503, 'silence again: 503');

###############################################################################

# the transitions: the last ten, oldest first

my @flap;

for my $n (1 .. 6) {
    send_to(8080, '/flap');
    my ($r1) = watch(sub { $_[0]->{Flap}{state} eq 'firing' }, 10);
    my ($r2) = watch(sub { $_[0]->{Flap}{state} eq 'resolved' }, 10);
    push @flap, $r1->{Flap}{state} . ' ' . $r2->{Flap}{state};
}

is(join(' ', @flap), join(' ', ('firing resolved') x 6),
    'flap: firing and resolved six times');

my $flap = rules()->{Flap};
my @tr = @{$flap->{transitions} // []};

is(scalar @tr, 10, 'transitions: the last ten of twelve');
is(transitions($flap), join(' ', ('firing resolved') x 5),
    'transitions: oldest first');
ok(!grep({ $tr[$_]{at} < $tr[$_ - 1]{at} } 1 .. $#tr),
    'transitions: times in order');
ok(!grep({ $_->{state} eq 'firing' && ($_->{value} // 0) != 1 } @tr),
    'transitions: the value when firing');
ok(!grep({ $_->{state} eq 'resolved' && defined $_->{value} } @tr),
    'transitions: no value when resolved');
is($flap->{since}, $tr[-1]{at}, 'since: the last transition');

###############################################################################

$t->done_testing();

###############################################################################
