package Test::Monitoring;

# Alert receivers for the tests of ngx_http_monitoring_module's alerting:
# a webhook sink (a pure Perl HTTP server that records what it is sent)
# and a real Alertmanager.  These are more methods of Test::Monitoring,
# loaded by it; everything they start is spawned, so it is killed by pid
# at stop(), also when a test dies.
#
#   $t->webhook_sink(%opts)        a recording HTTP server, see below
#   $t->sink_requests($sink)       what it received, oldest first
#   $t->sink_wait($sink, $n)       ... once there are at least $n
#   $t->sink_set_mode($sink, $m)   change how it answers from now on
#   $t->closed_port()              a loopback port where nothing listens
#   $t->has_alertmanager()         is the Alertmanager binary there
#   $t->alertmanager(%opts)        start one, wait until it is ready
#   $t->am_alerts($am, %filter)    GET /api/v2/alerts, decoded
#   $t->am_post_alerts($am, \@a)   POST /api/v2/alerts
#
# Environment:
#   TEST_ALERTMANAGER_BINARY  (default /usr/bin/prometheus-alertmanager)

use warnings;
use strict;

use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Socket qw(SHUT_WR);
use Time::HiRes qw(sleep time);

###############################################################################

# webhook sink

# $t->webhook_sink(%opts): an HTTP/1.1 server on a free loopback port, in
# a forked child (select loop, any number of connections at once), that
# appends every request it receives to a file, one JSON object a line:
#
#   {"time": epoch float when the request was complete, "conn": n,
#    "method", "path", "version", "headers": {lower case name: value},
#    "body": raw body bytes}
#
# bodies are read per Content-Length or chunked; a request cut short by
# the client's close is recorded too, with "incomplete": true
#
#   mode       how it answers each request:
#              ok       200 (the default)
#              NNN      that status, such as 500 or 503
#              garbage  "xyz garbage\r\n\r\n", then close
#              close    close without an answer
#              hang     never answer, keep the connection until killed
#   delay      seconds to wait before an answer (others are served
#              meanwhile)
#   keepalive  keep the connection for further requests after an answer
#              (default: answer with Connection: close and close)
#   port       a logical port for port() instead of a kernel-chosen one
#   name       file name in testdir (default sink.N.jsonl)
#
# returns { port, url => 'http://127.0.0.1:PORT', file, pid, mode }; stop
# it early with $t->kill_spawned($sink->{pid})

my %SINK_MODES = map { $_ => 1 } qw(ok garbage close hang);

sub _sink_mode_ok {
    my ($mode) = @_;
    return $SINK_MODES{$mode} || $mode =~ /^[1-5]\d\d$/;
}

sub webhook_sink {
    my ($self, %opts) = @_;

    my $mode = $opts{mode} // 'ok';
    die "webhook_sink: unknown mode $mode\n" unless _sink_mode_ok($mode);

    my $n = ++$self->{_sinks};
    my $file = "$self->{_testdir}/" . ($opts{name} // "sink.$n.jsonl");

    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1',
        LocalPort => defined $opts{port} ? port($opts{port}) : 0,
        Proto => 'tcp',
        Listen => 128,
        ReuseAddr => 1,
    ) or die "webhook_sink: listen: $!\n";

    my $port = $listen->sockport();

    open my $fh, '>', $file or die "webhook_sink: $file: $!\n";
    close $fh;
    unlink "$file.mode";

    my %sink = (
        port => $port,
        url => "http://127.0.0.1:$port",
        file => $file,
        mode => $mode,
    );

    # the child owns the listening socket, so the port is never free
    # between here and its first accept()

    $sink{pid} = $self->spawn_sub(sub { _sink_serve($listen, \%sink, \%opts) });
    close $listen;

    return \%sink;
}

# $t->sink_set_mode($sink, $mode): answer later requests in another mode

sub sink_set_mode {
    my ($self, $sink, $mode) = @_;

    die "sink_set_mode: unknown mode $mode\n" unless _sink_mode_ok($mode);

    my $tmp = "$sink->{file}.mode.$$";
    open my $fh, '>', $tmp or die "sink_set_mode: $tmp: $!\n";
    print $fh $mode;
    close $fh;
    rename $tmp, "$sink->{file}.mode" or die "sink_set_mode: rename: $!\n";

    $sink->{mode} = $mode;

    return $self;
}

# $t->sink_requests($sink, all => 0): list of the recorded requests as
# hashrefs, json => the body decoded when it is JSON; requests cut short
# by the client are left out unless all => 1

sub sink_requests {
    my ($self, $sink, %opts) = @_;

    require JSON::PP;

    open my $fh, '<', $sink->{file} or return ();
    binmode $fh;
    local $/;
    my $content = <$fh> // '';
    close $fh;

    my $line_json = JSON::PP->new();
    my $body_json = JSON::PP->new->utf8->allow_nonref;
    my @r;

    # a last line without its newline is still being written

    while ($content =~ /([^\n]*)\n/g) {
        my $r = eval { $line_json->decode($1) } or next;

        next if $r->{incomplete} && !$opts{all};

        if (defined $r->{body} && length $r->{body}) {
            my $j = eval { $body_json->decode($r->{body}) };
            $r->{json} = $j if defined $j;
        }

        push @r, $r;
    }

    return @r;
}

# $t->sink_wait($sink, $n, timeout => 5): the requests once there are at
# least $n of them, or those there are when time runs out

sub sink_wait {
    my ($self, $sink, $n, %opts) = @_;

    my @r;

    poll(sub {
        @r = $self->sink_requests($sink, %opts);
        return @r >= $n;
    }, timeout => $opts{timeout} // 5, interval => $opts{interval} // 0.05);

    return @r;
}

# $t->closed_port(): a loopback port nothing listens on: a socket bound to
# it, without SO_REUSEADDR and never listening, is held until the object
# goes, so nothing else can take it meanwhile; connects are refused

sub closed_port {
    my ($self) = @_;

    my $s = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1',
        LocalPort => 0,
        Proto => 'tcp',
    ) or die "closed_port: bind: $!\n";

    push @{$self->{_closed}}, $s;

    return $s->sockport();
}

# the sink's child

sub _sink_serve {
    my ($listen, $sink, $opts) = @_;

    $SIG{TERM} = $SIG{INT} = 'DEFAULT';
    $SIG{PIPE} = 'IGNORE';

    $0 = "webhook sink 127.0.0.1:$sink->{port} $sink->{mode}";

    # sockets the test had open when it forked (its clients, other
    # sinks' connections) must close when the test closes them

    if (opendir my $dh, '/proc/self/fd') {
        my @fds = grep { /^\d+$/ && $_ > 2 && $_ != fileno $listen }
            readdir $dh;
        closedir $dh;

        for my $fd (@fds) {
            POSIX::close($fd) if -S "/proc/self/fd/$fd";
        }
    }

    require JSON::PP;

    # ascii: raw bytes come back as the same bytes

    my $json = JSON::PP->new->ascii->canonical;

    open my $log, '>>', $sink->{file} or die "sink: $sink->{file}: $!\n";
    binmode $log;

    my $record = sub {
        my ($r) = @_;
        my $line = $json->encode($r) . "\n";
        syswrite($log, $line) == length $line or die "sink: write: $!\n";
    };

    my $mode = sub {
        open my $fh, '<', "$sink->{file}.mode" or return $sink->{mode};
        my $m = <$fh> // '';
        close $fh;
        return _sink_mode_ok($m) ? $m : $sink->{mode};
    };

    my $sel = IO::Select->new($listen);
    my %conns;
    my $nconn = 0;
    my $parent = getppid();

    while (1) {

        # a test killed with SIGKILL cannot stop us: go with it

        POSIX::_exit(0) if getppid() != $parent;

        my $now = time();
        my $wait = 1;

        for my $c (values %conns) {
            next unless $c->{due};
            my $w = $c->{due} - $now;
            $wait = $w if $w < $wait;
        }

        $wait = 0 if $wait < 0;

        for my $s ($sel->can_read($wait)) {

            if ($s == $listen) {
                my $c = $listen->accept() or next;
                binmode $c;
                $sel->add($c);
                $conns{fileno $c} = { sock => $c, buf => '', id => ++$nconn };
                next;
            }

            my $c = $conns{fileno $s};
            my $n = sysread($s, $c->{buf}, 65536, length $c->{buf});

            if (!$n) {
                if (!$c->{closing} && length $c->{buf}) {
                    my $r = _sink_parse(\$c->{buf}, 1);
                    $r->{incomplete} = JSON::PP::true();
                    $r->{time} = time();
                    $r->{conn} = $c->{id};
                    $record->($r);
                }

                $sel->remove($s);
                delete $conns{fileno $s};
                close $s;
                next;
            }

            # after our answer and shutdown: read and drop till the close

            if ($c->{closing}) {
                $c->{buf} = '';
                next;
            }

            # the answer to one request is pending, or never comes

            next if $c->{due} || $c->{hung};

            _sink_next($c, $record, $mode, $opts);
        }

        # answers whose delay is over

        $now = time();

        for my $c (values %conns) {
            next unless $c->{due} && $c->{due} <= $now;

            $c->{due} = 0;
            _sink_answer($c, $c->{pending}, $opts);

            _sink_next($c, $record, $mode, $opts) unless $c->{closing};
        }

        # lingering closes that take too long

        for my $c (values %conns) {
            next unless $c->{closing} && $c->{closing} < $now;
            $sel->remove($c->{sock});
            delete $conns{fileno $c->{sock}};
            close $c->{sock};
        }
    }
}

# take the requests complete in the buffer, one at a time: each answered
# now or at its due time; pipelined ones wait for the previous answer

sub _sink_next {
    my ($c, $record, $mode, $opts) = @_;

    while (!$c->{closing} && !$c->{due} && !$c->{hung}) {
        my $r = _sink_parse(\$c->{buf}, 0) or return;

        $r->{time} = time();
        $r->{conn} = $c->{id};
        $record->($r);

        my $m = $mode->();

        $c->{close} = !$opts->{keepalive}
            || ($r->{headers}{connection} // '') =~ /close/i
            || ($r->{version} // '') ne 'HTTP/1.1';

        if ($m eq 'hang') {
            $c->{hung} = 1;
            return;
        }

        if ($opts->{delay}) {
            $c->{due} = time() + $opts->{delay};
            $c->{pending} = $m;
            return;
        }

        _sink_answer($c, $m, $opts);
    }
}

sub _sink_answer {
    my ($c, $m, $opts) = @_;

    my $s = $c->{sock};
    my $out;

    if ($m eq 'garbage') {
        $out = "xyz garbage\r\n\r\n";
        $c->{close} = 1;

    } elsif ($m eq 'close') {
        $out = '';
        $c->{close} = 1;

    } else {
        my $status = $m eq 'ok' ? 200 : $m;
        my $body = "$status\n";

        $out = "HTTP/1.1 $status "
            . ($status == 200 ? 'OK' : 'Sink Status') . "\r\n"
            . "Content-Type: text/plain\r\n"
            . "Content-Length: " . length($body) . "\r\n"
            . ($c->{close} ? "Connection: close\r\n" : '')
            . "\r\n" . $body;
    }

    # small answers: a blocking write does not stall the loop

    syswrite($s, $out) if length $out;

    if ($c->{close}) {
        shutdown($s, SHUT_WR);
        $c->{buf} = '';
        $c->{closing} = time() + 5;
    }
}

# one request from the front of $$buf: a hash of method, path, version,
# headers, body; undef when more bytes are needed, unless at $eof, which
# takes what there is

sub _sink_parse {
    my ($buf, $eof) = @_;

    unless ($$buf =~ /\r?\n\r?\n/g) {
        return undef unless $eof;
        my $raw = $$buf;
        $$buf = '';
        return { raw => $raw };
    }

    my $end = pos($$buf);
    pos($$buf) = undef;

    my $head = substr($$buf, 0, $end);
    $head =~ s/\r?\n\r?\n\z//;

    my ($line, @lines) = split /\r?\n/, $head;
    my ($method, $path, $version) = split / /, $line // '', 3;

    my %h;
    for my $l (@lines) {
        next unless $l =~ /^([^:\s]+):[ \t]*(.*?)[ \t]*$/;
        my $k = lc $1;
        $h{$k} = exists $h{$k} ? "$h{$k}, $2" : $2;
    }

    my %r = (method => $method, path => $path, version => $version,
        headers => \%h);

    my ($body, $pos) = _sink_body($buf, $end, \%h);

    if (defined $pos) {
        substr($$buf, 0, $pos, '');

    } else {
        return undef unless $eof;
        $$buf = '';
    }

    $r{body} = $body;

    return \%r;
}

# the body of a request whose head ends at $start: (body, end position),
# or (what there is of it, undef) when it is not complete yet

sub _sink_body {
    my ($buf, $start, $h) = @_;

    my $pos = $start;

    if (($h->{'transfer-encoding'} // '') =~ /chunked/i) {
        my $body = '';
        my $partial = sub { ($body . substr($$buf, $pos), undef) };

        while (1) {
            my $le = index($$buf, "\n", $pos);
            return $partial->() if $le < 0;

            my ($len) = substr($$buf, $pos, $le - $pos) =~ /^([0-9a-fA-F]+)/;
            $len = hex($len // 0);
            $pos = $le + 1;

            last if $len == 0;

            return $partial->() if length($$buf) < $pos + $len;
            $body .= substr($$buf, $pos, $len);
            $pos += $len;

            my $ce = index($$buf, "\n", $pos);
            return $partial->() if $ce < 0;
            $pos = $ce + 1;
        }

        # trailers, up to an empty line

        while (1) {
            my $te = index($$buf, "\n", $pos);
            return $partial->() if $te < 0;
            my $t = substr($$buf, $pos, $te - $pos);
            $pos = $te + 1;
            return ($body, $pos) if $t =~ /^\r?$/;
        }
    }

    if (($h->{'content-length'} // '') =~ /^(\d+)$/) {
        return (substr($$buf, $pos), undef) if length($$buf) < $pos + $1;
        return (substr($$buf, $pos, $1), $pos + $1);
    }

    return ('', $pos);
}

###############################################################################

# Alertmanager

sub _am_binary {
    return $ENV{TEST_ALERTMANAGER_BINARY}
        // '/usr/bin/prometheus-alertmanager';
}

sub has_alertmanager {
    return -x _am_binary();
}

# $t->alertmanager(%opts): an Alertmanager on a free loopback port, no
# clustering, storage in testdir/am (am2, ... for more), its log in
# logs/am.log; waits (bounded) until /-/ready answers 200, dies if not
#
#   config     alertmanager.yml text (default: one receiver, "null",
#              without integrations; group_by alertname, group_wait 1s,
#              group_interval 1s, repeat_interval 1h, resolve_timeout 5m)
#   webhook    a URL (such as a webhook_sink's): the default receiver
#              gets a webhook_config to it, send_resolved: true, so the
#              sink sees notifications, "firing" and "resolved"
#   port       a logical port for port() (default "alertmanagerN")
#   args       more command line arguments
#   timeout    seconds to wait for readiness (15)
#
# returns { pid, port, url => 'http://127.0.0.1:PORT', dir, config, log };
# stop it early with $t->kill_spawned($am->{pid})

sub alertmanager {
    my ($self, %opts) = @_;

    my $bin = _am_binary();
    die "no alertmanager binary: $bin\n" unless -x $bin;

    my $n = ++$self->{_ams};
    my $name = $n == 1 ? 'am' : "am$n";
    my $d = $self->{_testdir};
    my $port = port($opts{port} // "alertmanager$n");

    mkdir "$d/$name" or die "mkdir $name: $!\n";

    my $receiver = "  - name: 'null'\n";
    $receiver .= "    webhook_configs:\n"
        . "      - url: '$opts{webhook}'\n"
        . "        send_resolved: true\n" if defined $opts{webhook};

    $self->write_file("$name.yml", $opts{config} // <<"EOF");
global:
  resolve_timeout: 5m

route:
  receiver: 'null'
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h

receivers:
$receiver
EOF

    my %am = (
        port => $port,
        url => "http://127.0.0.1:$port",
        dir => "$d/$name",
        config => "$d/$name.yml",
        log => "$d/logs/$name.log",
    );

    $am{pid} = $self->spawn([ $bin,
        "--config.file=$am{config}",
        "--storage.path=$am{dir}",
        "--web.listen-address=127.0.0.1:$port",
        '--cluster.listen-address=',
        @{$opts{args} // []},
    ], output => $am{log});

    my $deadline = time() + ($opts{timeout} // 15);

    while (time() < $deadline) {
        if (waitpid($am{pid}, WNOHANG) == $am{pid}) {
            my $st = $?;
            delete $self->{_spawned}{$am{pid}};
            die "alertmanager exited at start (status $st):\n"
                . $self->read_file("logs/$name.log");
        }

        return \%am if (http_status(http_get('/-/ready', port => $port,
            timeout => 1)) // 0) == 200;

        sleep 0.1;
    }

    my (undef, $out) = $self->kill_spawned($am{pid});
    die "alertmanager not ready in time:\n$out";
}

# $t->am_alerts($am, %filter): GET /api/v2/alerts decoded, an arrayref
# of alerts ({ labels, annotations, startsAt, endsAt, status => { state,
# silencedBy, inhibitedBy }, fingerprint, receivers, ... }), undef on
# error (with a diag)
#   active, silenced, inhibited, unprocessed: true or false (sent as
#   true/false; left out: the API's default, true)
#   receiver: a regex; filter: a matcher or arrayref, 'alertname="X"'

sub am_alerts {
    my ($self, $am, %f) = @_;

    my @q;

    for my $k (qw(active silenced inhibited unprocessed)) {
        push @q, "$k=" . ($f{$k} ? 'true' : 'false') if exists $f{$k};
    }

    push @q, 'receiver=' . _uri_escape($f{receiver}) if defined $f{receiver};

    my $m = $f{filter} // [];
    push @q, map { 'filter=' . _uri_escape($_) } ref $m ? @$m : ($m);

    my $res = http_json('/api/v2/alerts' . (@q ? '?' . join('&', @q) : ''),
        port => $am->{port}, timeout => 5);

    if ($res->{status} && $res->{status} == 200
        && ref $res->{data} eq 'ARRAY')
    {
        return $res->{data};
    }

    Test::More::diag("am_alerts: " . ($res->{status} // 'no answer') . ' '
        . ($res->{error} // '') . ' ' . substr($res->{body} // '', 0, 200));

    return undef;
}

# $t->am_post_alerts($am, \@alerts): POST them (perl data, JSON encoded
# here) to /api/v2/alerts; returns the status code (200 when accepted)

sub am_post_alerts {
    my ($self, $am, $alerts) = @_;

    require JSON::PP;

    my $r = http_get('/api/v2/alerts', port => $am->{port}, method => 'POST',
        headers => [ 'Content-Type: application/json' ],
        body => JSON::PP->new->utf8->encode($alerts), timeout => 5);

    return http_status($r);
}

sub _uri_escape {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

###############################################################################

1;
