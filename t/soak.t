#!/usr/bin/perl

# Soak test for ngx_http_monitoring_module: SOAK_SECONDS (60) of mixed
# keepalive traffic from two clients, /metrics scraped every 100 ms, the
# dashboard's API, /health and page polled, a reload every 10 s, a worker
# killed with SIGKILL every 20 s, and an alert rule that fires and
# resolves, delivered to a generic webhook.  Then: every request the
# clients completed is counted, within the requests in flight at the
# kills; every scrape parsed and no counter went back; /metrics passes
# promtool; the webhook got the firing and the resolution; the error log
# holds no alert but the master's reports of the killed workers; the
# memory of the master and of the workers is flat after the warm-up.
#
# bench/soak runs it for 5 minutes and prints the summary, the "soak:"
# lines that prove -v shows.
#
#   SOAK_SECONDS       run time (60)
#   SOAK_CLIENTS       traffic clients, processes (2)
#   SOAK_CONNECTIONS   keepalive connections per client (4)

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use List::Util qw(max min sum0);
use Test::More;
use Test::Monitoring;
use Time::HiRes qw(sleep time);

###############################################################################

my $DURATION = $ENV{SOAK_SECONDS} // 60;
my $CLIENTS = $ENV{SOAK_CLIENTS} // 2;
my $CONNS = $ENV{SOAK_CONNECTIONS} // 4;

my $SCRAPE_EVERY = 0.1;
my $POLL_EVERY = 0.25;
my $RELOAD_EVERY = 10;
my $KILL_EVERY = 20;
my $KILL_FIRST = 5;
my $SAMPLE_EVERY = 1;

# the error phases: 500s in every other PHASE seconds, from the second on

my $PHASE = 4;

# a request without an answer for this long is stuck

my $STUCK = 10;

# memory after the warm-up (the first third): the larger of both may grow

my $RSS_GROWTH_KIB = 2048;
my $RSS_GROWTH_RATIO = 0.10;

die "SOAK_SECONDS must be at least 30\n" unless $DURATION >= 30;

my $t = Test::Monitoring->new(echo => 1);

# the master reports each killed worker, and the zone lock it may have held

$t->allow_log(qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9$/,
    qr/\[alert\] \d+#\d+: shared memory zone "main" was locked by \d+$/);

my $sink = $t->webhook_sink(port => 8090);

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  8m;

    monitoring_normalize_auto  on;

    # /health degraded by the critical rule only, not by the averages

    monitoring_health_thresholds  error_rate=50%,90%  p95=5s,10s;

    monitoring_alert_interval  1s;

    monitoring_alert  SoakErrors  "error_rate > 5%"  window=2s
                      severity=critical  summary="Soak error phase";

    monitoring_alert_webhook  http://127.0.0.1:%%PORT_8090%%/hook
                              format=generic  timeout=2s;

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  traffic;

        monitoring main;
        monitoring_label  client  $http_x_client;

        location /ok/ {
            return 200 "ok\n";
        }

        location /missing/ {
            return 404;
        }

        location = /err {
            return 500;
        }

        location = /slow {
            echo_sleep 0.02;
            echo ok;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%%;
        server_name  control;

        monitoring off;

        location = /metrics {
            monitoring_metrics;
        }

        location /monitoring {
            monitoring_dashboard;
        }

        location = /health {
            monitoring_health;
        }
    }
}

EOF

$t->run();

###############################################################################

my $dir = $t->testdir();
my $json = JSON::PP->new->canonical;

sub summary {
    note("soak: " . join('', @_));
}

sub write_json {
    my ($name, $data) = @_;

    open my $fh, '>', "$dir/$name.tmp" or die "$name: $!\n";
    print $fh $json->encode($data);
    close $fh;
    rename "$dir/$name.tmp", "$dir/$name" or die "rename $name: $!\n";
}

sub read_json {
    my ($name) = @_;

    my $s = $t->read_file($name);
    return length $s ? eval { $json->decode($s) } : undef;
}

# a child: leaves when the test is gone, writes what it found, or the
# error that stopped it, to NAME

sub child {
    my ($name, $cb) = @_;

    return $t->spawn_sub(sub {
        $SIG{TERM} = $SIG{INT} = 'DEFAULT';
        $SIG{PIPE} = 'IGNORE';

        my $r = eval { $cb->() } // { error => $@ || 'no result' };
        write_json($name, $r);
    });
}

sub mib {
    return sprintf('%.1f MiB', $_[0] / 1024);
}

###############################################################################

# traffic: each client keeps CONNS keepalive connections busy, one request
# at a time on each, and counts the answers it completed by status; a
# request whose connection closed before its answer is "lost", and what
# nginx counted of it is in the bound of the accounting

my $T0 = time() + 1;
my $END = $T0 + $DURATION;

sub error_phase {
    my ($now) = @_;
    return int(($now - $T0) / $PHASE) % 2 == 1;
}

# the i-th request of a client: (method, path, body)

sub request {
    my ($i) = @_;

    my $k = $i % 10;

    return ('HEAD', "/ok/$i") if $k == 3;
    return ('POST', "/ok/$i", "x=$i") if $k == 4;
    return ('GET', '/missing/page') if $k == 5;
    return ('GET', '/slow') if $k == 6;
    return ('GET', "/ok/$i?q=$k") if $k == 7;
    return ('GET', "/missing/$i") if $k == 8;
    return ('GET', '/err') if $k == 9 && error_phase(time());
    return ('GET', "/ok/$i");
}

sub client {
    my ($id) = @_;

    my $parent = getppid();
    my $sel = IO::Select->new();
    my @conns = map { { n => $_ } } 1 .. $CONNS;
    my (%fd, %count, @lost);
    my %r = (sent => 0, connects => 0, lost => 0, stuck => 0, bad => 0,
        write_failed => 0, connect_failed => 0);
    my $i = 0;

    my $close = sub {
        my ($c) = @_;
        $sel->remove($c->{sock});
        delete $fd{fileno $c->{sock}};
        close $c->{sock};
        $c->{sock} = undef;
        $c->{buf} = '';
    };

    while (1) {
        my $now = time();
        my $stopping = $now >= $END;

        last if $now > $END + $STUCK + 2 || getppid() != $parent;

        for my $c (@conns) {
            next if $c->{pending} || $stopping;

            unless ($c->{sock}) {
                my $s = IO::Socket::INET->new(
                    PeerAddr => '127.0.0.1',
                    PeerPort => port(8080),
                    Proto => 'tcp',
                    Timeout => 2,
                );

                unless ($s) {
                    $r{connect_failed}++;
                    next;
                }

                binmode $s;
                $r{connects}++;
                $c->{sock} = $s;
                $c->{buf} = '';
                $fd{fileno $s} = $c;
                $sel->add($s);
            }

            my ($method, $path, $body) = request($i++);

            my $req = "$method $path HTTP/1.1\r\nHost: traffic\r\n"
                . "X-Client: c$id\r\n";
            $req .= "Content-Length: " . length($body) . "\r\n"
                if defined $body;
            $req .= "\r\n" . ($body // '');

            my $n = syswrite($c->{sock}, $req);

            unless (defined $n && $n == length $req) {
                $r{write_failed}++;
                $close->($c);
                next;
            }

            $r{sent}++;
            $c->{pending} = $method;
            $c->{sent_at} = time();
        }

        my @busy = grep { $_->{pending} } @conns;
        last if $stopping && !@busy;

        for my $s ($sel->can_read(0.1)) {
            my $c = $fd{fileno $s} or next;
            my $n = sysread($s, $c->{buf}, 65536, length $c->{buf});
            my $eof = !$n;

            while ($c->{pending}) {
                my ($status, $h) = eval {
                    Test::Monitoring::_take_response(\$c->{buf},
                        $c->{pending}, $eof);
                };

                if ($@) {
                    $r{bad}++;
                    $c->{pending} = undef;
                    $eof = 1;
                    last;
                }

                last unless defined $status;

                $count{$status}++;
                $c->{pending} = undef;

                # the last of keepalive_requests, or a worker shutting down

                $eof = 1 if ($h->{connection} // '') =~ /close/i;
            }

            next unless $eof;

            if ($c->{pending}) {
                $r{lost}++;
                push @lost, [ $c->{sent_at}, time() ] if @lost < 1000;
                $c->{pending} = undef;
            }

            $close->($c);
        }

        for my $c (grep { $_->{pending} } @conns) {
            next if time() - $c->{sent_at} < $STUCK;
            $r{stuck}++;
            $c->{pending} = undef;
            $close->($c);
        }
    }

    $r{count} = \%count;
    $r{lost_at} = \@lost;

    return \%r;
}

###############################################################################

# the scraper: /metrics every 100 ms, each one complete, parsed, with
# consistent histograms and no counter lower than in the scrape before;
# the last good one is kept

sub scrape_error {
    my ($resp, $prev) = @_;

    return 'no answer' unless length $resp;

    my $status = http_status($resp) // 'none';
    return "status $status" unless $status eq '200';

    my $h = http_headers($resp);

    if (($h->{'transfer-encoding'} // '') =~ /chunked/i) {
        return 'truncated: no last chunk' unless $resp =~ /\r\n0\r\n\r\n\z/;
    }

    my $body = http_body($resp);
    return 'body does not end with a newline' unless $body =~ /\n\z/;

    my $m = parse_metrics($body);

    my @bad = grep { $_->{error} } @$m;
    return "unparsable: $bad[0]{error}" if @bad;

    return 'no nginx_up 1' unless (metric_value($m, 'nginx_up') // 0) == 1;

    my @h = histogram_errors($m);
    return "histogram: $h[0]" if @h;

    for my $s (metric_find($m, qr/_total$/)) {
        my $k = $s->{line};
        $k =~ s/\s+\S+$//;

        if (defined $prev->{$k} && $s->{value} < $prev->{$k}) {
            return "counter went back: $k $prev->{$k} -> $s->{value}";
        }

        $prev->{$k} = $s->{value};
    }

    return undef;
}

sub scraper {
    my $parent = getppid();
    my %r = (scrapes => 0, ok => 0, failures => [], max_seconds => 0);
    my %prev;
    my $next = time();

    while (time() < $END && getppid() == $parent) {
        my $start = time();
        my $resp = http_get('/metrics', port => port(8081), timeout => 5);
        my $end = time();

        $r{scrapes}++;
        $r{max_seconds} = max($r{max_seconds}, $end - $start);

        if (my $err = scrape_error($resp, \%prev)) {
            push @{$r{failures}}, [ $start, $end, $err ]
                if @{$r{failures}} < 1000;

        } else {
            $r{ok}++;
            $t->write_file('last.metrics.tmp', http_body($resp));
            rename "$dir/last.metrics.tmp", "$dir/last.metrics";
        }

        $next += $SCRAPE_EVERY;
        $next = time() if $next < time() - 1;
        sleep($next - time()) if $next > time();
    }

    return \%r;
}

###############################################################################

# the poller: the dashboard's API, /health, and now and then the page

sub poll_error {
    my ($what, $r, $states, $timeline) = @_;

    my $status = $r->{status} // 'none';

    if ($what eq 'page') {
        return "page: status $status" unless $status eq '200';
        return 'page: not html'
            unless ($r->{headers}{'content-type'} // '') =~ m{^text/html};
        return undef;
    }

    if ($what eq 'health') {
        return "health: status $status" unless $status =~ /^(200|503)$/;
        return "health: $r->{error}" unless $r->{data};

        my $st = $r->{data}{status} // '';
        return "health: status $status with \"$st\""
            unless ($st eq 'degraded') == ($status eq '503');

        $states->{"health $status"}++;
        return undef;
    }

    return "api: status $status" unless $status eq '200';
    return "api: $r->{error}" unless ref $r->{data} eq 'HASH';

    my $d = $r->{data};
    return 'api: no zone main' unless ($d->{zone} // '') eq 'main';

    my ($rule) = grep { $_->{name} eq 'SoakErrors' }
        @{$d->{alerts}{rules} // []};
    return 'api: no rule SoakErrors' unless $rule;

    $states->{"rule $rule->{state}"}++;

    # the rule's state when it changed: [ time, state ]

    push @$timeline, [ time(), $rule->{state} ]
        if !@$timeline || $timeline->[-1][1] ne $rule->{state};

    return undef;
}

sub poller {
    my $parent = getppid();
    my %r = (polls => 0, ok => 0, failures => [], states => {},
        timeline => []);
    my $next = time();
    my $n = 0;

    while (time() < $END && getppid() == $parent) {
        my $what = $n++ % 2 ? 'health' : 'api';
        $what = 'page' if $n % 20 == 0;

        my $path = { api => '/monitoring/api', health => '/health',
            page => '/monitoring' }->{$what};

        my $start = time();
        my $r = $what eq 'page'
            ? do {
                my $raw = http_get($path, port => port(8081), timeout => 5);
                { status => http_status($raw), headers => http_headers($raw) }
            }
            : http_json($path, port => port(8081), timeout => 5);
        my $end = time();

        $r{polls}++;

        if (my $err = poll_error($what, $r, $r{states}, $r{timeline})) {
            push @{$r{failures}}, [ $start, $end, $err ]
                if @{$r{failures}} < 1000;
        } else {
            $r{ok}++;
        }

        $next += $POLL_EVERY / 2;
        $next = time() if $next < time() - 1;
        sleep($next - time()) if $next > time();
    }

    return \%r;
}

###############################################################################

# memory: VmRSS (and RssAnon) of the master and of each active worker

sub rss {
    my ($pid) = @_;

    open my $fh, '<', "/proc/$pid/status" or return ();
    my ($rss, $anon);

    while (<$fh>) {
        $rss = $1 if /^VmRSS:\s+(\d+)\s+kB/;
        $anon = $1 if /^RssAnon:\s+(\d+)\s+kB/;
    }

    close $fh;

    return defined $rss ? ($rss, $anon // 0) : ();
}

sub sample {
    my ($now) = @_;

    my ($m, $ma) = rss($t->master_pid());
    my %w;

    for my $pid ($t->worker_pids()) {
        my ($r, $a) = rss($pid);
        $w{$pid} = [ $r, $a ] if defined $r;
    }

    return {
        t => $now - $T0,
        master => $m // 0,
        master_anon => $ma // 0,
        workers => \%w,
        worker_max => max(0, map { $_->[0] } values %w),
        worker_anon_max => max(0, map { $_->[1] } values %w),
    };
}

###############################################################################

# the run: the clients, the scraper and the poller are children; the test
# itself reloads, kills and samples memory

my %pids;

for my $id (1 .. $CLIENTS) {
    $pids{"client $id"} = child("client.$id", sub { client($id) });
}

$pids{scraper} = child('scraper', \&scraper);
$pids{poller} = child('poller', \&poller);

my (@kills, @reloads, @samples, @events);

my $next_sample = $T0;
my $next_reload = $T0 + $RELOAD_EVERY;
my $next_kill = $T0 + $KILL_FIRST;
my $stop_at = $END - 3;

summary("$DURATION s, $CLIENTS clients x $CONNS connections, "
    . "reload every $RELOAD_EVERY s, SIGKILL every $KILL_EVERY s, "
    . "nginx master " . $t->master_pid());

sleep($T0 - time()) if $T0 > time();

while (time() < $END) {
    my $now = time();

    if ($now >= $next_sample) {
        push @samples, sample($now);
        $next_sample += $SAMPLE_EVERY;
    }

    if ($now >= $next_kill && $now < $stop_at) {
        my @w = $t->worker_pids();
        my $victim = $w[@kills % @w];

        my $at = time();
        kill 'KILL', $victim or die "kill $victim: $!\n";
        push @kills, { t => $at, pid => $victim };

        my @after = $t->wait_workers(old => [ map { $_->{pid} } @kills ],
            timeout => 10);
        $kills[-1]{respawned} = @after ? time() - $at : undef;

        $next_kill += $KILL_EVERY;
        next;
    }

    if ($now >= $next_reload && $now < $stop_at) {
        my @old = $t->worker_pids();

        my $at = time();
        my $ok = eval { $t->reload(); 1 };
        my $done = time();

        push @reloads, { t => $at, done => $done, ok => $ok,
            error => $ok ? undef : $@,
            lingering => [ grep { kill 0, $_ } @old ] };

        $next_reload += $RELOAD_EVERY;
        next;
    }

    sleep 0.05;
}

push @samples, sample(time());

for my $name (sort keys %pids) {
    my ($status) = $t->reap($pids{$name}, $STUCK + 15);
    ok(defined $status, "$name finished in time");
}

my $runtime = time() - $T0;

###############################################################################

# what the children found

my @client = map { read_json("client.$_") } 1 .. $CLIENTS;
my $scraper = read_json('scraper');
my $poller = read_json('poller');

for my $i (0 .. $CLIENTS - 1) {
    ok($client[$i] && !$client[$i]{error}, 'client ' . ($i + 1) . ' result')
        or diag($client[$i] ? $client[$i]{error} : 'no result');
}

ok($scraper && !$scraper->{error}, 'scraper result')
    or diag($scraper ? $scraper->{error} : 'no result');
ok($poller && !$poller->{error}, 'poller result')
    or diag($poller ? $poller->{error} : 'no result');

@client = map { $_ && !$_->{error} ? $_ : { count => {} } } @client;
$scraper = { failures => [] } unless $scraper && !$scraper->{error};
$poller = { failures => [], states => {} }
    unless $poller && !$poller->{error};

is(scalar(grep { !$_->{respawned} } @kills), 0,
    'each killed worker respawned');
is(join("\n", map { $_->{error} } grep { !$_->{ok} } @reloads), '',
    'each reload went through');
is(join(' ', map { @{$_->{lingering}} } @reloads), '',
    'old workers gone after each reload');

# a failed request is explained by a kill during it; by a reload during
# it only if nginx closed the connection without an answer (a connection
# accepted by an old worker as it starts to shut down)

sub cause {
    my ($start, $end, $err) = @_;

    return 'kill' if grep { $_->{t} >= $start - 0.5 && $_->{t} <= $end }
        @kills;
    return 'reload' if $err eq 'no answer'
        && grep { $_->{t} <= $end && $_->{done} >= $start } @reloads;
    return 'unexplained';
}

sub failures {
    my ($name, $r) = @_;

    my %by;
    my @unexplained;

    for my $f (@{$r->{failures}}) {
        my $why = cause(@$f);
        $by{$why}++;
        push @unexplained, sprintf('%.2f s: %s', $f->[0] - $T0, $f->[2])
            if $why eq 'unexplained';
    }

    summary(sprintf('%s: %d, %d ok, failed: %d at kills, %d at reloads, '
        . '%d unexplained', $name, $r->{scrapes} // $r->{polls} // 0,
        $r->{ok} // 0, $by{kill} // 0, $by{reload} // 0,
        $by{unexplained} // 0));

    is(join("\n", @unexplained), '', "$name: no failure but at the kills");
}

failures('scrapes', $scraper);
summary(sprintf('scrapes: %.1f a second, the longest %.3f s',
    ($scraper->{scrapes} // 0) / $DURATION, $scraper->{max_seconds} // 0));
cmp_ok($scraper->{ok} // 0, '>=', $DURATION / $SCRAPE_EVERY / 2,
    'scrapes: at least half of the planned ones succeeded');

failures('polls', $poller);
summary('poller saw: ', join(', ', map { "$_ $poller->{states}{$_}" }
    sort keys %{$poller->{states}}));
ok($poller->{states}{'rule firing'}, 'API showed the rule firing');
ok($poller->{states}{'health 503'}, '/health degraded while it fired');
ok($poller->{states}{'health 200'}, '/health healthy otherwise');

# once fired, the rule is firing or resolved, whatever the reloads and
# kills (a resolved rule stays so for 15 minutes)

my @tl = @{$poller->{timeline} // []};
shift @tl while @tl && $tl[0][1] ne 'firing';

is(join(' ', map { sprintf('%s at %.1f s', $_->[1], $_->[0] - $T0) }
    grep { $_->[1] ne 'firing' && $_->[1] ne 'resolved' } @tl), '',
    'API: the rule only fired and resolved once it had fired');

###############################################################################

# accounting: per client and status, what nginx counted against what the
# client completed; a request in flight on the killed worker may be
# counted and not completed (killed after the log phase, before the
# client read its answer) or completed and not counted (killed after the
# answer went out, before the log phase), at most one per connection

my $bound = $CONNS * @kills;

my %done;

for my $i (0 .. $CLIENTS - 1) {
    my $c = $client[$i];
    $done{'c' . ($i + 1)}{$_} = $c->{count}{$_} for keys %{$c->{count}};
}

sub counted {
    my ($m) = @_;

    my %n;

    for my $s (metric_find($m, 'nginx_http_requests_total',
        { server => 'traffic' }))
    {
        $n{$s->{labels}{client} // '-'}{$s->{labels}{status}} += $s->{value};
    }

    return \%n;
}

# the log phase follows the answer: wait until nginx has counted the last

my ($m, $counted);
my $last = '';

poll(sub {
    my (undef, $body) = metrics(port(8081));
    $m = parse_metrics($body);
    $counted = counted($m);

    my $now = $json->encode($counted);
    my $same = $now eq $last;
    $last = $now;

    return $same;
}, timeout => 5, interval => 0.3);

my (@diff, $total_done, $total_counted);

for my $client (sort keys %{{ %done, %$counted }}) {
    my $d = $done{$client} // {};
    my $n = $counted->{$client} // {};
    my $abs = 0;

    for my $status (sort keys %{{ %$d, %$n }}) {
        my $delta = ($n->{$status} // 0) - ($d->{$status} // 0);
        $abs += abs $delta;
        push @diff, "$client $status: completed " . ($d->{$status} // 0)
            . ", counted " . ($n->{$status} // 0) if $delta;
    }

    my $cd = sum0(values %$d);
    my $cn = sum0(values %$n);
    $total_done += $cd;
    $total_counted += $cn;

    my ($i) = grep { "c" . ($_ + 1) eq $client } 0 .. $CLIENTS - 1;
    my $c = defined $i ? $client[$i] : {};

    # requests whose connection closed before the answer, by cause

    my %lost;
    $lost{cause(@$_, 'no answer')}++ for @{$c->{lost_at} // []};

    summary(sprintf('%s: completed %d, counted %d (%+d), bound %d; '
        . 'counted/completed %s; lost %d (%s), stuck %d, bad %d', $client,
        $cd, $cn, $cn - $cd, $bound,
        join(' ', map { "$_=" . ($n->{$_} // 0) . '/' . ($d->{$_} // 0) }
            sort keys %{{ %$d, %$n }}),
        $c->{lost} // 0, join(', ', map { "$lost{$_} at ${_}s" }
            sort keys %lost) || 'none',
        $c->{stuck} // 0, $c->{bad} // 0));

    cmp_ok($abs, '<=', $bound,
        "$client: counts per status within $bound of the completed ones");
    cmp_ok($cn, '>=', $cd - $bound, "$client: never fewer than completed "
        . "minus $bound");
}

diag(join("\n", @diff)) if @diff && $ENV{TEST_NGINX_VERBOSE};

cmp_ok($total_done, '>', 0, 'clients completed requests');
is(join(',', sort grep { !$done{$_} } keys %$counted), '',
    'no requests counted for another client');

is(sum0(map { $_->{stuck} } @client), 0, 'no request stuck');
is(sum0(map { $_->{bad} } @client), 0, 'no malformed answer');
is(sum0(map { $_->{connect_failed} } @client), 0, 'no connect failed');

my $worker_total = metric_sum($m, 'nginx_worker_requests_total',
    { zone => 'main' });

cmp_ok(abs($worker_total - $total_counted), '<=', scalar @kills,
    "worker requests ($worker_total) match the series "
    . "($total_counted) within the kills");

# a kill between the status and the histogram updates of a request

my %hist;

for my $s (metric_find($m, 'nginx_http_request_duration_seconds_count')) {
    my %l = %{$s->{labels}};
    $hist{$json->encode(\%l)} += $s->{value};
}

for my $s (metric_find($m, 'nginx_http_requests_total')) {
    my %l = %{$s->{labels}};
    delete $l{status};
    $hist{$json->encode(\%l)} -= $s->{value};
}

my $hist_off = sum0(map { abs } values %hist);
cmp_ok($hist_off, '<=', scalar @kills,
    "histogram counts match the requests within the kills ($hist_off)");

is(metric_value($m, 'nginx_worker_restarts_total', { zone => 'main' }),
    scalar @kills, 'worker restarts counted, one per kill');

my $evals = metric_value($m, 'nginx_monitoring_alert_evaluations_total',
    { zone => 'main' }) // 0;
cmp_ok($evals, '>=', $DURATION / 2, "alert evaluations ($evals)");

summary(sprintf('runtime %.1f s; %d kills, %d reloads; completed %d, '
    . 'counted %d (%+d), bound %d (%d connections x %d kills); %.0f '
    . 'requests/s', $runtime, scalar @kills, scalar @reloads, $total_done,
    $total_counted, $total_counted - $total_done, $bound * $CLIENTS,
    $CONNS * $CLIENTS, scalar @kills, $total_done / $DURATION));

###############################################################################

# /metrics: now, and the scraper's last

my ($ok, $out) = promtool_check((metrics(port(8081)))[1]);
ok($ok, 'promtool check metrics at the end') or diag($out);

($ok, $out) = promtool_check($t->read_file('last.metrics'));
ok($ok, 'promtool check metrics of the last scrape') or diag($out);

###############################################################################

# alerts: the generic webhook got each transition, in order

my @hooks = grep { ($_->{json}{alertname} // '') eq 'SoakErrors' }
    $t->sink_requests($sink);
my @states = map { $_->{json}{state} // '?' } @hooks;

my @seq;
for my $s (@states) {
    push @seq, $s unless @seq && $seq[-1] eq $s;
}

my $firing = grep { $_ eq 'firing' } @states;
my $resolved = grep { $_ eq 'resolved' } @states;

summary(sprintf('webhook: %d deliveries, %d firing, %d resolved '
    . '(%d repeated); %d evaluations', scalar @hooks, $firing, $resolved,
    @states - @seq, $evals));

cmp_ok($firing, '>=', 2, 'webhook got firing alerts');
cmp_ok($resolved, '>=', 2, 'webhook got resolutions');
is(join(' ', grep { $_ ne 'firing' && $_ ne 'resolved' } @seq), '',
    'only firing and resolved sent');
ok(!(grep { $seq[$_] eq $seq[$_ - 1] } 1 .. $#seq)
    && (!@seq || $seq[0] eq 'firing'),
    'firing and resolved alternate, no transition lost');

my %delivered = map {
    $_->{labels}{result} => $_->{value}
} metric_find($m, 'nginx_monitoring_webhook_deliveries_total',
    { zone => 'main' });

summary('deliveries: ', join(', ', map { "$_ $delivered{$_}" }
    sort keys %delivered));
is(sum0(map { $delivered{$_} } grep { $_ ne 'success' } keys %delivered),
    0, 'no delivery failed');

###############################################################################

# the master reports each killed worker, and only those

my @reported = $t->read_file('logs/error.log')
    =~ /worker process (\d+) exited on signal 9/g;

is(join(' ', sort @reported), join(' ', sort map { $_->{pid} } @kills),
    'the master reported each killed worker');

summary('kills at ', join(', ', map {
    sprintf('%.1f s (%d, respawned in %s)', $_->{t} - $T0, $_->{pid},
        defined $_->{respawned} ? sprintf('%.2f s', $_->{respawned}) : 'never')
} @kills));

my @locked = $t->read_file('logs/error.log') =~ /was locked by (\d+)/g;
summary('zone lock held by a killed worker: ', scalar @locked);

###############################################################################

# memory: after the warm-up third, the first and the last stretch of
# samples (a quarter of the rest, at least one reload period) compared;
# the workers are new after every reload and kill, so each stretch takes
# the largest worker of its samples

my $warm = $DURATION / 3;
my $span = max($RELOAD_EVERY, ($DURATION - $warm) / 4);

my @first = grep { $_->{t} >= $warm && $_->{t} < $warm + $span } @samples;
my @final = grep { $_->{t} >= $DURATION - $span } @samples;

sub stretch {
    my ($key, @s) = @_;
    return max(0, map { $_->{$key} } @s);
}

for my $what ([ 'master', 'master', 'master_anon' ],
    [ 'workers', 'worker_max', 'worker_anon_max' ])
{
    my ($name, $key, $anon) = @$what;

    my $start = stretch($key, @samples[0 .. min(2, $#samples)]);
    my $before = stretch($key, @first);
    my $after = stretch($key, @final);
    my $limit = max($RSS_GROWTH_KIB, $before * $RSS_GROWTH_RATIO);

    summary(sprintf('%s RSS: %s at the start, %s after the warm-up, %s at '
        . 'the end (%+d KiB, limit %d KiB); anon %s -> %s', $name,
        mib($start), mib($before), mib($after), $after - $before, $limit,
        mib(stretch($anon, @first)), mib(stretch($anon, @final))));

    ok(@first && @final, "$name: memory sampled");
    cmp_ok($after - $before, '<=', $limit,
        "$name: RSS flat after the warm-up");
}

###############################################################################

$t->done_testing();

###############################################################################
