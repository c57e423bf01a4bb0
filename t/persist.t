#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: persist= snapshots.  A restart
# restores every counter, the history and the alert states exactly;
# snapshots are written every persist_interval, atomically, and a
# SIGKILL loses at most one interval; damaged files of every kind are
# logged and ignored; a directory that cannot be written is said and
# recording goes on; reloads keep or restart counts as without
# persistence; a binary upgrade (USR2, QUIT of the old master) keeps the
# counts of both nginx, also with workers that are not root.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Compress::Zlib ();
use POSIX ();
use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep time);

###############################################################################

my $t = Test::Monitoring->new(echo => 1);

# the webhook sink outlives the restarts of $t, which stop what $t spawned

my $aux = Test::Monitoring->new();
my $sink = $aux->webhook_sink(port => 8090);

my $conf = <<'EOF';

%%TEST_GLOBALS%%

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main   %%SIZE%%  persist=%%PERSIST%%;
    monitoring_zone  small  256k  max_series=3
                     persist=%%TESTDIR%%/small.snap;

    monitoring_buckets         %%BUCKETS%%;
    monitoring_slow_threshold  100ms;

    monitoring_alert_interval  1s;
    monitoring_alert_webhook   http://127.0.0.1:%%PORT_8090%%/hook
                               format=generic;

    monitoring_alert  Errors  "count(5xx) > 0"  zone=main  window=1m;
    %%RULES%%

    upstream backend {
        server 127.0.0.1:%%PORT_8081%%;
    }

    server {
        listen       127.0.0.1:%%PORT_8080%% reuseport;
        server_name  main.test;

        monitoring main;
        monitoring_label  tier  $arg_tier;

        location / {
            return 200 "ok\n";
        }

        location /missing {
            return 404;
        }

        location /fail {
            return 503;
        }

        location /slow {
            echo_sleep 0.15;
            echo slow;
        }

        location /proxy {
            proxy_pass http://backend/;
        }

        location /metrics {
            monitoring off;
            monitoring_metrics;
        }

        location /mon {
            monitoring off;
            monitoring_dashboard main;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%% reuseport;
        server_name  backend.test;

        monitoring off;

        location / {
            return 200 "backend\n";
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8082%% reuseport;
        server_name  small.test;

        monitoring small;

        location / {
            return 200 "ok\n";
        }
    }
}

EOF

my %DEFAULT = (
    SIZE => '1m',
    PERSIST => 'main.snap',
    BUCKETS => '10ms 50ms 100ms 500ms',
    RULES => 'monitoring_alert  Changed  "count(4xx) > 0"  zone=main '
        . ' window=1m;',
);

sub write_conf {
    my ($t, %o) = @_;

    my $c = $conf;
    $c =~ s/%%(SIZE|PERSIST|BUCKETS|RULES)%%/$o{$1} \/\/ $DEFAULT{$1}/ge;

    $t->write_file_expand('nginx.conf', $c);
}

write_conf($t);
$t->run();

###############################################################################

# the samples a restart must keep, as "name{labels}" => value

my $KEPT = qr/^nginx_http_(?!connections)|^nginx_worker_
    |^nginx_start_time_seconds$|^nginx_monitoring_series(?:_dropped_total)?$
    |^nginx_monitoring_webhook_deliveries_total$/x;

sub scrape {
    my (undef, $body) = metrics(port(8080));
    return parse_metrics($body);
}

sub kept {
    my ($m) = @_;

    my %kept;

    for my $s (grep { !$_->{error} && $_->{name} =~ $KEPT } @$m) {
        my $l = $s->{labels};
        my $k = $s->{name} . '{'
            . join(',', map { "$_=$l->{$_}" } sort keys %$l) . '}';
        $kept{$k} = $s->{raw};
    }

    return \%kept;
}

sub requests {
    my ($m, %want) = @_;
    return metric_sum($m, 'nginx_http_requests_total',
        { zone => 'main', %want });
}

# 5 requests to main per round, 1 of them proxied; then 5 slow ones

sub traffic {
    my ($n) = @_;

    my @paths;

    for my $i (1 .. $n) {
        push @paths, '/', '/missing', '/fail?tier=gold', '/proxy?tier=gold',
            '/users/' . (1000 + $i % 7);
    }

    my $r = http_pipeline(\@paths, parallel => 2);
    my $slow = http_pipeline([ ('/slow?tier=gold') x 5 ], parallel => 5);

    return ($r->{total} // 0) + ($slow->{total} // 0);
}

sub settled {
    my ($n, %want) = @_;

    my $m;

    poll(sub {
        $m = scrape();
        return requests($m, %want) == $n;
    }, timeout => 5);

    return $m;
}

# the bounds of a series' histogram

sub bounds {
    my ($m, $endpoint) = @_;
    return join ' ', map { $_->{labels}{le} }
        metric_find($m, 'nginx_http_request_duration_seconds_bucket',
            { zone => 'main', endpoint => $endpoint });
}

sub api {
    return http_json('/mon/api', port => port(8080))->{data} // {};
}

sub rules {
    return { map { $_->{name} => $_ } @{api()->{alerts}{rules} // []} };
}

# the history points of the last hour that hold requests

sub history {
    my ($d) = @_;
    return [ grep { $_->{requests} } @{$d->{history}{points} // []} ];
}

sub log_from {
    my ($t, $offset) = @_;
    return substr($t->read_file('logs/error.log'), $offset);
}

sub log_size {
    my ($t) = @_;
    return length $t->read_file('logs/error.log');
}

sub restart {
    my ($t) = @_;

    $t->stop();
    my $offset = log_size($t);
    $t->run();

    return $offset;
}

# the header of a snapshot: magic[8], version, order, instance, seq,
# written (ms), start_time, size, crc, flags, name_len, reserved, name[64]

my $HEADER = 136;

sub header {
    my ($data) = @_;

    return {} if length $data < $HEADER;

    my %h;
    @h{qw(magic version order instance seq written start_time size crc
        flags name_len)} = unpack('a8 V V Q< Q< Q< Q< Q< V V V', $data);

    return \%h;
}

###############################################################################

# a restart restores every counter exactly, and they go on from there

my $sent = traffic(20);
is($sent, 105, 'traffic: 105 requests to main');

my $small = http_pipeline([ map { "/s$_" } 1 .. 6 ], port => port(8082));
is($small->{200}, 6, 'traffic: 6 requests to small, some overflow');

my $m = settled($sent);

is(requests($m), $sent, 'main: all requests counted');
cmp_ok(metric_value($m, 'nginx_monitoring_series_dropped_total',
    { zone => 'small' }), '>', 0, 'small: dropped requests');
is(metric_sum($m, 'nginx_http_slow_requests_total',
    { zone => 'main', endpoint => '/slow' }), 5, 'main: slow requests');
is(metric_sum($m, 'nginx_http_upstream_requests_total', { zone => 'main' }),
    20, 'main: upstream attempts');

# a completed 10 second slot of the history, the alerts fired and sent

my $d;

poll(sub {
    $d = api();
    my $n = 0;
    $n += $_->{requests} for @{history($d)};
    return $n == $sent;
}, timeout => 15, interval => 0.5);

my $hist = history($d);
ok(@$hist, 'history: points with requests');

my $rules;

poll(sub {
    $rules = rules();
    return ($rules->{Errors}{state} // '') eq 'firing'
        && ($rules->{Changed}{state} // '') eq 'firing';
}, timeout => 5);

is($rules->{Errors}{state}, 'firing', 'alert: firing');

my @hooks = $aux->sink_wait($sink, 2);
is(scalar @hooks, 2, 'alert: two firing alerts delivered');

$m = scrape();

my $before = kept($m);
my $start = metric_value($m, 'nginx_start_time_seconds', { zone => 'main' });

$t->stop();

ok(-s $t->testdir() . '/main.snap', 'stop: snapshot written, in the prefix');
ok(-s $t->testdir() . '/small.snap', 'stop: snapshot of the other zone');
is(join(' ', glob($t->testdir() . '/*.tmp.*')), '',
    'stop: no temporary files left');
is(header($t->read_file('main.snap'))->{flags}, 1, 'stop: snapshot final');

# the next start: one rule changed, one added

my $offset = log_size($t);

write_conf($t, RULES => <<'EOF');
    monitoring_alert  Changed  "count(4xx) > 1000"  zone=main  window=1m;
    monitoring_alert  Added    "count(2xx) > 0"     zone=main  window=1m;
EOF

$t->run();

like(log_from($t, $offset),
    qr/\[notice\].*zone "main" restored from "[^"]*main\.snap": 7 series/,
    'restart: restore logged');

$m = scrape();

is_deeply(kept($m), $before, 'restart: every counter restored exactly');
is(metric_value($m, 'nginx_start_time_seconds', { zone => 'main' }), $start,
    'restart: counters go on from the first start');

$d = api();
is_deeply(history($d), $hist, 'restart: history points kept');
is($d->{totals}{requests}, $sent, 'restart: API totals');

my ($ok, $out) = promtool_check((metrics(port(8080)))[1]);
ok($ok, 'restart: promtool check metrics') or diag($out);
is(join("\n", histogram_errors($m, totals => 1)), '',
    'restart: histograms consistent');

# the alert states: the same rule goes on, a changed one starts afresh,
# and restored counts are no burst of requests for a new one

like(log_from($t, $offset), qr/zone "main": 1 alert states restored/,
    'restart: alert state restored by the first worker');

my $at = time();

poll(sub {
    $d = rules();
    return ($d->{Added}{evaluated_at} // 0) > $at + 2;
}, timeout => 6);

is($d->{Errors}{state}, 'firing', 'restart: alert still firing');
is($d->{Errors}{since}, $rules->{Errors}{since},
    'restart: alert firing since the same time');
is_deeply($d->{Errors}{transitions}, $rules->{Errors}{transitions},
    'restart: alert transitions kept');
is($d->{Changed}{state}, 'inactive', 'restart: changed rule afresh');
is_deeply($d->{Changed}{transitions}, [], 'restart: changed rule history');
is($d->{Added}{state}, 'inactive', 'restart: restored counts not a burst');

is(scalar $aux->sink_requests($sink), 2, 'restart: no delivery repeated');
is(metric_value(scrape(), 'nginx_monitoring_webhook_deliveries_total',
    { result => 'success' }), 2, 'restart: webhook deliveries kept');

# more traffic adds up

my $more = traffic(4);
$m = settled($sent + $more);

is(requests($m), $sent + $more, 'restart: new requests add up');
is(metric_sum($m, 'nginx_http_request_duration_seconds_count',
    { zone => 'main', endpoint => '/fail' }), 24,
    'restart: histogram counts add up');
is(metric_sum($m, 'nginx_worker_requests_total', { zone => 'main' }),
    $sent + $more, 'restart: worker requests add up');
is(metric_sum($m, 'nginx_http_upstream_requests_total', { zone => 'main' }),
    24, 'restart: upstream attempts add up');

###############################################################################

# snapshots every persist_interval while nginx runs; SIGKILL of all of
# nginx loses at most what came after the last one

write_conf($t, PERSIST => 'main.snap persist_interval=1s');
restart($t);

my $snap = $t->testdir() . '/main.snap';
my $last = header($t->read_file('main.snap'));
my $h;

$at = time();

poll(sub {
    $h = header($t->read_file('main.snap'));
    return ($h->{written} // 0) > $at * 1000;
}, timeout => 3);

cmp_ok($h->{written}, '>', $at * 1000, 'running: snapshot written');
isnt($h->{instance}, $last->{instance}, 'running: by the new nginx');
is($h->{flags}, 0, 'running: not final');

my $r = http_pipeline([ ('/k') x 50, map { "/k/new$_" } 1 .. 20 ]);
is($r->{200}, 70, 'running: 70 requests');

settled(50, endpoint => '/k');
$at = time();

poll(sub {
    $last = header($t->read_file('main.snap'));
    return ($last->{written} // 0) > $at * 1000;
}, timeout => 3);

cmp_ok($last->{written}, '>', $at * 1000, 'running: snapshot rewritten');
cmp_ok($last->{seq}, '>', $h->{seq}, 'running: a later snapshot');
cmp_ok($last->{size}, '>', $h->{size}, 'running: new series, a larger file');

ok(poll(sub { !glob("$snap.tmp.*") }, timeout => 1, interval => 0.02),
    'running: no temporary file left');

# requests after the last snapshot, then everything killed at once

$r = http_pipeline([ ('/k') x 30 ]);
is($r->{200}, 30, 'running: 30 more requests');

my @procs = ($t->master_pid(), $t->worker_pids());
kill 'KILL', @procs;

ok(poll(sub { !grep { kill 0, $_ } @procs[1 .. $#procs] }, timeout => 5),
    'SIGKILL: nginx gone');

$offset = restart($t);

like(log_from($t, $offset), qr/zone "main" restored from/,
    'SIGKILL: last periodic snapshot restored');

$m = scrape();
my $k = requests($m, endpoint => '/k');

ok($k >= 50 && $k <= 80, "SIGKILL: counts of the last snapshot ($k)");
is(requests($m, endpoint => '/fail'), 24, 'SIGKILL: earlier counts kept');

###############################################################################

# damaged files: each is said at warn, with its reason; nginx starts empty

$t->stop();

srand(1);

my $good = $t->read_file('main.snap');
my $gh = header($good);

is(Compress::Zlib::crc32(substr($good, $HEADER)), $gh->{crc},
    'snapshot: CRC32 of the body');
is(length($good), $HEADER + $gh->{size}, 'snapshot: size of the body');

# a body with a valid checksum: header fields patched, crc recomputed

sub resealed {
    my ($body) = @_;

    my $head = substr($good, 0, $HEADER);
    substr($head, 48, 8) = pack('Q<', length $body);
    substr($head, 56, 4) = pack('V', Compress::Zlib::crc32($body));

    return $head . $body;
}

sub patched {
    my ($offset, $bytes) = @_;
    my $data = $good;
    substr($data, $offset, length $bytes) = $bytes;
    return $data;
}

my $flipped = $good;
substr($flipped, $HEADER + 200, 1) ^= "\x01";

my $random = join '', map { chr int rand 256 } 1 .. 4096;

my @damaged = (
    [ 'truncated', substr($good, 0, int(length($good) / 2)),
        'truncated' ],
    [ 'longer', $good . "\0" x 8,
        'longer than its header says' ],
    [ 'byte flipped', $flipped,
        'checksum mismatch' ],
    [ 'random bytes', $random,
        'not a snapshot of this module' ],
    [ 'empty', '',
        'not a snapshot of this module' ],
    [ 'text', "main 1m\nrequests 105\n",
        'not a snapshot of this module' ],
    [ 'short header', substr($good, 0, 100),
        'not a snapshot of this module' ],
    [ 'other version', patched(8, pack('V', 2)),
        'written in another format version' ],
    [ 'other byte order', patched(12, pack('N', 0x01020304)),
        'written on a machine of another byte order' ],
    [ 'other zone', $t->read_file('small.snap'),
        'written for another zone' ],
    [ 'record cut short', resealed(substr($good, $HEADER, 100)),
        'a record is cut short' ],
);

for my $case (@damaged) {
    my ($name, $data, $reason) = @$case;

    $t->write_file('main.snap', $data);

    $offset = restart($t);

    my $log = log_from($t, $offset);

    like($log, qr/\[warn\].*"main" starts empty: snapshot "[^"]*main\.snap"/,
        "$name: ignored, at warn");
    like($log, qr/main\.snap" ignored, \Q$reason\E$/m, "$name: $reason");

    $m = scrape();

    is(requests($m), 0, "$name: main starts empty");

    $t->stop();
}

# records with a valid checksum but no sense: skipped, no crash

my $nonsense = '';

for my $type (1 .. 6, 99) {
    my $body = join '', map { chr int rand 256 } 1 .. 64 * $type;
    $nonsense .= pack('V V', $type, length $body) . $body;
}

$t->write_file('main.snap', resealed($nonsense));
$offset = log_size($t);
$t->run();

like(log_from($t, $offset),
    qr/zone "main" restored from .*, records that do not fit skipped/,
    'nonsense records: skipped');

$m = scrape();
is(metric_value($m, 'nginx_up', {}), 1, 'nonsense records: nginx serves');

###############################################################################

# a directory the workers cannot write: said at the start, and at the
# first failed write; recording goes on

write_conf($t, PERSIST => 'missing/main.snap persist_interval=1s');
$offset = restart($t);

$r = http_pipeline([ ('/w') x 10 ]);
is($r->{200}, 10, 'unwritable: nginx serves');

$m = settled(10, endpoint => '/w');
is(requests($m, endpoint => '/w'), 10, 'unwritable: recording goes on');

sleep 2.5;

my $log = log_from($t, $offset);

like($log, qr/\[error\].*"main": snapshots cannot be written into "[^"]*/,
    'unwritable: said at the start');
like($log, qr/written into "\Q${\ $t->testdir()}\E\/missing"/,
    'unwritable: the directory named');

my @failed = $log =~ /(\[error\].*main\.snap" not written, open\(\) failed.*)/g;

is(scalar @failed, 1, 'unwritable: failed write said once')
    or diag(join "\n", @failed);

ok(!-e $t->testdir() . '/missing', 'unwritable: nothing created');

###############################################################################

# reloads: other buckets keep the counts, and a restart then keeps the
# buckets each series was recorded with; a resize starts afresh

write_conf($t, PERSIST => 'main.snap persist_interval=1s');
restart($t);

my $base = requests(scrape());

$r = http_pipeline([ ('/b') x 30 ]);
is($r->{200}, 30, 'reload: 30 requests');

write_conf($t, PERSIST => 'main.snap persist_interval=1s',
    BUCKETS => '20ms 200ms');
$t->reload();

$r = http_pipeline([ ('/b') x 5, ('/c') x 5 ]);
is($r->{200}, 10, 'buckets: 10 requests');

$m = settled(35, endpoint => '/b');

is(requests($m, endpoint => '/b'), 35, 'buckets: counts kept by the reload');

is(bounds($m, '/b'), '0.01 0.05 0.1 0.5 +Inf', 'buckets: /b keeps its own');
is(bounds($m, '/c'), '0.02 0.2 +Inf', 'buckets: /c has the new ones');

$offset = restart($t);

$m = scrape();

is(requests($m, endpoint => '/b'), 35, 'buckets: restart keeps /b');
is(requests($m, endpoint => '/c'), 5, 'buckets: restart keeps /c');
is(bounds($m, '/b'), '0.01 0.05 0.1 0.5 +Inf',
    'buckets: /b restored with its buckets');
is(bounds($m, '/c'), '0.02 0.2 +Inf', 'buckets: /c restored with its buckets');
is(requests($m), $base + 40, 'buckets: all counts restored');
is(join("\n", histogram_errors($m, totals => 1)), '',
    'buckets: histograms consistent');

# a resize

$offset = log_size($t);

write_conf($t, PERSIST => 'main.snap persist_interval=1s',
    BUCKETS => '20ms 200ms', SIZE => '2m');
$t->reload();

like(log_from($t, $offset),
    qr/\[notice\].*"main" size changed from 1048576 to 2097152, its count/,
    'resize: said');
unlike(log_from($t, $offset), qr/restored from/, 'resize: nothing restored');

$m = scrape();
is(requests($m), 0, 'resize: main starts afresh');
cmp_ok(metric_sum($m, 'nginx_http_requests_total', { zone => 'small' }),
    '>', 0, 'resize: small keeps its counts');

$r = http_pipeline([ ('/b') x 7 ]);
is($r->{200}, 7, 'resize: 7 requests');

settled(7);
restart($t);

$m = scrape();
is(requests($m), 7, 'resize: a restart restores the new counts only');
is(bounds($m, '/b'), '0.02 0.2 +Inf', 'resize: /b afresh with new buckets');

$t->stop();

###############################################################################

# the error log of all the starts after the first

sub bad_lines {
    my ($t) = @_;

    return join "\n",
        grep { /\[(?:alert|emerg|crit)\]|AddressSanitizer|runtime error:/ }
        map { split /\n/, $t->read_file("logs/$_") } qw(error.log stderr.log);
}

is(bad_lines($t), '', 'restarts: no alerts in error log');

###############################################################################

# a binary upgrade: USR2, WINCH and QUIT to the old master.  The new nginx
# counts from zero until the old master has exited and written its last
# snapshot, then adds it: no request is lost or counted twice.  nginx
# ignores USR2 while its parent is the one that started it, so this
# nginx runs as a daemon, started here and stopped here by its pid files.

my $u = Test::Monitoring->new();
my $ud = $u->testdir();
my $binary = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
my @masters;

(my $globals = $u->test_globals()) =~ s/^daemon off;\n//m;

my $uconf = <<'EOF';

%%GLOBALS%%

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone     main  1m  %%PERSIST%%;
    monitoring_buckets  %%BUCKETS%%;

    monitoring_alert_interval  1s;
    monitoring_alert  Burst  "count(2xx) >= 50"  zone=main  window=2s;

    server {
        listen       127.0.0.1:%%PORT_8085%%;
        server_name  upgrade.test;

        monitoring main;

        location / {
            return 200 "ok\n";
        }

        location /metrics {
            monitoring off;
            monitoring_metrics;
        }

        location /mon {
            monitoring off;
            monitoring_dashboard main;
        }
    }
}

EOF

sub write_uconf {
    my ($buckets, $persist, $user) = @_;

    my $g = $globals;
    $g =~ s/^user .*$/$user/m if defined $user;

    (my $c = $uconf) =~ s/%%GLOBALS%%/$g/;
    $c =~ s/%%BUCKETS%%/$buckets/;
    $c =~ s/%%PERSIST%%/$persist \/\/ 'persist=main.snap persist_interval=1s'/e;

    $u->write_file_expand('nginx.conf', $c);
}

sub start_daemon {
    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$ud/logs/stderr.log";
        open STDERR, '>&', \*STDOUT;
        exec $binary, '-p', "$ud/", '-c', 'nginx.conf', '-e', 'logs/error.log'
            or POSIX::_exit(127);
    }

    waitpid($pid, 0);

    return $? == 0;
}

# a daemon nginx, and its master's pid

sub start_master {
    return unless start_daemon();

    my $pid;

    poll(sub { $pid = pid_file('nginx.pid') }, timeout => 5);
    push @masters, $pid if $pid;

    return $pid;
}

sub pid_file {
    my ($name) = @_;
    my ($pid) = $u->read_file("logs/$name") =~ /(\d+)/;
    return $pid;
}

sub alive {
    my ($pid) = @_;

    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';
    close $fh;

    return substr($stat, rindex($stat, ')') + 2, 1) ne 'Z';
}

sub workers_of {
    my ($master) = @_;

    my @w;

    for my $pid (map { m{/proc/(\d+)$} } glob '/proc/[0-9]*') {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh> // '';
        close $fh;

        my (undef, $ppid) = split ' ', substr($stat, rindex($stat, ')') + 2);
        next unless defined $ppid && $ppid == $master;

        open $fh, '<', "/proc/$pid/cmdline" or next;
        my $cmd = <$fh> // '';
        close $fh;

        push @w, $pid if $cmd =~ /worker process/;
    }

    return @w;
}

sub uscrape {
    my (undef, $body) = metrics(port(8085));
    return parse_metrics($body);
}

sub ucount {
    my ($m, $endpoint) = @_;
    return metric_sum($m, 'nginx_http_requests_total',
        { zone => 'main', endpoint => $endpoint });
}

sub ulog {
    my ($offset) = @_;
    return substr($u->read_file('logs/error.log'), $offset // 0);
}

# USR2 to a master: the new master, once its workers run

sub upgrade {
    my ($from) = @_;

    kill 'USR2', $from;

    my $to;

    poll(sub {
        $to = pid_file('nginx.pid');
        return $to && $to != $from && pid_file('nginx.pid.oldbin')
            && workers_of($to) == 2;
    }, timeout => 10);

    push @masters, $to if $to;

    return $to;
}

# the masters this file started itself, should a test die

END {
    for my $pid (grep { alive($_) } @masters) {
        kill 'QUIT', $pid;
        poll(sub { !alive($pid) }, timeout => 10) or kill 'KILL', $pid;
    }
}

write_uconf('10ms 50ms 100ms 500ms');

my $old = start_master();
ok($old, 'upgrade: nginx started as a daemon');

ok(poll(sub { workers_of($old) == 2 }, timeout => 5), 'upgrade: 2 workers');

$r = http_pipeline([ ('/u') x 40, ('/old') x 10 ], port => port(8085));
is($r->{200}, 50, 'upgrade: 50 requests to the old nginx');

$m = uscrape();
my $ustart = metric_value($m, 'nginx_start_time_seconds', { zone => 'main' });

# the old nginx's rules have seen these requests before it is upgraded:
# two evaluations later, its samples hold them

my $evals = metric_value($m, 'nginx_monitoring_alert_evaluations_total',
    { zone => 'main' }) // 0;

ok(poll(sub {
    (metric_value(uscrape(), 'nginx_monitoring_alert_evaluations_total',
        { zone => 'main' }) // 0) >= $evals + 2;
}, timeout => 10), 'upgrade: the old rules evaluated the requests');

# USR2 with other buckets in the configuration

write_uconf('20ms 200ms');

$offset = length ulog();

my $new = upgrade($old);

isnt($new, $old, 'upgrade: new master');
like(ulog($offset),
    qr/\[notice\].*zone "main" waits for the last snapshot of the previous/,
    'upgrade: the new nginx waits for the last snapshot');

# the old nginx goes on writing its snapshots meanwhile: not added

$h = header($u->read_file('main.snap'));

my $oh;

ok(poll(sub {
    $oh = header($u->read_file('main.snap'));
    return ($oh->{seq} // 0) > ($h->{seq} // 0) && $oh->{flags} == 0;
}, timeout => 3), 'upgrade: the old nginx writes its snapshots');

# the old workers stop; the new nginx counts what it gets

kill 'WINCH', $old;

ok(poll(sub { workers_of($old) == 0 }, timeout => 10),
    'upgrade: old workers gone');

$m = uscrape();
is(ucount($m, '/u'), 0, 'upgrade: periodic snapshots of the old not added');

$r = http_pipeline([ ('/u') x 25, ('/new') x 5 ], port => port(8085));
is($r->{200}, 30, 'upgrade: 30 requests to the new nginx');

$m = uscrape();
is(ucount($m, '/u'), 25, 'upgrade: new nginx counts its own until then');

# the old master goes, with its last snapshot

kill 'QUIT', $old;

ok(poll(sub { !alive($old) }, timeout => 10), 'upgrade: old master gone');

ok(poll(sub { ulog($offset) =~ /zone "main" restored from/ }, timeout => 3),
    'upgrade: the new nginx adds it');

like(ulog($offset), qr/"main": 1 series of the snapshot had other buckets/,
    'upgrade: a series recorded with other buckets said');

# the counts added are no burst of requests for the rules of the new
# nginx: 30 requests of its own in the 2s window, Burst needs 50

$at = time();

my $burst;

poll(sub {
    $burst = { map { $_->{name} => $_ } @{http_json('/mon/api',
        port => port(8085))->{data}{alerts}{rules} // []} }->{Burst};
    return ($burst->{evaluated_at} // 0) > $at + 2;
}, timeout => 5);

# the rules go on with the old nginx's states (a firing one may resolve);
# nothing starts to fire at the merge

is(join(",", map { "$_->{state}\@$_->{at}" }
    grep { $_->{at} >= $at - 1 && $_->{state} =~ /^(?:pending|firing)$/ }
    @{$burst->{transitions} // []}), '',
    'upgrade: counts of the old nginx not a burst');
isnt($burst->{state}, 'firing', 'upgrade: the burst rule not firing');

$m = uscrape();

is(ucount($m, '/u'), 65, 'upgrade: counts of both nginx');
is(ucount($m, '/old'), 10, 'upgrade: series of the old nginx only');
is(ucount($m, '/new'), 5, 'upgrade: series of the new nginx only');
is(metric_sum($m, 'nginx_worker_requests_total', { zone => 'main' }), 80,
    'upgrade: worker requests of both');
is(metric_value($m, 'nginx_start_time_seconds', { zone => 'main' }), $ustart,
    'upgrade: counters go on from the first start');
is(metric_sum($m, 'nginx_http_request_duration_seconds_count',
    { endpoint => '/u' }), 65, 'upgrade: histogram count of both');
is(join("\n", histogram_errors($m, totals => 1)), '',
    'upgrade: histograms consistent');

# the old counts of /u (all under 10ms) are in the bucket of the next
# bound of the new series, 20ms; /old keeps the buckets it had

is(bounds($m, '/u'), '0.02 0.2 +Inf', 'upgrade: /u has the new buckets');
is(metric_value($m, 'nginx_http_request_duration_seconds_bucket',
    { endpoint => '/u', le => '0.02' }), 65,
    'upgrade: old counts at the next bound');
is(bounds($m, '/old'), '0.01 0.05 0.1 0.5 +Inf',
    'upgrade: /old keeps its buckets');

($ok, $out) = promtool_check((metrics(port(8085)))[1]);
ok($ok, 'upgrade: promtool check metrics') or diag($out);

# once more, the short way: USR2, requests to both nginx, QUIT

$offset = length ulog();

my $newer = upgrade($new);
isnt($newer, $new, 'upgrade again: new master');

$r = http_pipeline([ ('/u') x 20 ], port => port(8085), parallel => 4);
is($r->{200}, 20, 'upgrade again: 20 requests to both nginx');

kill 'QUIT', $new;

ok(poll(sub { !alive($new) }, timeout => 10),
    'upgrade again: old master gone');
ok(poll(sub { ulog($offset) =~ /zone "main" restored from/ }, timeout => 3),
    'upgrade again: the new nginx adds its last snapshot');

$m = uscrape();

is(ucount($m, '/u'), 85, 'upgrade again: counts of all three nginx');
is(metric_sum($m, 'nginx_worker_requests_total', { zone => 'main' }), 100,
    'upgrade again: worker requests of all three');
is(metric_value($m, 'nginx_start_time_seconds', { zone => 'main' }), $ustart,
    'upgrade again: counters go on from the first start');

# the last master writes the last snapshot when it stops

kill 'QUIT', $newer;

ok(poll(sub { !alive($newer) }, timeout => 10), 'upgrade: last master gone');

$h = header($u->read_file('main.snap'));
is($h->{flags}, 1, 'upgrade: last snapshot of the last nginx');
isnt($h->{instance}, $oh->{instance}, 'upgrade: written by the last nginx');

# persistence turned on by a binary upgrade: the old nginx writes no
# last snapshot, the new one should not wait for it all its life

write_uconf('10ms 50ms 100ms 500ms', '');

$old = start_master();
ok($old, 'upgrade turning persist on: nginx started');

write_uconf('10ms 50ms 100ms 500ms', 'persist=on.snap persist_interval=1s');

$new = upgrade($old);
kill 'QUIT', $old;

ok(poll(sub { !alive($old) }, timeout => 10),
    'upgrade turning persist on: old master gone');

ok(poll(sub { -e "$ud/on.snap" }, timeout => 10),
    'upgrade turning persist on: snapshots written');

kill 'QUIT', $new;
ok(poll(sub { !alive($new) }, timeout => 10),
    'upgrade turning persist on: nginx stopped');

# workers as an unprivileged user, as nginx runs in production: they
# write the periodic snapshots, the master (root) the last one, and in a
# binary upgrade worker 0 of the new nginx reads the old master's

SKIP: {
    skip 'workers run as the user of the test', 5 unless $> == 0;

    my ($user, undef, $uid, $gid) = getpwnam('nobody');
    my $group = getgrgid($gid);

    mkdir "$ud/snap" or die "mkdir: $!\n";
    chown $uid, $gid, "$ud/snap";
    chmod 0711, $ud;

    write_uconf('10ms 50ms 100ms 500ms',
        "persist=$ud/snap/main.snap persist_interval=1s",
        "user $user $group;");

    $old = start_master();

    $r = http_pipeline([ ('/n') x 10 ], port => port(8085));
    is($r->{200}, 10, 'unprivileged workers: 10 requests');

    ok(poll(sub { ((stat "$ud/snap/main.snap")[4] // -1) == $uid },
        timeout => 3), 'unprivileged workers: worker 0 writes snapshots');

    $offset = length ulog();

    $new = upgrade($old);
    kill 'QUIT', $old;

    ok(poll(sub { ulog($offset) =~ /zone "main" restored from/ },
        timeout => 3), 'unprivileged workers: upgrade: last snapshot added');
    is(ucount(uscrape(), '/n'), 10, 'unprivileged workers: upgrade: counts');
    unlike(ulog($offset), qr/\[warn\].*open\(\)/,
        'unprivileged workers: upgrade: the snapshot could be opened');

    kill 'QUIT', $new;
    poll(sub { !alive($new) && !alive($old) }, timeout => 10);
}

is(bad_lines($u), '', 'upgrade: no alerts in error log');

# two zones cannot share a file: each start would find the other's

like($u->config_error('monitoring_zone  a  1m  persist=same.snap;'
        . ' monitoring_zone  b  1m  persist=same.snap;') // '',
    qr/\[emerg\].*same\.snap/, 'two zones, one persist file');

###############################################################################

done_testing();

###############################################################################
