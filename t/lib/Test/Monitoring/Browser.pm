package Test::Monitoring;

# Headless Chromium for the tests of ngx_http_monitoring_module: a page
# loaded as a browser loads it, its DOM dumped or a screenshot taken.
# These are more methods of Test::Monitoring, loaded by it.
#
#   chromium()                       the binary, undef when there is none
#   $t->browser($name, $url, @args)  run it once on $url, bounded
#
# Environment:
#   TEST_CHROMIUM_BINARY  (default chromium, looked up in PATH)

use warnings;
use strict;

use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

###############################################################################

sub chromium {
    my $bin = $ENV{TEST_CHROMIUM_BINARY} // 'chromium';
    return -x $bin ? $bin : undef if $bin =~ m{/};

    my ($path) = grep { -x } map { "$_/$bin" } split /:/, $ENV{PATH} // '';
    return $path;
}

# $t->browser($name, $url, @args): headless Chromium on $url with a fresh
# profile in testdir/chromium-$name, no network but 127.0.0.1, 5 s of
# virtual time for the page's scripts, and @args (--dump-dom,
# --screenshot=FILE --window-size=W,H ...); in its own process group,
# killed whole after 60 s, and its stragglers after it exits
#
# returns (exit status, undef if it had to be killed; its stdout, kept
# in logs/chromium-$name.out, stderr in logs/chromium-$name.err)

sub browser {
    my ($self, $name, $url, @args) = @_;

    my $d = $self->{_testdir};
    my $bin = chromium() // die "no chromium\n";

    my @cmd = ($bin, '--headless', '--no-sandbox', '--disable-gpu',
        '--disable-background-networking', '--no-first-run',
        '--disable-component-update', '--disable-sync',
        '--disable-default-apps', '--disable-extensions',
        '--hide-scrollbars', '--mute-audio',
        '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
        "--user-data-dir=$d/chromium-$name",
        '--virtual-time-budget=5000', @args, $url);

    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$d/logs/chromium-$name.out";
        open STDERR, '>', "$d/logs/chromium-$name.err";
        exec @cmd or POSIX::_exit(127);
    }

    my $deadline = time() + 60;
    my $st;

    while (time() < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $st = $?;
            last;
        }
        sleep 0.1;
    }

    # what is left of the group: on timeout all of it, else stragglers

    for my $sig ('TERM', 'KILL') {
        last unless kill 0, -$pid;
        kill $sig, -$pid;
        my $until = time() + 5;
        sleep 0.1 while kill(0, -$pid) && time() < $until;
    }

    waitpid($pid, 0) unless defined $st;

    Test::More::diag("chromium $name: "
        . (defined $st ? "status $st" : 'timed out') . "\n"
        . $self->read_file("logs/chromium-$name.err"))
        if !defined $st || $st != 0;

    return ($st, $self->read_file("logs/chromium-$name.out"));
}

###############################################################################

1;
