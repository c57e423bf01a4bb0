#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: monitoring_alert,
# monitoring_alert_interval and monitoring_alert_webhook checked at
# "nginx -t": each bad expression, parameter and value fails naming the
# rule and the offending token, good ones pass, and the rules of a
# started nginx come back in the JSON API as written.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Monitoring;

###############################################################################

my $t = Test::Monitoring->new();

# fails($directives, $error): nginx -t fails with "[emerg] $error in
# FILE:LINE", the line of the directive (config_error writes it on one)

sub fails {
    my ($directives, $error, $name) = @_;

    my $out = $t->config_error($directives);

    like($out // "nginx -t passed\n",
        qr/\[emerg\] \Q$error\E in \S*nginx\.conf:\d+\n/,
        $name // $directives);
}

# some errors can only be found once the whole http block is read: they
# name the rule, but no line

sub fails_late {
    my ($directives, $error, $name) = @_;

    my $out = $t->config_error($directives);

    like($out // "nginx -t passed\n", qr/\[emerg\] \Q$error\E/,
        $name // $directives);
}

sub passes {
    my ($directives, $name) = @_;

    my $out = $t->config_error($directives);

    is($out, undef, ($name // $directives) . ': passes');
}

# an expression for rule "Bad", which must fail with the reason and token

sub bad_expr {
    my ($expr, $reason, $token, $name) = @_;

    fails(qq{monitoring_alert Bad "$expr";},
        qq{invalid expression "$expr" in alert rule "Bad": $reason "$token"},
        $name // "expression '$expr'");
}

###############################################################################

# the expression

bad_expr('latency > 1s', 'unknown metric', 'latency', 'unknown metric');
bad_expr('p100 > 1s', 'unknown metric', 'p100', 'p100 is not a percentile');
bad_expr('p0 > 1s', 'unknown metric', 'p0', 'p0 is not a percentile');
bad_expr('> 1', 'expected a metric', '>', 'no metric');

bad_expr('p95 > 100', 'a latency needs a unit (ms or s):', '100',
    'p95 without a unit');
bad_expr('mean >= 0.5', 'a latency needs a unit (ms or s):', '0.5',
    'mean without a unit');
bad_expr('p95 > 1m', 'unit does not fit the metric:', '1m',
    'p95 in minutes');
bad_expr('rps > 5ms', 'unit does not fit the metric:', '5ms',
    'rps in milliseconds');
bad_expr('count(5xx) > 5%', 'unit does not fit the metric:', '5%',
    'a count in percent');
bad_expr('error_rate > 5/s', 'unit does not fit the metric:', '5/s',
    'an error rate per second');

bad_expr('error_rate > 5', 'a ratio is at most 100% (or 1), not', '5',
    'error_rate 5 without %');
bad_expr('error_rate > 150%', 'a ratio is at most 100% (or 1), not',
    '150%', 'error_rate above 100%');
bad_expr('ratio(4xx) >= 1.01', 'a ratio is at most 100% (or 1), not',
    '1.01', 'ratio above 1');

bad_expr('count(5xx > 1', 'expected ")" at', '>', 'missing ")"');
bad_expr('count 5xx > 1', 'expected "(" and a status class after', 'count',
    'missing "("');
bad_expr('rate(abc) > 1', 'expected a status class (5xx) or code (429), not',
    'abc', 'class not a class');
bad_expr('ratio(1234) > 1%',
    'expected a status class (5xx) or code (429), not', '1234',
    'four digit code');

# the token quoted is the class as written, without the parenthesis

bad_expr('count(6xx) > 1', 'expected a status class (5xx) or code (429), not',
    '6xx', 'class 6xx');

bad_expr('rps => 1', 'expected an operator (> >= < <= == !=), not', '=>',
    'operator =>');
bad_expr('rps = 1', 'expected an operator (> >= < <= == !=), not', '=',
    'operator =');
bad_expr('rps 1', 'expected an operator (> >= < <= == !=), not', '1',
    'no operator');

bad_expr('rps > fast', 'expected a number, not', 'fast', 'not a number');
bad_expr('rps > -1', 'expected a number, not', '-1', 'negative number');
bad_expr('rps >', 'expected a number, not', '', 'no number');
bad_expr('rps > 1234567890123456', 'number too long', '1234567890123456',
    'number of 16 digits');
bad_expr('rps > 1.234567890123456', 'number too long', '1.234567890123456',
    'fraction of 16 digits');

bad_expr('rps > 1 and more', 'unexpected', 'and', 'trailing garbage');
bad_expr('rps > 1 1', 'unexpected', '1', 'trailing number');
bad_expr('', 'empty expression', '', 'empty expression');
bad_expr('   ', 'empty expression', '', 'blank expression');

# good expressions

passes(join(' ', map { "monitoring_alert E$_->[0] \"$_->[1]\" window=1m;" }
    [ 1, 'error_rate > 0.05' ],
    [ 2, 'error_rate >= 5%' ],
    [ 3, 'error_rate > 100%' ],
    [ 4, 'rps < 1' ],
    [ 5, 'rps > 100/s' ],
    [ 6, 'p50 > 200ms' ],
    [ 7, 'p99 > 1.5s' ],
    [ 8, 'p999 > 2s' ],
    [ 9, 'p1 > 1ms' ],
    [ 10, 'mean <= 300ms' ],
    [ 11, 'count(5xx) > 10' ],
    [ 12, 'count(404) != 0' ],
    [ 13, 'rate(429) > 0.5/s' ],
    [ 14, 'ratio(4xx) == 1' ],
    [ 15, 'ratio(2xx) < 99.9%' ],
    [ 16, 'rps>1' ],
    [ 17, '  count( 5XX )  >=  3  ' ],
    [ 18, 'rps > 123456789012345' ]),
    'all metrics, operators and units');

###############################################################################

# rule names, parameters and their values

fails('monitoring_alert A "rps > 1"; monitoring_alert A "rps > 2";',
    'duplicate alert rule "A"');

fails('monitoring_alert 1A "rps > 1";',
    'invalid alert rule name "1A" in "monitoring_alert" directive, '
    . 'letters, digits and "_" up to 63 characters', 'name with a digit first');
fails('monitoring_alert a-b "rps > 1";',
    'invalid alert rule name "a-b" in "monitoring_alert" directive, '
    . 'letters, digits and "_" up to 63 characters', 'name with "-"');

my $long = 'N' x 64;

fails(qq{monitoring_alert $long "rps > 1";},
    qq{invalid alert rule name "$long" in "monitoring_alert" directive, }
    . 'letters, digits and "_" up to 63 characters', 'name of 64 characters');
passes('monitoring_alert ' . ('N' x 63) . ' "rps > 1";',
    'name of 63 characters');

fails('monitoring_alert A;',
    'invalid number of arguments in "monitoring_alert" directive');

fails('monitoring_alert A "rps > 1" foo=1;',
    'invalid parameter "foo=1" in alert rule "A"');
fails('monitoring_alert A "rps > 1" bogus;',
    'invalid parameter "bogus" in alert rule "A"');
fails('monitoring_alert A "rps > 1" Window=1m;',
    'invalid parameter "Window=1m" in alert rule "A"');

for my $p ('window=1m window=2m', 'for=1s for=1s',
    'keep_firing_for=1s keep_firing_for=2s', 'severity=a severity=b',
    'zone=main zone=main', 'endpoint=/a endpoint=/b',
    'summary=a summary=b', 'description=a description=b')
{
    my $second = (split / /, $p)[1];

    fails(qq{monitoring_alert A "rps > 1" $p;},
        qq{duplicate parameter "$second" in alert rule "A"});
}

# times

for my $bad ([ window => 'abc' ], [ window => '0s' ], [ window => '500ms' ],
    [ window => '2d' ], [ window => '-1m' ])
{
    fails(qq{monitoring_alert A "rps > 1" $bad->[0]=$bad->[1];},
        qq{invalid $bad->[0] "$bad->[1]" in alert rule "A", }
        . 'a time from 1s to 1d');
}

for my $bad ([ for => 'x' ], [ for => '25h' ], [ for => '1y' ],
    [ keep_firing_for => '-1s' ], [ keep_firing_for => 'abc' ],
    [ keep_firing_for => '2d' ])
{
    fails(qq{monitoring_alert A "rps > 1" $bad->[0]=$bad->[1];},
        qq{invalid $bad->[0] "$bad->[1]" in alert rule "A", }
        . 'a time from 0s to 1d');
}

passes('monitoring_alert A "rps > 1" window=1d for=0 keep_firing_for=1d;',
    'times at their bounds');
passes('monitoring_alert A "rps > 1" window=90s for=1m30s'
    . ' keep_firing_for=500ms;', 'times as nginx writes them');

# the window and monitoring_alert_interval (5s unless set)

fails_late('monitoring_alert A "rps > 1" window=2s;',
    'the window of alert rule "A" is shorter than '
    . '"monitoring_alert_interval" 5000ms',
    'window below the default interval');
fails_late('monitoring_alert_interval 30s; monitoring_alert A "rps > 1"'
    . ' window=10s;', 'the window of alert rule "A" is shorter than '
    . '"monitoring_alert_interval" 30000ms', 'window below the interval');
passes('monitoring_alert_interval 10s; monitoring_alert A "rps > 1"'
    . ' window=10s;', 'window equal to the interval');
passes('monitoring_alert A "rps > 1" window=1s; monitoring_alert_interval 1s;',
    'interval set after the rule');

fails_late('monitoring_alert_interval 500ms;',
    '"monitoring_alert_interval" must be at least 1s', 'interval of 500ms');
fails_late('monitoring_alert_interval 0;',
    '"monitoring_alert_interval" must be at least 1s', 'interval of 0');
fails('monitoring_alert_interval abc;',
    '"monitoring_alert_interval" directive invalid value');
fails('monitoring_alert_interval 1s; monitoring_alert_interval 2s;',
    '"monitoring_alert_interval" directive is duplicate');

# zones

fails_late('monitoring_zone other 1m; monitoring_alert A "rps > 1";',
    'alert rule "A" needs a "zone=" parameter: several zones are declared',
    'zone= missing with two zones');
passes('monitoring_zone other 1m; monitoring_alert A "rps > 1" zone=other;'
    . ' monitoring_alert B "rps > 1" zone=main;', 'zone= with two zones');

fails_late('monitoring_alert A "rps > 1" zone=nope;',
    'unknown zone "nope" in "monitoring_alert" directive', 'unknown zone=');

passes('monitoring_alert A "rps > 1" zone=later; monitoring_zone later 1m;',
    'zone= declared after the rule');

{
    $t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_alert A "rps > 1";
}

EOF

    my ($ok, $out) = $t->test_config();

    my $e = 'alert rule "A" needs a "zone=" parameter: no zone is declared';

    ok(!$ok, 'no zone: nginx -t fails');
    like($out, qr/\[emerg\] \Q$e\E/, 'no zone: error text');
}

# labels

for my $k (qw(alertname alertstate severity instance zone)) {
    fails(qq{monitoring_alert A "rps > 1" label:$k=x;},
        qq{label "$k" in alert rule "A" is set by the module},
        "reserved label $k");
}

# monitoring_alert_label: on every delivered alert; "instance" allowed

for my $k (qw(alertname alertstate severity zone)) {
    fails(qq{monitoring_alert_label $k x;},
        qq{label "$k" in "monitoring_alert_label" is set by the module},
        "monitoring_alert_label: reserved $k");
}

fails('monitoring_alert_label __x y;',
    'invalid label name "__x" in "monitoring_alert_label"');
fails('monitoring_alert_label a-b y;',
    'invalid label name "a-b" in "monitoring_alert_label"');
fails('monitoring_alert_label cluster a; monitoring_alert_label cluster b;',
    'duplicate label "cluster" in "monitoring_alert_label"');
fails('monitoring_alert_label instance a; monitoring_alert_label instance b;',
    'duplicate label "instance" in "monitoring_alert_label"');
fails('monitoring_alert_label cluster ' . ('v' x 129) . ';',
    'label value "' . ('v' x 129) . '" in "monitoring_alert_label" is '
    . 'longer than 128 bytes');
fails(qq{monitoring_alert_label cluster "a\tb";},
    'label value "a	b" in "monitoring_alert_label" is not valid UTF-8');
fails('monitoring_alert_label cluster;',
    'invalid number of arguments in "monitoring_alert_label" directive');
passes('monitoring_alert_label instance web-1; '
    . 'monitoring_alert_label cluster shop; '
    . 'monitoring_alert A "rps > 1" label:cluster=other;');

for my $k ('__name', '1k', 'a-b', '', 'a.b') {
    fails(qq{monitoring_alert A "rps > 1" label:$k=x;},
        qq{invalid label name "$k" in alert rule "A"}, "label name '$k'");
}

fails('monitoring_alert A "rps > 1" label:team;',
    'invalid parameter "label:team" in alert rule "A", '
    . 'expected label:NAME=VALUE');
fails('monitoring_alert A "rps > 1" label:team=a label:team=b;',
    'duplicate label "team" in alert rule "A"');

my $v129 = 'v' x 129;

fails(qq{monitoring_alert A "rps > 1" label:team=$v129;},
    qq{label value "$v129" in alert rule "A" is longer than 128 bytes},
    'label value of 129 bytes');
passes('monitoring_alert A "rps > 1" label:team=' . ('v' x 128)
    . ' label:empty= label:_x=1 label:Tier=web;', 'good labels');

# severity and endpoint

for my $s ('bad.sev', '', 'a/b', 'S' x 65) {
    fails(qq{monitoring_alert A "rps > 1" severity=$s;},
        qq{invalid severity "$s" in alert rule "A"},
        'severity ' . substr($s, 0, 10));
}

fails('monitoring_alert A "rps > 1" "severity=two words";',
    'invalid severity "two words" in alert rule "A"', 'severity with a space');
passes('monitoring_alert A "rps > 1" severity=critical;'
    . ' monitoring_alert B "rps > 1" severity=page-2;'
    . ' monitoring_alert C "rps > 1" severity=' . ('S' x 64) . ';',
    'good severities');

fails('monitoring_alert A "rps > 1" endpoint=;',
    'invalid endpoint "" in alert rule "A"');

# summary and description: quoted inside the parameter, or around it

passes('monitoring_alert A "rps > 1" summary="two words"'
    . ' description="three more words";', 'summary="two words"');
passes('monitoring_alert A "rps > 1" "summary=two words"'
    . ' "description=three more words";', '"summary=two words"');
passes('monitoring_alert A "rps > 1" summary="one";', 'summary="one"');

fails('monitoring_alert A "rps > 1" summary="two words;',
    'unbalanced quotes in "summary="two" in alert rule "A"');
fails('monitoring_alert A "rps > 1" summary=";',
    'unbalanced quotes in "summary="" in alert rule "A"');

###############################################################################

# monitoring_alert_webhook

my $W = '"monitoring_alert_webhook" directive';
my $hook = 'http://127.0.0.1:9/hook';

fails("monitoring_alert_webhook $hook format=generic resend=1m;",
    '"resend=" applies to "format=alertmanager" only, a generic webhook '
    . "gets each transition once, in $W", 'resend= with format=generic');
fails("monitoring_alert_webhook $hook resend=1m format=generic;",
    '"resend=" applies to "format=alertmanager" only, a generic webhook '
    . "gets each transition once, in $W", 'resend= before format=generic');

fails("monitoring_alert_webhook $hook format=xml;",
    qq{invalid format "xml" in $W, alertmanager or generic});
fails("monitoring_alert_webhook $hook format=;",
    qq{invalid format "" in $W, alertmanager or generic});
fails("monitoring_alert_webhook $hook foo=1;",
    qq{invalid parameter "foo=1" in $W});

fails("monitoring_alert_webhook $hook timeout=abc;",
    qq{invalid timeout "abc" in $W, a time up to 10m});
fails("monitoring_alert_webhook $hook timeout=11m;",
    qq{invalid timeout "11m" in $W, a time up to 10m});
fails("monitoring_alert_webhook $hook resend=500ms;",
    qq{invalid resend "500ms" in $W, a time from 1s to 1d});
fails("monitoring_alert_webhook $hook resend=2d;",
    qq{invalid resend "2d" in $W, a time from 1s to 1d});

for my $p ('format=generic format=generic', 'timeout=1s timeout=2s',
    'resend=1m resend=1m')
{
    my $second = (split / /, $p)[1];

    fails("monitoring_alert_webhook $hook $p;",
        qq{duplicate parameter "$second" in $W});
}

fails("monitoring_alert_webhook $hook; monitoring_alert_webhook $hook;",
    qq{duplicate URL in $W}, 'duplicate URL');
fails_late('monitoring_alert_webhook http://user:pw@127.0.0.1:9/hook;'
    . " monitoring_alert_webhook $hook;",
    qq{duplicate webhook "$hook" in "monitoring_alert_webhook"},
    'URLs that differ in credentials only');

fails(join(' ', map { "monitoring_alert_webhook $hook/$_;" } 1 .. 9),
    qq{too many "monitoring_alert_webhook" directives, at most 8},
    '9 webhooks');
passes(join(' ', map { "monitoring_alert_webhook $hook/$_;" } 1 .. 8),
    '8 webhooks');

fails(qq{monitoring_alert_webhook "$hook/a b";},
    qq{invalid character in URL of $W}, 'space in the URL');

fails('monitoring_alert_webhook https://relay.test/hook;',
    'https webhook "https://relay.test/hook" is not supported, '
    . 'use http to a local relay', 'https URL');
fails('monitoring_alert_webhook HTTPS://relay.test/hook;',
    'https webhook "HTTPS://relay.test/hook" is not supported, '
    . 'use http to a local relay', 'HTTPS URL');
fails('monitoring_alert_webhook garbage;',
    'invalid URL prefix in webhook "garbage"', 'garbage URL');
fails('monitoring_alert_webhook ftp://127.0.0.1/;',
    'invalid URL prefix in webhook "ftp://127.0.0.1/"', 'ftp URL');
fails('monitoring_alert_webhook http://;', 'no host in webhook "http://"',
    'URL without a host');

passes("monitoring_alert_webhook $hook; monitoring_alert_webhook $hook/g"
    . ' format=generic timeout=500ms;'
    . " monitoring_alert_webhook $hook/am format=alertmanager resend=1d"
    . ' timeout=10m;'
    . ' monitoring_alert_webhook http://user:pw@127.0.0.1:9/auth;'
    . ' monitoring_alert_webhook http://127.0.0.1/;', 'good webhooks');

# the error names the line of the directive, not the end of http{}

{
    $t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m;

    monitoring_alert_webhook  https://relay.test/hook;

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  localhost;
    }
}

EOF

    my @lines = split /\n/, $t->read_file('nginx.conf');
    my ($line) = grep { $lines[$_ - 1] =~ /monitoring_alert_webhook/ }
        1 .. @lines;

    my ($ok, $out) = $t->test_config();

    like($out, qr/\[emerg\] https webhook .* in \S*nginx\.conf:\d+\n/,
        'https URL in a longer http{}');

    like($out, qr/ in \S*nginx\.conf:$line\n/, 'the directive\'s line');
}

###############################################################################

# a started nginx: the rules as written, in the zone they name

my $long_summary = join ' ', ('word') x 100;

$t->write_file_expand('nginx.conf', <<"EOF");

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main   1m;
    monitoring_zone  other  1m;

    monitoring_alert_interval  2s;

    monitoring_alert  Quoted  "error_rate > 5%"  zone=main
                      summary="two words"  description="a b  c";

    monitoring_alert  Around  "p95 > 1.5s"  "summary=two words"  zone=main
                      window=5m  for=30s  keep_firing_for=1m30s
                      severity=critical  endpoint=/api/*
                      label:team=web  'label:note=say "hi"';

    monitoring_alert  Long  "rps < 1"  zone=main  "summary=$long_summary";

    monitoring_alert  Elsewhere  "count(429) >= 3"  zone=other;

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  localhost;

        monitoring off;

        location /main {
            monitoring_dashboard main;
        }

        location /other {
            monitoring_dashboard other;
        }
    }
}

EOF

$t->run();

my $r = http_json('/main/api');
my $a = $r->{data} && $r->{data}{alerts} // {};
my %rule = map { $_->{name} => $_ } @{$a->{rules} // []};

is($r->{status}, 200, 'api: 200');
is(json_type($a->{configured}), 'bool', 'configured is a bool');
ok($a->{configured}, 'configured');
is($a->{interval_seconds}, 2, 'interval_seconds');
is(join(',', map { $_->{name} } @{$a->{rules} // []}), 'Quoted,Around,Long',
    'the zone\'s rules, in the order written');

is($rule{Quoted}{summary}, 'two words', 'summary="two words"');
is($rule{Around}{summary}, 'two words', '"summary=two words"');
is($rule{Long}{summary}, $long_summary, 'a long summary whole');

is($rule{Quoted}{expr}, 'error_rate > 5%', 'expr as written');
is($rule{Quoted}{severity}, 'warning', 'severity warning by default');
is($rule{Quoted}{unit}, 'ratio', 'error_rate: unit ratio');
is($rule{Quoted}{window_seconds}, 60, 'window of 1m by default');
is($rule{Quoted}{for_seconds}, 0, 'for 0 by default');
is($rule{Quoted}{keep_firing_for_seconds}, 0, 'keep_firing_for 0 by default');
is(json_type($rule{Quoted}{endpoint}), 'null', 'no endpoint: null');
is_deeply($rule{Quoted}{labels}, {}, 'no labels');

is($rule{Around}{expr}, 'p95 > 1.5s', 'p95 expr as written');
is($rule{Around}{unit}, 'ms', 'p95: unit ms');
is($rule{Around}{severity}, 'critical', 'severity');
is($rule{Around}{window_seconds}, 300, 'window 5m');
is($rule{Around}{for_seconds}, 30, 'for 30s');
is($rule{Around}{keep_firing_for_seconds}, 90, 'keep_firing_for 1m30s');
is($rule{Around}{endpoint}, '/api/*', 'endpoint glob');
is_deeply($rule{Around}{labels}, { team => 'web', note => 'say "hi"' },
    'labels');

is($rule{Long}{unit}, '/s', 'rps: unit /s');

my $fresh = $rule{Quoted} // {};

is($fresh->{state}, 'inactive', 'inactive at first');
is(json_type($fresh->{since}), 'null', 'since null while inactive');
is_deeply($fresh->{transitions}, [], 'no transitions yet');

$r = http_json('/other/api');
is(join(',', map { $_->{name} } @{$r->{data}{alerts}{rules} // []}),
    'Elsewhere', 'the other zone\'s rules');
is($r->{data}{alerts}{rules}[0]{unit}, 'count', 'count: unit count');

$t->stop();

###############################################################################

done_testing();

###############################################################################
