#!/usr/bin/perl

# Tests of the harness itself: the webhook sink in each of its modes, the
# closed port, Alertmanager as the alert tests use it, and that all they
# start is gone at the end, also when a test dies or is killed.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Errno qw(ECONNREFUSED);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(strftime);
use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep time);

###############################################################################

my $t = Test::Monitoring->new();

my %sink = map { $_ => $t->webhook_sink(mode => $_) }
    qw(ok 500 garbage close hang);

my $keep = $t->webhook_sink(keepalive => 1);
my $slow = $t->webhook_sink(delay => 1);

my @pids = map { $_->{pid} } values(%sink), $keep, $slow;

sub post {
    my ($sink, $path, $body, %opts) = @_;

    return http_get($path, port => $sink->{port}, method => 'POST',
        headers => [ 'Content-Type: application/json' ], body => $body,
        %opts);
}

sub conn {
    my ($port) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp', Timeout => 5) or die "connect $port: $!\n";
    binmode $s;

    return $s;
}

# what a connection reads within $timeout, up to the close or until
# $done->($buf) is true

sub drain {
    my ($s, $timeout, $done) = @_;

    my $sel = IO::Select->new($s);
    my $deadline = time() + $timeout;
    my $buf = '';

    while (time() < $deadline) {
        last if $done && $done->($buf);
        next unless $sel->can_read(0.1);
        last unless sysread($s, $buf, 65536, length $buf);
    }

    return $buf;
}

###############################################################################

# ok: 200, the request recorded with headers and raw body

my $ok = $sink{ok};
like($ok->{url}, qr{^http://127\.0\.0\.1:\d+$}, 'sink url');
ok(-e $ok->{file}, 'sink file exists at start');
is(scalar $t->sink_requests($ok), 0, 'nothing recorded yet');

my $payload = '{"alerts":[{"labels":{"alertname":"A1"}}]}';
my $t0 = time();
my $r = post($ok, '/hook?x=1', $payload, headers => [
    'Content-Type: application/json', 'X-Dup: a', 'X-Dup: b' ]);

is(http_status($r), 200, 'ok: 200');
like($r, qr/\r\nConnection: close\r\n/, 'ok: connection close');

my @req = $t->sink_wait($ok, 1);
is(scalar @req, 1, 'ok: one request recorded');

my $q = $req[0];
is($q->{method}, 'POST', 'ok: method');
is($q->{path}, '/hook?x=1', 'ok: path');
is($q->{version}, 'HTTP/1.1', 'ok: version');
is($q->{headers}{'content-type'}, 'application/json', 'ok: header lowercased');
is($q->{headers}{'x-dup'}, 'a, b', 'ok: repeated header joined');
is($q->{headers}{'content-length'}, length $payload, 'ok: content-length');
is($q->{body}, $payload, 'ok: raw body');
is($q->{json}{alerts}[0]{labels}{alertname}, 'A1', 'ok: json decoded');
ok($q->{time} >= $t0 - 0.01 && $q->{time} <= time() + 0.01, 'ok: time');

# binary body bytes come back the same, no json for them

my $bin = "\xff\x00\xc3\xa9\r\n\"\\";
is(http_status(post($ok, '/bin', $bin)), 200, 'binary body');
@req = $t->sink_wait($ok, 2);
is($req[1]{body}, $bin, 'binary body recorded as sent');
ok(!exists $req[1]{json}, 'binary body: no json');

# a request split across packets is recorded once complete

my $s = conn($ok->{port});
syswrite($s, "POST /split HTTP/1.1\r\nHo");
sleep 0.1;
syswrite($s, "st: x\r\nContent-Length: 11\r\n\r\nhello");
sleep 0.2;
is(scalar $t->sink_requests($ok), 2, 'split: not recorded before the end');
syswrite($s, " world");
like(drain($s, 5), qr{^HTTP/1.1 200 }, 'split: 200');
close $s;

@req = $t->sink_wait($ok, 3);
is($req[2]{path}, '/split', 'split: path');
is($req[2]{body}, 'hello world', 'split: body');

# chunked body

$s = conn($ok->{port});
syswrite($s, "POST /chunked HTTP/1.1\r\nHost: x\r\n"
    . "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
sleep 0.1;
syswrite($s, "6;ext=1\r\n world\r\n0\r\n\r\n");
like(drain($s, 5), qr{^HTTP/1.1 200 }, 'chunked: 200');
close $s;

@req = $t->sink_wait($ok, 4);
is($req[3]{body}, 'hello world', 'chunked: body');

# one connection waiting for its body does not hold up another

my $first = conn($ok->{port});
syswrite($first, "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab");
sleep 0.1;

is(http_status(post($ok, '/second', '{}', timeout => 3)), 200,
    'concurrent: second answered while first incomplete');
syswrite($first, "cd");
like(drain($first, 5), qr{^HTTP/1.1 200 }, 'concurrent: first answered');
close $first;

@req = $t->sink_wait($ok, 6);
is(join(' ', map { $_->{path} } @req[4, 5]), '/second /first',
    'concurrent: both recorded, in order of completion');
isnt($req[4]{conn}, $req[5]{conn}, 'concurrent: two connections');

# a request cut short by the client: only with all => 1

$s = conn($ok->{port});
syswrite($s, "POST /cut HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
sleep 0.1;
close $s;

my @all = $t->sink_wait($ok, 7, all => 1);
is(scalar @all, 7, 'cut: recorded');
ok($all[6]{incomplete}, 'cut: incomplete');
is($all[6]{body}, 'abc', 'cut: partial body');
is(scalar $t->sink_requests($ok), 6, 'cut: left out by default');

# keepalive: pipelined requests on one connection, both answered

$s = conn($keep->{port});
syswrite($s, "POST /k1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1"
    . "POST /k2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n2");
my $two = drain($s, 3, sub { (() = $_[0] =~ /\r\n\r\n200\n/g) == 2 });
is(scalar(() = $two =~ m{HTTP/1\.1 200 }g), 2, 'keepalive: two answers');
unlike($two, qr/Connection: close/, 'keepalive: no connection close');
close $s;

@req = $t->sink_wait($keep, 2);
is(join(' ', map { "$_->{path}=$_->{body}" } @req), '/k1=1 /k2=2',
    'keepalive: both recorded');
is($req[0]{conn}, $req[1]{conn}, 'keepalive: one connection');

###############################################################################

# 500, garbage, close

$r = post($sink{500}, '/h', '{"a":1}');
is(http_status($r), 500, '500: status');
is(($t->sink_wait($sink{500}, 1))[0]{json}{a}, 1, '500: recorded');

$r = post($sink{garbage}, '/h', '{"a":2}');
is($r, "xyz garbage\r\n\r\n", 'garbage: answer');
is(($t->sink_wait($sink{garbage}, 1))[0]{json}{a}, 2, 'garbage: recorded');

$r = post($sink{close}, '/h', '{"a":3}');
is($r, '', 'close: no answer');
is(($t->sink_wait($sink{close}, 1))[0]{json}{a}, 3, 'close: recorded');

# mode changes

$t->sink_set_mode($sink{500}, 'ok');
is(http_status(post($sink{500}, '/h', '{}')), 200, 'set mode: now 200');
$t->sink_set_mode($sink{500}, 503);
is(http_status(post($sink{500}, '/h', '{}')), 503, 'set mode: now 503');
is(scalar $t->sink_wait($sink{500}, 3), 3, 'set mode: all recorded');

# hang: no answer, the client times out, the request is recorded, and a
# hanging connection does not keep another from being recorded

my $hung = conn($sink{hang}->{port});
syswrite($hung, "POST /h1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");

$t0 = time();
$r = post($sink{hang}, '/h2', '{"a":4}', timeout => 1);
my $took = time() - $t0;

is($r, '', 'hang: no answer');
ok($took >= 0.9 && $took < 3, 'hang: client timed out after 1s')
    or diag("took $took");

@req = $t->sink_wait($sink{hang}, 2);
is(join(' ', map { $_->{path} } @req), '/h1 /h2', 'hang: both recorded');
is($req[1]{json}{a}, 4, 'hang: body');
is(drain($hung, 0.3), '', 'hang: first connection still open, unanswered');
close $hung;

# delay: the answer comes late, others are served meanwhile

$s = conn($slow->{port});
syswrite($s, "GET /d1 HTTP/1.1\r\nHost: x\r\n\r\n");
$t0 = time();
is(http_status(http_get('/d2', port => $slow->{port}, timeout => 3)), 200,
    'delay: answered');
like(drain($s, 3), qr{^HTTP/1.1 200 }, 'delay: first answered');
$took = time() - $t0;
ok($took >= 0.8 && $took < 2.5, 'delay: about 1s') or diag("took $took");
close $s;
is(scalar $t->sink_wait($slow, 2), 2, 'delay: both recorded');

###############################################################################

# closed port: refused, and stays so

my $cp = $t->closed_port();
like($cp, qr/^\d+$/, 'closed port');

my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $cp,
    Proto => 'tcp', Timeout => 2);
my $err = $! + 0;
ok(!$c && $err == ECONNREFUSED, 'closed port: refused') or diag("$!");

my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $cp,
    Proto => 'tcp', Listen => 1, ReuseAddr => 1);
ok(!$l, 'closed port: cannot be taken');

# a sink stopped early: its port refuses

$t->kill_spawned($sink{close}{pid});
ok(!-e "/proc/$sink{close}{pid}", 'sink stopped');
$c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
    PeerPort => $sink{close}{port}, Proto => 'tcp', Timeout => 2);
ok(!$c, 'stopped sink refuses');

###############################################################################

# Alertmanager

SKIP: {
    skip 'no alertmanager binary', 14 unless $t->has_alertmanager();

    my $hook = $t->webhook_sink();
    push @pids, $hook->{pid};

    my $am = $t->alertmanager(webhook => "$hook->{url}/am");
    push @pids, $am->{pid};

    like($am->{url}, qr{^http://127\.0\.0\.1:\d+$}, 'am: url');
    is_deeply($t->am_alerts($am), [], 'am: no alerts');

    my $iso = sub { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($_[0])) };
    my $start = $iso->(time() - 60);
    my %labels = (alertname => 'HarnessTest', severity => 'warning',
        instance => "\x{e9}t\x{e9}");

    is($t->am_post_alerts($am, [ { labels => \%labels,
        annotations => { summary => 'harness' }, startsAt => $start } ]),
        200, 'am: alert posted');

    my $list = poll(sub {
        my $l = $t->am_alerts($am);
        return $l && @$l ? $l : undef;
    }, timeout => 5);

    is(scalar @{$list // []}, 1, 'am: one alert');
    is_deeply($list->[0]{labels}, \%labels, 'am: labels');
    is($list->[0]{annotations}{summary}, 'harness', 'am: annotations');
    is($list->[0]{status}{state}, 'active', 'am: active');

    is(scalar @{$t->am_alerts($am, filter => 'alertname="HarnessTest"',
        active => 1, silenced => 0) // []}, 1, 'am: filter matches');
    is(scalar @{$t->am_alerts($am, filter => 'alertname="Other"') // [1]},
        0, 'am: filter excludes');

    my @n = $t->sink_wait($hook, 1, timeout => 10);
    is($n[0]{json}{status}, 'firing', 'am: firing notification');

    # resolved: endsAt in the past drops it from the v2 listing, whatever
    # the filters; the receiver is told "resolved"

    is($t->am_post_alerts($am, [ { labels => \%labels, startsAt => $start,
        endsAt => $iso->(time() - 1) } ]), 200, 'am: resolution posted');

    ok(poll(sub { my $l = $t->am_alerts($am); $l && !@$l }, timeout => 5),
        'am: resolved alert not listed');
    is_deeply($t->am_alerts($am, active => 0, silenced => 1, inhibited => 1,
        unprocessed => 1), [], 'am: not listed with any filter');

    @n = $t->sink_wait($hook, 2, timeout => 10);
    is(join(' ', map { $_->{json}{alerts}[0]{status} // '?' } @n),
        'firing resolved', 'am: resolved notification');
}

###############################################################################

# all of it is gone at stop, and at the end of a script that dies or is
# killed

my $script = <<'EOF';
use Test::Monitoring;
$| = 1;
my $t = Test::Monitoring->new();
my @p = map { $t->webhook_sink(mode => $_)->{pid} } qw(ok hang);
push @p, $t->alertmanager()->{pid} if $t->has_alertmanager();
print "pids @p\n";
die "dying\n" if $ARGV[0] eq 'die';
sleep 30;
EOF

sub orphans {
    my ($how) = @_;

    my $out = $t->testdir() . "/logs/orphans.$how";
    my $pid = $t->spawn([ $^X, '-I', "$FindBin::Bin/lib", '-e', $script,
        $how ], output => $out);

    my $p = poll(sub { $t->read_file("logs/orphans.$how") =~ /^pids (.*)$/m
        && $1 }, timeout => 20);

    kill 'TERM', $pid if $how eq 'term';
    my ($status) = $t->reap($pid, 20);

    my @p = split ' ', $p || '';
    ok(@p >= 2 && defined $status, "$how: script ran and ended")
        or diag($t->read_file("logs/orphans.$how"));

    my @left = grep { -e "/proc/$_" } @p;
    is("@left", '', "$how: nothing left");

    # a broken harness must not leave them behind either

    kill 'KILL', @left if @left;
}

orphans('die');
orphans('term');

$t->stop();

my @left = grep { -e "/proc/$_" } @pids;
is("@left", '', 'nothing left after stop');

done_testing();

###############################################################################
