#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: the checks of the security review
# (docs/security.md) that other files do not make.  Hostile bytes in the
# request line, in a header used as a label and in a binary variable
# reach /metrics, the JSON API and the page safely; the handlers answer
# 403 or 401 under the sample allow/deny and auth_basic configurations;
# webhook credentials appear in no output and in no log, debug included,
# nor in configuration errors; slow and concurrent scrapes of thousands
# of series do not keep requests from being answered; the last snapshot
# is not written through a symbolic link.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Encode ();
use IO::Select;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use POSIX ();
use Socket qw(SOL_SOCKET SO_RCVBUF inet_aton pack_sockaddr_in);
use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep time);

###############################################################################

my $t = Test::Monitoring->new();

$t->write_file('htpasswd', 'scraper:' . crypt('scrape-pw', 'ab') . "\n");

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  16m;

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  app;

        monitoring        main;
        monitoring_label  evil  $http_x_evil;

        location / {
            return 200 "ok\n";
        }

        location /bin/ {
            monitoring_label  evil  $http_x_evil;
            monitoring_label  addr  $binary_remote_addr;
            return 200 "ok\n";
        }

        location /wide/ {
            monitoring_label  l1  $http_x_l;
            monitoring_label  l2  $http_x_l;
            monitoring_label  l3  $http_x_l;
            monitoring_label  l4  $http_x_l;
            monitoring_label  l5  $http_x_l;
            monitoring_label  l6  $http_x_l;
            monitoring_label  l7  $http_x_l;
            monitoring_label  l8  $http_x_l;
            return 200 "ok\n";
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%%;
        server_name  monitor;

        monitoring off;

        location = /metrics {
            monitoring_metrics;
        }

        location /monitoring {
            monitoring_dashboard;
        }
    }

    # the sample configuration of docs/security.md, with 127.0.0.2 as
    # the one address allowed

    server {
        listen       127.0.0.1:%%PORT_8082%%;
        server_name  restricted;

        monitoring off;

        location = /metrics {
            monitoring_metrics;
            allow 127.0.0.2;
            deny all;
        }

        location /monitoring {
            monitoring_dashboard;
            allow 127.0.0.2;
            deny all;
        }

        location = /health {
            monitoring_health;
            allow 127.0.0.2;
            deny all;
        }

        location = /basic/metrics {
            monitoring_metrics;
            auth_basic            "metrics";
            auth_basic_user_file  %%TESTDIR%%/htpasswd;
        }
    }
}

EOF

$t->run();

###############################################################################

# hostile bytes: the request line, a header used as a label, a variable

my $EVIL = "\x01\x1b[31m\"\\\t\xff\xe2\x80\xae<b>";
my $EVIL_CLEAN = "\xef\xbf\xbd\xef\xbf\xbd[31m\"\\\t\xef\xbf\xbd\xe2\x80\xae<b>";
my $EURO = "\xe2\x82\xac";

my $ctl = http_get('', raw => "GET /h/ctl%01%1B[31m%7F%0D%09x HTTP/1.1\r\n"
    . "Host: app\r\nX-Evil: $EVIL\r\nConnection: close\r\n\r\n");
like($ctl, qr{^HTTP/1.1 200}, 'control bytes in path and header answered');

like(http_get('/h/nul%00x', headers => "X-Evil: nul"), qr{^HTTP/1.1 400},
    'NUL in the path refused by nginx');

like(http_get('/h/euro', headers => 'X-Evil: ' . ($EURO x 50)),
    qr{^HTTP/1.1 200}, 'long header of 3-byte characters');

like(http_get('/wide/' . ('%E2%82%AC' x 100),
    headers => 'X-L: ' . ($EURO x 100)), qr{^HTTP/1.1 200},
    'eight long labels and a long endpoint');

like(http_get('/bin/x', headers => 'X-Evil: bin'), qr{^HTTP/1.1 200},
    'binary variable as a label');

my ($m, $body);

poll(sub {
    (undef, $body) = metrics(port(8081));
    $m = parse_metrics($body);
    return metric_sum($m, 'nginx_http_requests_total', { server => 'app' })
        == 5;
});

is(metric_sum($m, 'nginx_http_requests_total', { server => 'app' }), 5,
    'hostile requests counted');
is(scalar(grep { $_->{error} } @$m), 0, 'hostile: every line parsed');
ok(utf8::decode(my $copy = $body), 'hostile: exposition is valid UTF-8');

my ($ok, $out) = promtool_check($body);
ok($ok, 'hostile: promtool check metrics') or diag($out);

my ($c) = metric_find($m, 'nginx_http_requests_total',
    { endpoint => qr{^/h/ctl} });

is($c && $c->{labels}{endpoint},
    "/h/ctl\xef\xbf\xbd\xef\xbf\xbd[31m\x7f\xef\xbf\xbd\x09x",
    'control bytes of the path replaced, but tab');
is($c && $c->{labels}{evil}, $EVIL_CLEAN,
    'header label: quotes and backslash escaped, controls replaced');

is(metric_sum($m, 'nginx_http_requests_total',
    { server => 'app', status => '400' }), 1, 'the refused request counted');

my ($e) = metric_find($m, 'nginx_http_requests_total',
    { endpoint => '/h/euro' });
is($e && $e->{labels}{evil}, $EURO x 42,
    'label cut to 128 bytes without splitting a character');

my ($w) = metric_find($m, 'nginx_http_requests_total',
    { endpoint => qr{^/wide/} });
is($w && $w->{labels}{endpoint}, '/wide/' . ($EURO x 83),
    'endpoint cut to 255 bytes without splitting a character');
is($w && join(',', map { $w->{labels}{"l$_"} eq $EURO x 42 ? 1 : 0 } 1 .. 8),
    '1,1,1,1,1,1,1,1', 'eight labels of 128 bytes in one series');

my ($bin) = metric_find($m, 'nginx_http_requests_total',
    { endpoint => '/bin/x' });
like($bin && $bin->{labels}{addr}, qr/^\x7f.+\xef\xbf\xbd\z/s,
    'binary variable: its control bytes replaced');

# the JSON API: valid UTF-8 JSON, the same strings as /metrics

my $api = http_json('/monitoring/api', port => port(8081));
is($api->{error}, undef, 'hostile: the API is valid UTF-8 JSON');

my %ep = map { Encode::encode('UTF-8', $_->{endpoint}) => $_ }
    @{$api->{data}{endpoints} // []};

my $jc = $ep{"/h/ctl\xef\xbf\xbd\xef\xbf\xbd[31m\x7f\xef\xbf\xbd\x09x"};
ok($jc, 'API: control bytes of the path as in /metrics');
is($jc && Encode::encode('UTF-8', $jc->{labels}{evil}), $EVIL_CLEAN,
    'API: header label as in /metrics');

my $jw = $ep{'/wide/' . ($EURO x 83)};
is($jw && scalar(grep { Encode::encode('UTF-8', $_) eq $EURO x 42 }
    values %{$jw->{labels}}), 8, 'API: eight long labels');

# a NUL byte would end a JSON string: the API must still agree

my $jb = $ep{'/bin/x'};
is($jb && Encode::encode('UTF-8', $jb->{labels}{addr}),
    $bin && $bin->{labels}{addr}, 'API: binary variable as in /metrics');

# the page: no data in it, a policy that allows no other host

my $page = http_get('/monitoring', port => port(8081));
my $ph = http_headers($page);

is(http_status($page), 200, 'page served');
like($ph->{'content-security-policy'} // '',
    qr/^default-src 'none'; connect-src 'self';/, 'page: CSP');
unlike($ph->{'content-security-policy'} // '', qr/unsafe-eval|https?:|\*/,
    'page: CSP allows no eval and no other host');
is($ph->{'x-content-type-options'}, 'nosniff', 'page: nosniff');
unlike(http_body($page), qr{/h/ctl|/wide/|\x1b}, 'page: holds no data');

###############################################################################

# access control: allow/deny and auth_basic before the handlers

sub get_from {
    my ($local, $path, @headers) = @_;

    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1',
        PeerPort => port(8082),
        LocalAddr => $local,
        Proto => 'tcp',
        Timeout => 5,
    ) or return '';

    my $req = "GET $path HTTP/1.0\r\nHost: restricted\r\n"
        . join('', map { "$_\r\n" } @headers) . "\r\n";

    my $resp = '';
    my $sel = IO::Select->new($s);
    my $deadline = time() + 10;

    print $s $req;

    while (time() < $deadline) {
        next unless $sel->can_read(0.5);
        last unless sysread($s, $resp, 65536, length $resp);
    }

    close $s;

    return $resp;
}

for my $path ('/metrics', '/monitoring', '/monitoring/api', '/health') {
    my $r = get_from('127.0.0.1', $path);
    is(http_status($r), 403, "$path from a denied address: 403");
    unlike(http_body($r), qr/nginx_|"zone"|"status"|<script/,
        "$path from a denied address: nothing of the zone");

    is(http_status(get_from('127.0.0.2', $path)), 200,
        "$path from the allowed address: 200");
}

my $basic = 'Authorization: Basic ' . encode_base64('scraper:scrape-pw', '');
my $wrong = 'Authorization: Basic ' . encode_base64('scraper:nope', '');

is(http_status(get_from('127.0.0.1', '/basic/metrics')), 401,
    'auth_basic: no credentials, 401');
is(http_status(get_from('127.0.0.1', '/basic/metrics', $wrong)), 401,
    'auth_basic: wrong password, 401');

my $r = get_from('127.0.0.1', '/basic/metrics', $basic);
is(http_status($r), 200, 'auth_basic: the scraper, 200');
like(http_body($r), qr/^nginx_up 1$/m, 'auth_basic: the exposition');

###############################################################################

# slow scrapes of thousands of series: requests are answered meanwhile

my $N = 4000;

my $res = http_pipeline([ map { "/s/a$_" } 1 .. $N ], parallel => 2);
is($res->{200}, $N, "$N series created");

my ($full_h, $full) = metrics(port(8081));
ok(length($full) > 4 * 1024 * 1024, 'the exposition is megabytes long')
    or diag(length $full);

# clients that read a few bytes every 100 ms through a small window

my @slow;

for (1 .. 20) {
    my $s = IO::Socket::INET->new(Proto => 'tcp') or last;

    setsockopt($s, SOL_SOCKET, SO_RCVBUF, 2048);
    connect($s, pack_sockaddr_in(port(8081), inet_aton('127.0.0.1')))
        or last;

    syswrite($s, "GET /metrics HTTP/1.1\r\nHost: monitor\r\n"
        . "Connection: close\r\n\r\n");
    $s->blocking(0);

    push @slow, { sock => $s, got => 0 };
}

is(scalar @slow, 20, '20 slow scrapes started');

my (%status, $fast);
my $until = time() + 3;

while (time() < $until) {
    for my $c (@slow) {
        my $n = sysread($c->{sock}, my $buf, 16);
        $c->{got} += $n if $n;
    }

    my $g = http_get('/ok');
    $status{http_status($g) // 'none'}++;

    unless ($fast) {
        my (undef, $fb) = metrics(port(8081));
        $fast = $fb;
    }

    sleep 0.1;
}

my $sent = 0;
$sent += $_ for values %status;

ok($sent >= 10, "requests sent during slow scrapes: $sent");
is($status{200} // 0, $sent, 'every request answered 200 meanwhile');
like($fast // '', qr/\nnginx_build_info\{[^\n]*\} 1\n\z/,
    'a scrape completes meanwhile');
is(scalar(grep { $_->{got} > 0 } @slow), 20, 'every slow scrape is sent to');
is(scalar(grep { $_->{got} >= length $full } @slow), 0,
    'no slow scrape is complete yet');

close $_->{sock} for @slow;

# concurrent fast scrapes, each complete, while requests are answered

my @scrapers;

for my $k (1 .. 4) {
    push @scrapers, $t->spawn_sub(sub {
        my $bad = 0;
        my $end = time() + 2;

        while (time() < $end) {
            my (undef, $sb) = metrics(port(8081));
            $bad++ unless $sb =~ /\nnginx_build_info\{[^\n]*\} 1\n\z/;
        }

        POSIX::_exit($bad ? 1 : 0);
    });
}

%status = ();
$until = time() + 2;

while (time() < $until) {
    $status{http_status(http_get('/ok')) // 'none'}++;
}

$sent = 0;
$sent += $_ for values %status;

is($status{200} // 0, $sent, "concurrent scrapes: $sent requests answered");

my $complete = 0;

for my $pid (@scrapers) {
    my ($st) = $t->reap($pid, 30);
    $complete++ if defined $st && $st == 0;
}

is($complete, 4, 'concurrent scrapes: each complete');

($full_h, $full) = metrics(port(8081));
$m = parse_metrics($full);

is(metric_sum($m, 'nginx_http_requests_total', { endpoint => qr{^/s/a} }),
    $N, 'after the scrapes: every request counted');
like($full, qr/\nnginx_build_info\{[^\n]*\} 1\n\z/,
    'after the scrapes: the exposition is complete');

$t->stop();

###############################################################################

# webhook credentials: in no output, in no log at any level

my $h = Test::Monitoring->new();

my $sink = $h->webhook_sink(port => 8191);
my $refused = $h->closed_port();

$h->write_file_expand('nginx.conf', <<"EOF");

%%TEST_GLOBALS%%

error_log  %%TESTDIR%%/logs/debug.log  debug;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m;

    monitoring_alert_interval  1s;
    monitoring_alert  Traffic  "count(2xx) >= 1"  window=5s;

    monitoring_alert_webhook
        http://u5er-alpha:s3cr3t-pw\@127.0.0.1:$refused/refused?team=web
        format=generic;

    monitoring_alert_webhook
        http://u5er-beta:s3cr3t-pw\@127.0.0.1:%%PORT_8191%%/api/v2/alerts
        resend=1s;

    server {
        listen       127.0.0.1:%%PORT_8190%%;
        server_name  localhost;

        monitoring main;

        location / {
            return 200 "ok\\n";
        }

        location = /metrics {
            monitoring off;
            monitoring_metrics;
        }

        location /mon {
            monitoring off;
            monitoring_dashboard;
        }

        location = /health {
            monitoring off;
            monitoring_health;
        }
    }
}

EOF

$h->run();

http_get('/x', port => port(8190)) for 1 .. 3;

my $refused_name = "http://127.0.0.1:$refused/refused?team=web";
my $sink_name = 'http://127.0.0.1:' . port(8191) . '/api/v2/alerts';

sub delivered {
    my ($name, $result) = @_;

    my (undef, $mb) = metrics(port(8190));

    return metric_value(parse_metrics($mb),
        'nginx_monitoring_webhook_deliveries_total',
        { webhook => $name, result => $result }) // 0;
}

ok(poll(sub { delivered($refused_name, 'error') >= 2 }, timeout => 10),
    'refused webhook: failures counted by its name without credentials');
ok(poll(sub { delivered($sink_name, 'success') >= 1 }, timeout => 10),
    'webhook: deliveries counted by its name without credentials');

my ($req) = $h->sink_wait($sink, 1);
is($req && $req->{headers}{authorization},
    'Basic ' . encode_base64('u5er-beta:s3cr3t-pw', ''),
    'credentials sent as Basic auth');

my $debug = $h->read_file('logs/debug.log');

like($debug, qr/\[info\].*alert delivery to "\Q$refused_name\E" failed/,
    'info level: the failed delivery logged');
like($debug, qr/\[debug\].*monitoring alerts: to "\Q$sink_name\E"/,
    'debug level: the delivered body logged');

my (undef, $hm) = metrics(port(8190));

my %outputs = (
    'metrics' => $hm,
    'API' => http_get('/mon/api', port => port(8190)),
    'API, format=json' => http_get('/mon?format=json', port => port(8190)),
    'dashboard' => http_get('/mon', port => port(8190)),
    'health' => http_get('/health', port => port(8190)),
);

$h->stop();

$outputs{'error log'} = $h->read_file('logs/error.log');
$outputs{'debug log'} = $h->read_file('logs/debug.log');

my $secrets = join '|', 's3cr3t', 'u5er-', map { encode_base64($_, '') }
    'u5er-alpha:s3cr3t-pw', 'u5er-beta:s3cr3t-pw';

for my $what (sort keys %outputs) {
    ok(length $outputs{$what}, "$what: written");
    unlike($outputs{$what}, qr/$secrets/, "$what: no credentials");
}

# configuration errors name the webhook without its credentials

my $cf = Test::Monitoring->new();

sub webhook_error {
    my ($url) = @_;

    return $cf->config_error('monitoring_alert A "rps > 1";'
        . " monitoring_alert_webhook $url;") // '';
}

for my $url ('http://u5er:s3cr3t-pw@127.0.0.1:99999/x',
    'https://u5er:s3cr3t-pw@127.0.0.1/x',
    'http://u5er:s3cr3t-pw@no-such-host.invalid/x',
    '"http://u5er:s3cr3t-pw@127.0.0.1:9/x#frag"',
    'u5er:s3cr3t-pw@127.0.0.1:9/x')
{
    my $err = webhook_error($url);
    like($err, qr/webhook/, "nginx -t fails: $url");
    unlike($err, qr/s3cr3t|u5er/, "nginx -t: no credentials: $url");
}

# a bare "/" in a password is still hidden; "?" and "#" start the query
# and the fragment of a URL, so such a password must be percent-encoded

unlike(webhook_error('http://u5er:s3cr/t-pw@127.0.0.1:9/x'), qr/s3cr|u5er/,
    'nginx -t: no credentials: a "/" in the password');

###############################################################################

# the master writes the last snapshot at exit, as root when nginx was
# started as root: it must not follow a link planted where its
# temporary file goes

my $p = Test::Monitoring->new();

mkdir $p->testdir() . '/snap';
$p->write_file('victim', "precious\n");

$p->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m  persist=%%TESTDIR%%/snap/main.snap;
    monitoring       main;

    server {
        listen       127.0.0.1:%%PORT_8290%%;
        server_name  localhost;

        location / {
            return 200 "ok\n";
        }
    }
}

EOF

$p->run();

http_get('/x', port => port(8290));

my $link = $p->testdir() . '/snap/main.snap.tmp.' . $p->master_pid();
ok(symlink($p->testdir() . '/victim', $link), 'a link planted');

$p->stop();

my $snap = $p->testdir() . '/snap/main.snap';

ok($p->read_file('victim') eq "precious\n",
    'the file the link points to is unchanged');
ok(-f $snap && !-l $snap, 'the last snapshot is a file of its own');

###############################################################################

done_testing();

###############################################################################
