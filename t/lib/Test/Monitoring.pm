package Test::Monitoring;

# Test harness for ngx_http_monitoring_module, in the manner of nginx-tests'
# Test::Nginx: a temporary prefix, a config written from a heredoc, free
# loopback ports, the nginx under test started with load_module, and the
# error log checked for alerts and sanitizer reports at the end.
#
# Environment:
#   TEST_NGINX_BINARY   nginx binary (default /usr/sbin/nginx)
#   TEST_NGINX_MODULE   module .so
#                       (default <repo>/build/ngx_http_monitoring_module.so)
#   TEST_NGINX_ECHO     echo module .so
#                       (default /usr/lib/nginx/modules/ngx_http_echo_module.so)
#   TEST_NGINX_STATIC   the binary has the module compiled in (make static):
#                       test_globals() has no load_module line for it
#   TEST_NGINX_LEAVE    keep the temporary prefix
#   TEST_NGINX_VERBOSE  print diagnostics (config, log tails)
#
# Sanitizer reports fail the file wherever they land: in logs/error.log
# or logs/stderr.log, in the output of nginx -t, or in the files that
# ASAN_OPTIONS=log_path=PREFIX/logs/asan makes, logs/asan.PID (any
# logs/*san.PID); make test-asan's TEST_NGINX_BINARY puts them there.
#
# Alert receivers (a webhook sink, Alertmanager) are methods too, in
# Test/Monitoring/Alerts.pm, a Prometheus server in
# Test/Monitoring/Prometheus.pm, headless Chromium in
# Test/Monitoring/Browser.pm.

use warnings;
use strict;

use Test::More ();

use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Scalar::Util qw(refaddr);
use Time::HiRes qw(sleep time);

our @EXPORT = qw(
    port http_get http_pipeline http_status http_header http_headers http_body
    metrics parse_metrics metric_find metric_sum metric_value promtool_check
    histogram_errors poll http_json json_type chromium processes
);

our $REPO = abs_path(dirname(__FILE__) . '/../../..');

my %PORTS;
my @INSTANCES;
my $CREATOR = $$;

# a line of a sanitizer report: AddressSanitizer, LeakSanitizer, UBSan's
# "runtime error:" and its UndefinedBehaviorSanitizer summary

my $SANITIZER = qr/[A-Z][A-Za-z]*Sanitizer\b|runtime error:/;

###############################################################################

sub new {
    my ($class, %opts) = @_;

    my $self = bless {}, $class;

    $self->{_testdir} = tempdir('nginx-monitoring-XXXXXXXX', TMPDIR => 1,
        CLEANUP => !$ENV{TEST_NGINX_LEAVE});

    for my $d (qw(logs client_body_temp proxy_temp fastcgi_temp uwsgi_temp
        scgi_temp))
    {
        mkdir "$self->{_testdir}/$d" or die "mkdir $d: $!\n";
    }

    $self->{_binary} = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
    $self->{_module} = $opts{module} // $ENV{TEST_NGINX_MODULE}
        // "$REPO/build/ngx_http_monitoring_module.so";
    $self->{_static} = $ENV{TEST_NGINX_STATIC};
    $self->{_echo} = $opts{echo}
        ? ($ENV{TEST_NGINX_ECHO}
            // '/usr/lib/nginx/modules/ngx_http_echo_module.so')
        : undef;
    $self->{_access_log} = $opts{access_log};
    $self->{_allow} = [];
    $self->{_spawned} = {};
    $self->{_listen} = [];
    $self->{_workers} = 1;

    Test::More::diag("prefix: $self->{_testdir}") if $ENV{TEST_NGINX_LEAVE};

    push @INSTANCES, $self;
    return $self;
}

sub testdir { $_[0]->{_testdir} }
sub module_path { $_[0]->{_module} }
sub master_pid { $_[0]->{_pid} }

sub has_module {
    my ($self) = @_;
    return $self->{_static} || -f $self->{_module};
}

# plan(N): N tests written in the file, plus the error log check at stop

sub plan {
    my ($self, $n) = @_;
    Test::More::plan(tests => $n + 1);
    return $self;
}

sub done_testing {
    my ($self) = @_;
    $self->stop();
    Test::More::done_testing();
}

sub allow_log {
    my ($self, @re) = @_;
    push @{$self->{_allow}}, @re;
    return $self;
}

###############################################################################

# logical port -> free loopback port, stable for the file's lifetime

sub port {
    my ($n) = @_;

    return $PORTS{$n} if defined $PORTS{$n};

    my %used = map { $_ => 1 } values %PORTS;

    for (1 .. 100) {
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1',
            LocalPort => 0,
            Proto => 'tcp',
            Listen => 1,
            ReuseAddr => 1,
        ) or next;

        my $p = $s->sockport();
        close $s;

        next if $used{$p};
        return $PORTS{$n} = $p;
    }

    die "no free port for $n\n";
}

###############################################################################

sub write_file {
    my ($self, $name, $content) = @_;

    open my $fh, '>', "$self->{_testdir}/$name" or die "write $name: $!\n";
    binmode $fh;
    print $fh $content;
    close $fh;

    return $self;
}

sub read_file {
    my ($self, $name) = @_;

    open my $fh, '<', "$self->{_testdir}/$name" or return '';
    binmode $fh;
    local $/;
    my $content = <$fh>;
    close $fh;

    return $content // '';
}

sub test_globals {
    my ($self) = @_;
    my $d = $self->{_testdir};

    my $s = '';
    $s .= "load_module $self->{_echo};\n" if $self->{_echo};
    $s .= "load_module $self->{_module};\n" unless $self->{_static};
    $s .= "pid $d/logs/nginx.pid;\n";
    $s .= "error_log $d/logs/error.log notice;\n";
    $s .= "user root;\n" if $> == 0;
    $s .= "daemon off;\n";

    return $s;
}

sub test_globals_http {
    my ($self) = @_;
    my $d = $self->{_testdir};

    my $s = '';
    $s .= $self->{_access_log}
        ? "access_log $d/logs/access.log;\n" : "access_log off;\n";
    $s .= "client_body_temp_path $d/client_body_temp;\n";
    $s .= "proxy_temp_path $d/proxy_temp;\n";
    $s .= "fastcgi_temp_path $d/fastcgi_temp;\n";
    $s .= "uwsgi_temp_path $d/uwsgi_temp;\n";
    $s .= "scgi_temp_path $d/scgi_temp;\n";

    return $s;
}

sub write_file_expand {
    my ($self, $name, $content) = @_;

    $content =~ s/%%TEST_GLOBALS%%/$self->test_globals()/ge;
    $content =~ s/%%TEST_GLOBALS_HTTP%%/$self->test_globals_http()/ge;
    $content =~ s/%%PORT_(\d+)%%/port($1)/ge;
    $content =~ s/%%MODULE%%/$self->{_module}/g;
    $content =~ s/%%TESTDIR%%/$self->{_testdir}/g;

    if ($name eq 'nginx.conf') {
        my @listen = $content =~ /^\s*listen\s+(?:127\.0\.0\.1:)?(\d+)/mg;
        my %seen;
        $self->{_listen} = [ grep { !$seen{$_}++ } @listen ];

        my ($w) = $content =~ /^\s*worker_processes\s+(\d+)\s*;/m;
        $self->{_workers} = $w // 1;

        Test::More::diag($content) if $ENV{TEST_NGINX_VERBOSE};
    }

    return $self->write_file($name, $content);
}

###############################################################################

# nginx -t: returns (ok, output)

# $t->config_error('directives;'): nginx -t of an http block holding a
# zone "main" and the directives; its output when it fails, else undef

sub config_error {
    my ($self, $directives) = @_;

    $self->write_file_expand('nginx.conf', <<"EOF");

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m;
    $directives
}

EOF

    my ($ok, $out) = $self->test_config();
    return $ok ? undef : $out;
}

sub test_config {
    my ($self) = @_;
    my $d = $self->{_testdir};

    my $out = _run_capture([ $self->{_binary}, '-p', "$d/", '-c', 'nginx.conf',
        '-e', 'logs/test_config.log', '-t' ], timeout => 20);

    # a file that only runs nginx -t has no error log check at the end

    my @bad = $out->{output} =~ $SANITIZER ? $out->{output} : ();
    push @bad, $self->_sanitizer_files();

    if (@bad) {
        Test::More::ok(0, 'no sanitizer reports from nginx -t');
        Test::More::diag(join "\n", @bad);
    }

    return ($out->{status} == 0, $out->{output});
}

sub run {
    my ($self) = @_;
    my $d = $self->{_testdir};

    die "nginx already running\n" if $self->{_pid};
    die "module not found: $self->{_module} (build it with make)\n"
        unless $self->has_module();

    unlink "$d/logs/nginx.pid";

    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$d/logs/stderr.log";
        open STDERR, '>&', \*STDOUT;
        exec $self->{_binary}, '-p', "$d/", '-c', 'nginx.conf',
            '-e', 'logs/error.log'
            or POSIX::_exit(127);
    }

    $self->{_pid} = $pid;
    $self->{_ran} = 1;

    my $deadline = time() + 10;

    while (time() < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            my $st = $?;
            $self->{_pid} = undef;
            die "nginx exited at start (status $st):\n"
                . $self->_log_tail();
        }

        if (-s "$d/logs/nginx.pid"
            && $self->_ports_accept()
            && $self->worker_pids() >= $self->{_workers})
        {
            return $self;
        }

        sleep 0.05;
    }

    die "nginx did not start in time:\n" . $self->_log_tail();
}

sub _ports_accept {
    my ($self) = @_;

    for my $p (@{$self->{_listen}}) {
        my $s = IO::Socket::INET->new(
            PeerAddr => '127.0.0.1',
            PeerPort => $p,
            Proto => 'tcp',
            Timeout => 1,
        ) or return 0;
        close $s;
    }

    return 1;
}

sub _log_tail {
    my ($self) = @_;

    my $s = '';
    for my $f (qw(error.log stderr.log)) {
        my @l = split /\n/, $self->read_file("logs/$f");
        splice @l, 0, @l - 30 if @l > 30;
        $s .= "--- logs/$f\n" . join("\n", @l) . "\n" if @l;
    }

    return $s;
}

sub stop {
    my ($self) = @_;

    if (my $pid = $self->{_pid}) {
        my @workers = $self->_children();

        kill 'QUIT', $pid;

        unless (_wait_pid($pid, 10)) {
            Test::More::diag("nginx $pid did not exit on QUIT, killing");
            kill 'KILL', $pid;
            _wait_pid($pid, 5);
        }

        for my $w (@workers) {
            kill 'KILL', $w if kill 0, $w;
        }

        $self->{_pid} = undef;
    }

    $self->_stop_spawned();

    if ($self->{_ran} && !$self->{_checked}++) {
        $self->_check_log();

    } elsif (my @bad = $self->_sanitizer_files()) {

        # from an nginx the test started itself

        Test::More::ok(0, 'no sanitizer reports');
        Test::More::diag(join "\n", @bad);
    }

    return $self;
}

sub _check_log {
    my ($self) = @_;

    my @bad;

    for my $f (qw(error.log stderr.log)) {
        my $report;

        for my $line (split /\n/, $self->read_file("logs/$f")) {

            # a report's stack trace follows its first line

            if ($report && $line !~ m{^(?:\d{4}/\d\d/\d\d |nginx: \[)}) {
                push @bad, $line;
                next;
            }

            $report = 0;

            next unless $line =~ /\[(?:alert|emerg|crit)\]|$SANITIZER/;
            next if grep { $line =~ $_ } @{$self->{_allow}};
            push @bad, $line;

            $report = $line =~ $SANITIZER;
        }
    }

    push @bad, $self->_sanitizer_files();

    Test::More::is(join("\n", @bad), '',
        'no alerts or sanitizer reports in error log');
}

# reports in logs/*san.PID files not seen yet, whole; never allowed

sub _sanitizer_files {
    my ($self) = @_;

    my @r;

    opendir my $dh, "$self->{_testdir}/logs" or return ();

    for my $f (sort grep { /^[a-z]*san\.\d+$/ } readdir $dh) {
        next if $self->{_sanitizer_seen}{$f}++;
        push @r, "--- logs/$f", split /\n/, $self->read_file("logs/$f");
    }

    closedir $dh;

    return @r;
}

# wait for a pid we forked to exit, bounded; returns true if it exited

sub _wait_pid {
    my ($pid, $timeout) = @_;

    my $deadline = time() + $timeout;

    while (time() < $deadline) {
        my $r = waitpid($pid, WNOHANG);
        return 1 if $r == $pid || $r == -1;
        sleep 0.02;
    }

    return 0;
}

sub DESTROY { }

# an interrupted test still stops its nginx and what it spawned

$SIG{INT} = $SIG{TERM} = sub {
    Test::More::diag("interrupted by SIG$_[0]");
    exit 1;
};

END {
    return unless $$ == $CREATOR;

    local $?;

    for my $t (@INSTANCES) {
        $t->stop();
    }
}

###############################################################################

# processes(): every process from /proc, pid => { ppid, pgrp, state,
# cmd }, cmd the command line with spaces between the arguments

sub processes {
    my %p;

    opendir my $dh, '/proc' or return {};

    for my $pid (grep { /^\d+$/ } readdir $dh) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh> // '';
        close $fh;

        # "pid (comm) state ppid pgrp ..." where comm may hold spaces or
        # parens

        my $i = rindex($stat, ')');
        next if $i < 0;

        my ($state, $ppid, $pgrp) = split ' ', substr($stat, $i + 2);

        open $fh, '<', "/proc/$pid/cmdline" or next;
        my $cmd = do { local $/; <$fh> } // '';
        close $fh;
        $cmd =~ s/\0+/ /g;

        $p{$pid} = { ppid => $ppid, pgrp => $pgrp, state => $state,
            cmd => $cmd };
    }

    closedir $dh;

    return \%p;
}

# children of the master (or of $parent)

sub _children {
    my ($self, $parent) = @_;
    $parent //= $self->{_pid};

    return () unless $parent;

    my $p = processes();

    return sort { $a <=> $b } grep { $p->{$_}{ppid} == $parent } keys %$p;
}

sub _cmdline {
    my ($pid) = @_;

    open my $fh, '<', "/proc/$pid/cmdline" or return '';
    local $/;
    my $s = <$fh> // '';
    close $fh;
    $s =~ s/\0+/ /g;

    return $s;
}

# active worker processes (not the ones shutting down after a reload)

sub worker_pids {
    my ($self) = @_;

    return grep {
        my $c = _cmdline($_);
        $c =~ /worker process/ && $c !~ /shutting down/
    } $self->_children();
}

sub reload {
    my ($self, %opts) = @_;

    die "nginx not running\n" unless $self->{_pid};

    my @old = $self->_children();
    my %old = map { $_ => 1 } @old;
    my $n = $opts{workers} // $self->{_workers};

    my $size = -s "$self->{_testdir}/logs/error.log" // 0;

    kill 'HUP', $self->{_pid} or die "kill HUP: $!\n";

    my $deadline = time() + 10;
    my @new;

    while (time() < $deadline) {
        @new = grep { !$old{$_} } $self->worker_pids();
        last if @new >= $n;

        # a failed reload keeps the old workers: stop early, say why

        my $log = $self->read_file('logs/error.log');
        $log = length($log) > $size ? substr($log, $size) : '';

        if ($log =~ /(.*\[emerg\].*)/) {
            my $emerg = $1;
            die "reload failed: $emerg\n" unless $opts{expect_fail};

            # nginx retries bind() for a while before it gives up

            return $emerg if $log !~ /try again to bind/
                || $log =~ /still could not bind/;
        }

        sleep 0.05;
    }

    # reload(expect_fail => 1) returns the [emerg] line, or undef when
    # the reload went through after all

    return undef if $opts{expect_fail} && @new >= $n;

    die "reload: no new workers in time:\n" . $self->_log_tail()
        if @new < $n;

    # old workers finish their connections and exit

    $deadline = time() + 10;

    while (time() < $deadline) {
        last unless grep { kill 0, $_ } @old;
        sleep 0.05;
    }

    $deadline = time() + 5;
    sleep 0.05 until $self->_ports_accept() || time() > $deadline;

    return $self;
}

# wait until the master has N active workers none of which is in @old

sub wait_workers {
    my ($self, %opts) = @_;

    my %old = map { $_ => 1 } @{$opts{old} // []};
    my $n = $opts{count} // $self->{_workers};
    my $deadline = time() + ($opts{timeout} // 10);

    while (time() < $deadline) {
        my @w = $self->worker_pids();
        return @w if @w >= $n && !grep { $old{$_} } @w;
        sleep 0.05;
    }

    return ();
}

###############################################################################

# background processes (ab, prometheus): killed by pid at stop

sub spawn {
    my ($self, $cmd, %opts) = @_;

    my $out = $opts{output} // "$self->{_testdir}/logs/spawn.$$." . time();

    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out;
        open STDERR, '>&', \*STDOUT;
        exec @$cmd
            or POSIX::_exit(127);
    }

    $self->{_spawned}{$pid} = $out;

    return $pid;
}

# spawn_sub(sub { ... }): a forked client, killed like the others at stop

sub spawn_sub {
    my ($self, $cb) = @_;

    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        eval { $cb->() };
        POSIX::_exit(0);
    }

    $self->{_spawned}{$pid} = undef;

    return $pid;
}

# wait (bounded) for a spawned process; kill it if it overstays
# returns (exit status or undef if it had to be killed, output)

sub reap {
    my ($self, $pid, $timeout) = @_;

    my $out = delete $self->{_spawned}{$pid};
    my $status;

    if (_wait_pid($pid, $timeout // 30)) {
        $status = $?;

    } else {
        kill 'TERM', $pid;
        unless (_wait_pid($pid, 5)) {
            kill 'KILL', $pid;
            _wait_pid($pid, 5);
        }
    }

    my $output = '';
    if (defined $out && open my $fh, '<', $out) {
        local $/;
        $output = <$fh> // '';
        close $fh;
    }

    return ($status, $output);
}

sub kill_spawned {
    my ($self, $pid) = @_;

    return unless exists $self->{_spawned}{$pid};

    kill 'TERM', $pid;
    return $self->reap($pid, 10);
}

sub _stop_spawned {
    my ($self) = @_;

    for my $pid (keys %{$self->{_spawned}}) {
        $self->kill_spawned($pid);
    }
}

# ab: returns { complete, failed, non2xx, status, output }

sub ab {
    my ($self, $url, %opts) = @_;

    my @cmd = ('ab', '-q', '-n', $opts{n}, '-c', $opts{c} // 8,
        '-s', $opts{socket_timeout} // 10);
    push @cmd, '-k' if $opts{keepalive};
    push @cmd, '-t', $opts{time} if $opts{time};
    push @cmd, $url;

    my $pid = $self->spawn(\@cmd);
    my ($status, $out) = $self->reap($pid, $opts{timeout} // 60);

    return _ab_result($status, $out);
}

sub _ab_result {
    my ($status, $out) = @_;

    my %r = (status => $status, output => $out);
    ($r{complete}) = $out =~ /^Complete requests:\s+(\d+)/m;
    ($r{failed}) = $out =~ /^Failed requests:\s+(\d+)/m;
    ($r{non2xx}) = $out =~ /^Non-2xx responses:\s+(\d+)/m;
    $r{non2xx} //= 0;

    return \%r;
}

sub ab_result { shift; _ab_result(@_) }

###############################################################################

# run a command, capture stdout+stderr, bounded in time

sub _run_capture {
    my ($cmd, %opts) = @_;

    pipe(my $r, my $w) or die "pipe: $!\n";

    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        close $r;
        if (defined $opts{stdin}) {
            open STDIN, '<', $opts{stdin} or POSIX::_exit(126);
        } else {
            open STDIN, '<', '/dev/null';
        }
        open STDOUT, '>&', $w;
        open STDERR, '>&', $w;
        exec @$cmd
            or POSIX::_exit(127);
    }

    close $w;

    my $out = '';
    my $sel = IO::Select->new($r);
    my $deadline = time() + ($opts{timeout} // 30);

    while (time() < $deadline) {
        next unless $sel->can_read(0.2);
        my $n = sysread($r, $out, 65536, length $out);
        last unless $n;
    }

    close $r;

    unless (_wait_pid($pid, 1)) {
        kill 'KILL', $pid;
        _wait_pid($pid, 5);
        return { status => -1, output => $out . "\n(killed: timeout)\n" };
    }

    return { status => $?, output => $out };
}

###############################################################################

# HTTP

sub _connect {
    my ($port) = @_;

    return IO::Socket::INET->new(
        PeerAddr => '127.0.0.1',
        PeerPort => $port,
        Proto => 'tcp',
        Timeout => 5,
    );
}

sub _write_all {
    my ($s, $data, $deadline) = @_;

    my $sel = IO::Select->new($s);
    my $off = 0;

    while ($off < length $data) {
        return 0 if time() > $deadline;
        next unless $sel->can_write(0.5);
        my $n = syswrite($s, $data, length($data) - $off, $off);
        return 0 unless defined $n;
        $off += $n;
    }

    return 1;
}

# http_get($path, %opts): one request, Connection: close, raw response
#   port, host (any bytes; '' sends an empty Host), no_host, method,
#   body, headers (string of raw header lines or arrayref), version, raw,
#   timeout

sub http_get {
    my ($path, %opts) = @_;

    my $port = $opts{port} // port(8080);
    my $req = $opts{raw};

    unless (defined $req) {
        my $method = $opts{method} // 'GET';
        my $version = $opts{version} // 'HTTP/1.1';

        $req = "$method $path $version\r\n";
        $req .= "Host: " . ($opts{host} // 'localhost') . "\r\n"
            unless $opts{no_host};
        $req .= "Connection: close\r\n";

        my $h = $opts{headers} // [];
        $h = [ $h ] unless ref $h;
        $req .= "$_\r\n" for grep { length } @$h;

        if (defined $opts{body}) {
            $req .= "Content-Length: " . length($opts{body}) . "\r\n";
        }

        $req .= "\r\n";
        $req .= $opts{body} if defined $opts{body};
    }

    my $deadline = time() + ($opts{timeout} // 10);

    my $s = _connect($port) or return '';
    binmode $s;

    _write_all($s, $req, $deadline) or return '';

    my $resp = '';
    my $sel = IO::Select->new($s);

    while (time() < $deadline) {
        next unless $sel->can_read(0.5);
        my $n = sysread($s, $resp, 65536, length $resp);
        last unless $n;
    }

    close $s;

    return $resp;
}

sub http_status {
    my ($resp) = @_;
    return undef unless defined $resp;
    my ($code) = $resp =~ m{^HTTP/\d\.\d (\d{3})};
    return $code;
}

sub http_headers {
    my ($resp) = @_;

    my ($head) = split /\r\n\r\n/, $resp // '', 2;
    my %h;

    for my $line (split /\r\n/, $head // '') {
        next unless $line =~ /^([^:\s]+):\s*(.*)$/;
        my $k = lc $1;
        $h{$k} = exists $h{$k} ? "$h{$k}, $2" : $2;
    }

    return \%h;
}

sub http_header {
    my ($resp, $name) = @_;
    return http_headers($resp)->{lc $name};
}

sub http_body {
    my ($resp) = @_;

    my (undef, $body) = split /\r\n\r\n/, $resp // '', 2;
    $body //= '';

    if ((http_header($resp, 'Transfer-Encoding') // '') =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $out .= substr($body, 0, $len, '');
            $body =~ s/^\r\n//;
        }
        return $out;
    }

    return $body;
}

# take one complete response from the front of $$buf
# returns (status, headers) or () when more bytes are needed

sub _take_response {
    my ($buf, $method, $eof) = @_;

    my $end = index($$buf, "\r\n\r\n");
    return () if $end < 0;

    my $head = substr($$buf, 0, $end);
    my ($status) = $head =~ m{^HTTP/\d\.\d (\d{3})};
    die "bad response: " . substr($head, 0, 200) . "\n" unless $status;

    my %h;
    for my $line (split /\r\n/, $head) {
        $h{lc $1} = $2 if $line =~ /^([^:\s]+):\s*(.*)$/;
    }

    my $pos = $end + 4;

    if ($method eq 'HEAD' || $status =~ /^1|^204$|^304$/) {
        # no body

    } elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        while (1) {
            my $le = index($$buf, "\r\n", $pos);
            return () if $le < 0;
            my ($len) = substr($$buf, $pos, $le - $pos) =~ /^([0-9a-fA-F]+)/;
            die "bad chunk\n" unless defined $len;
            $len = hex $len;
            $pos = $le + 2;
            if ($len == 0) {
                my $te = index($$buf, "\r\n", $pos);
                return () if $te < 0;
                $pos = $te + 2;
                last;
            }
            return () if length($$buf) < $pos + $len + 2;
            $pos += $len + 2;
        }

    } elsif (defined $h{'content-length'}) {
        return () if length($$buf) < $pos + $h{'content-length'};
        $pos += $h{'content-length'};

    } else {
        return () unless $eof;
        $pos = length $$buf;
    }

    substr($$buf, 0, $pos, '');

    return ($status, \%h);
}

# http_pipeline(\@paths, %opts): send every path over keepalive
# connections, pipelined in batches; returns { STATUS => count, ...,
# total => responses, retried => requests resent after a close }
#   port, host, method, batch (100), timeout (s, 60), parallel (forks)

sub http_pipeline {
    my ($paths, %opts) = @_;

    my $parallel = $opts{parallel} // 1;

    return _pipeline($paths, %opts) if $parallel <= 1 || @$paths < $parallel;

    my @kids;
    my $per = int((@$paths + $parallel - 1) / $parallel);

    for my $k (0 .. $parallel - 1) {
        my @slice = grep { defined } @$paths[$k * $per .. ($k + 1) * $per - 1];
        next unless @slice;

        pipe(my $r, my $w) or die "pipe: $!\n";
        my $pid = fork() // die "fork: $!\n";

        if ($pid == 0) {
            close $r;
            my $res = eval { _pipeline(\@slice, %opts) }
                // { error => 1 };
            print $w join("\n", map { "$_ $res->{$_}" } keys %$res), "\n";
            close $w;
            POSIX::_exit(0);
        }

        close $w;
        push @kids, [ $pid, $r ];
    }

    my %total;
    my $deadline = time() + ($opts{timeout} // 60) + 5;

    for my $kid (@kids) {
        my ($pid, $r) = @$kid;
        my $sel = IO::Select->new($r);
        my $data = '';

        while (time() < $deadline) {
            next unless $sel->can_read(0.5);
            my $n = sysread($r, $data, 65536, length $data);
            last unless $n;
        }

        close $r;

        unless (_wait_pid($pid, 2)) {
            kill 'KILL', $pid;
            _wait_pid($pid, 2);
            $total{error}++;
        }

        for (split /\n/, $data) {
            my ($k, $v) = split ' ';
            $total{$k} += $v if defined $v;
        }
    }

    return \%total;
}

sub _pipeline {
    my ($paths, %opts) = @_;

    my $port = $opts{port} // port(8080);
    my $host = $opts{host} // 'localhost';
    my $method = $opts{method} // 'GET';
    my $batch = $opts{batch} // 100;
    my $deadline = time() + ($opts{timeout} // 60);

    my %res = (total => 0, retried => 0);
    my $i = 0;
    my $connects = 0;

    CONNECTION:
    while ($i < @$paths && time() < $deadline) {
        last if ++$connects > @$paths + 10;

        my $s = _connect($port) or do { sleep 0.05; next };
        binmode $s;
        my $sel = IO::Select->new($s);
        my $buf = '';

        while ($i < @$paths && time() < $deadline) {
            my $n = @$paths - $i;
            $n = $batch if $n > $batch;

            my $req = join '', map {
                "$method $paths->[$_] HTTP/1.1\r\nHost: $host\r\n\r\n"
            } $i .. $i + $n - 1;

            _write_all($s, $req, $deadline) or do {
                $res{retried} += $n;
                next CONNECTION;
            };

            my $got = 0;
            my $eof = 0;

            while ($got < $n && time() < $deadline) {
                my ($status, $h) = _take_response(\$buf, $method, $eof);

                if (defined $status) {
                    $res{$status}++;
                    $res{total}++;
                    $got++;
                    $i++;

                    if (($h->{connection} // '') =~ /close/i) {
                        $res{retried} += $n - $got;
                        close $s;
                        next CONNECTION;
                    }

                    next;
                }

                if ($eof) {
                    $res{retried} += $n - $got;
                    close $s;
                    next CONNECTION;
                }

                next unless $sel->can_read(0.5);

                my $r = sysread($s, $buf, 65536, length $buf);
                $eof = 1 unless $r;
            }
        }

        close $s;
    }

    $res{unanswered} = @$paths - $i if $i < @$paths;

    return \%res;
}

###############################################################################

# metrics

# metrics($port, accept => ..., path => '/metrics'): (headers, body)
# headers is a hash with lower case names plus 'status'

sub metrics {
    my ($port, %opts) = @_;

    my @h;
    push @h, "Accept: $opts{accept}" if defined $opts{accept};

    my $r = http_get($opts{path} // '/metrics', port => $port // port(8080),
        headers => \@h);

    my $h = http_headers($r);
    $h->{status} = http_status($r);

    return ($h, http_body($r));
}

# parse_metrics($body): arrayref of { name, labels => {}, value, line }
# unparsable lines are reported with diag() and returned in
# { error => line } entries

sub parse_metrics {
    my ($body) = @_;

    my @samples;

    for my $line (split /\n/, $body // '') {
        next if $line =~ /^#/ || $line =~ /^\s*$/;

        my $s = _parse_sample($line);

        unless ($s) {
            Test::More::diag("unparsable metrics line: $line");
            push @samples, { error => $line };
            next;
        }

        push @samples, $s;
    }

    return \@samples;
}

sub _parse_sample {
    my ($line) = @_;

    return undef unless $line =~ /\G([a-zA-Z_:][a-zA-Z0-9_:]*)/gc;
    my $name = $1;
    my %labels;

    if ($line =~ /\G\{/gc) {
        while (1) {
            $line =~ /\G[\s,]*/gc;
            last if $line =~ /\G\}/gc;

            return undef unless $line =~ /\G([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/gc;
            my $k = $1;
            my $v = '';

            while (1) {
                if ($line =~ /\G([^"\\]+)/gc) {
                    $v .= $1;
                } elsif ($line =~ /\G\\(.)/gc) {
                    $v .= $1 eq 'n' ? "\n" : $1 eq '\\' ? '\\'
                        : $1 eq '"' ? '"' : return undef;
                } elsif ($line =~ /\G"/gc) {
                    last;
                } else {
                    return undef;
                }
            }

            return undef if exists $labels{$k};
            $labels{$k} = $v;
        }
    }

    return undef unless $line =~ /\G\s+(\S+)(?:\s+(\S+))?\s*$/gc;

    my $raw = $1;
    my $value = $raw =~ /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/
        ? 0 + $raw
        : $raw eq '+Inf' ? 9**9**9 : $raw eq '-Inf' ? -9**9**9
        : $raw eq 'NaN' ? 'NaN' : return undef;

    return { name => $name, labels => \%labels, value => $value,
        raw => $raw, line => $line };
}

sub _match {
    my ($s, $name, $want) = @_;

    return 0 if $s->{error};

    if (ref $name eq 'Regexp') {
        return 0 unless $s->{name} =~ $name;
    } elsif (defined $name) {
        return 0 unless $s->{name} eq $name;
    }

    for my $k (keys %{$want // {}}) {
        my $v = $s->{labels}{$k};
        my $w = $want->{$k};

        if (!defined $w) {
            return 0 if defined $v;
        } elsif (ref $w eq 'Regexp') {
            return 0 unless defined $v && $v =~ $w;
        } else {
            return 0 unless defined $v && $v eq $w;
        }
    }

    return 1;
}

# samples by name, built once per parsed scrape

my %INDEX;

sub _by_name {
    my ($samples, $name) = @_;

    return $samples if !defined $name || ref $name;

    my $key = refaddr($samples);
    my $idx = $INDEX{$key};

    unless ($idx && $idx->{_list} == $samples && $idx->{_n} == @$samples) {
        $idx = { _list => $samples, _n => scalar @$samples };
        push @{$idx->{$_->{name}}}, $_ for grep { !$_->{error} } @$samples;
        $INDEX{$key} = $idx;
    }

    return $idx->{$name} // [];
}

sub metric_find {
    my ($samples, $name, $want) = @_;
    return grep { _match($_, $name, $want) } @{_by_name($samples, $name)};
}

sub metric_sum {
    my ($samples, $name, $want) = @_;

    my $sum = 0;
    $sum += $_->{value} for metric_find($samples, $name, $want);

    return $sum;
}

# value of the single matching sample, undef if none or several

sub metric_value {
    my ($samples, $name, $want) = @_;

    my @s = metric_find($samples, $name, $want);
    return @s == 1 ? $s[0]{value} : undef;
}

# histogram_errors($samples, totals => 1): what is wrong with the duration
# histograms: per series le strictly increasing with +Inf last, buckets
# cumulative, +Inf equal to _count, _sum present; with totals, _count also
# equal to the series' requests_total summed over status (only true of a
# scrape taken while no request is being recorded)

sub histogram_errors {
    my ($m, %opts) = @_;

    my $name = $opts{name} // 'nginx_http_request_duration_seconds';
    my (%series, %count, %sum, %total, @order, @errors);

    my $key = sub {
        my ($l) = @_;
        return join ',', map { "$_=$l->{$_}" }
            grep { $_ ne 'le' } sort keys %$l;
    };

    for my $s (metric_find($m, "${name}_bucket")) {
        my $le = $s->{labels}{le};
        my $k = $key->($s->{labels});

        push @errors, "no le: $k" unless defined $le;
        push @order, $k unless $series{$k};
        push @{$series{$k}}, [ $le // '', $s->{value} ];
    }

    for my $s (metric_find($m, "${name}_count")) {
        my $k = $key->($s->{labels});
        push @errors, "_count twice: $k" if exists $count{$k};
        push @errors, "_count without buckets: $k" unless $series{$k};
        $count{$k} = $s->{value};
    }

    $sum{$key->($_->{labels})} = $_->{value}
        for metric_find($m, "${name}_sum");

    if ($opts{totals}) {
        for my $s (metric_find($m, 'nginx_http_requests_total')) {
            my %l = %{$s->{labels}};
            delete $l{status};
            $total{$key->(\%l)} += $s->{value};
        }
    }

    my $inf = 9**9**9;

    for my $k (@order) {
        my @b = @{$series{$k}};

        push @errors, "+Inf not last: $k" unless $b[-1][0] eq '+Inf';

        for my $i (1 .. $#b) {
            my ($p, $c) = ($b[$i - 1], $b[$i]);
            my $pl = $p->[0] eq '+Inf' ? $inf : $p->[0];
            my $cl = $c->[0] eq '+Inf' ? $inf : $c->[0];
            push @errors, "le not increasing at $c->[0]: $k"
                unless $cl > $pl;
            push @errors, "bucket $c->[0] below $p->[0]: $k"
                unless $c->[1] >= $p->[1];
        }

        push @errors, "+Inf != _count: $k"
            unless defined $count{$k} && $count{$k} == $b[-1][1];
        push @errors, "bad _sum: $k"
            unless defined $sum{$k} && $sum{$k} >= 0;

        if ($opts{totals} && defined $count{$k}) {
            my $total = $total{$k} // 0;
            push @errors, "_count $count{$k} != requests_total $total: $k"
                unless $total == $count{$k};
        }
    }

    return @errors;
}

# promtool check metrics: (ok, output)

sub promtool_check {
    my ($body) = @_;

    my ($fh, $file) = File::Temp::tempfile('metrics-XXXXXXXX', TMPDIR => 1,
        UNLINK => 1);
    binmode $fh;
    print $fh $body;
    close $fh;

    my $r = _run_capture([ 'promtool', 'check', 'metrics' ], stdin => $file,
        timeout => 30);

    unlink $file;

    return ($r->{status} == 0, $r->{output});
}

###############################################################################

# JSON

# http_json($path, %opts): a request as http_get() makes it, its body
# decoded as JSON; returns { status, headers, body, data, error }, with
# data undef and error set when the body is not valid UTF-8 JSON

sub http_json {
    my ($path, %opts) = @_;

    require Encode;
    require JSON::PP;

    my $r = http_get($path, %opts);

    my %res = (
        status => http_status($r),
        headers => http_headers($r),
        body => http_body($r),
        raw => $r,
    );

    my $copy = $res{body};

    unless (eval { Encode::decode('UTF-8', $copy, Encode::FB_CROAK()); 1 }) {
        $res{error} = "not valid UTF-8: $@";
        return \%res;
    }

    $res{data} = eval { JSON::PP->new->utf8->decode($res{body}) };
    $res{error} = "not JSON: $@" unless defined $res{data};

    return \%res;
}

# json_type($value): the JSON type of a freshly decoded value, one of
# null, bool, number, string, array, object; pass the element itself
# (json_type($d->{x})), before anything uses it as a string or number

sub json_type {
    require B;
    require JSON::PP;

    return 'null' unless defined $_[0];
    return 'bool' if JSON::PP::is_bool($_[0]);
    return 'array' if ref $_[0] eq 'ARRAY';
    return 'object' if ref $_[0] eq 'HASH';
    return 'ref' if ref $_[0];

    my $f = B::svref_2object(\$_[0])->FLAGS;

    return 'string' if $f & B::SVf_POK();
    return 'number' if $f & (B::SVf_IOK() | B::SVf_NOK());

    return 'unknown';
}

###############################################################################

# poll(sub { ... }, timeout => 5, interval => 0.1): call until it returns
# true or time runs out; returns the last value

sub poll {
    my ($cb, %opts) = @_;

    my $deadline = time() + ($opts{timeout} // 5);
    my $v;

    while (1) {
        $v = $cb->();
        return $v if $v || time() > $deadline;
        sleep($opts{interval} // 0.1);
    }
}

###############################################################################

# webhook_sink, sink_requests, closed_port, alertmanager, am_alerts, ...

require Test::Monitoring::Alerts;

# prometheus, prom_query, prom_value, prom_targets, prom_wait

require Test::Monitoring::Prometheus;

# chromium, browser

require Test::Monitoring::Browser;

###############################################################################

1;
