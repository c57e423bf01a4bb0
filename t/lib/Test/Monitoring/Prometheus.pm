package Test::Monitoring;

# A real Prometheus server for the tests of ngx_http_monitoring_module:
# started on a free loopback port with the test's own configuration,
# storage in the test directory, and its HTTP API.  These are more
# methods of Test::Monitoring, loaded by it; the server is spawned, so it
# is killed by pid at stop(), also when a test dies.
#
#   $t->has_prometheus()             is the Prometheus binary there
#   $t->prometheus(%opts)            start one, wait until it is ready
#   $t->prom_query($p, $q)           instant query: the result, decoded
#   $t->prom_value($p, $q)           ... the value of its first sample
#   $t->prom_targets($p)             the active targets, decoded
#   $t->prom_wait($p, $q, $check)    query until $check->($result) holds
#
# Environment:
#   TEST_PROMETHEUS_BINARY  (default prometheus, looked up in PATH)

use warnings;
use strict;

use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

###############################################################################

sub _prom_binary {
    my $bin = $ENV{TEST_PROMETHEUS_BINARY} // 'prometheus';
    return $bin if $bin =~ m{/};

    my ($path) = grep { -x } map { "$_/$bin" } split /:/, $ENV{PATH} // '';
    return $path;
}

sub has_prometheus {
    my $bin = _prom_binary();
    return defined $bin && -x $bin;
}

# $t->prometheus(%opts): a Prometheus on a free loopback port, storage
# in testdir/prometheus (prometheus2, ... for more), its log in
# logs/prometheus.log (prometheus2.log, ...); waits (bounded) until
# /-/ready answers 200, dies if it does not
#
#   config     prometheus.yml text; without it, one made of:
#   targets    ports (logical, for port(), or numbers) or host:port
#              strings of nginx servers to scrape at /metrics, every
#              second, in one job "nginx"
#   job        that job's name (default "nginx")
#   external   { label => value }: global external_labels
#   rules      rule files (paths) to load; evaluated every second
#   files      { name => text }: more files written next to the config,
#              for the config to refer to (rule files, say)
#   port       a logical port for port() (default "prometheusN")
#   args       more command line arguments
#   timeout    seconds to wait for readiness (30)
#
# returns { pid, port, url => 'http://127.0.0.1:PORT', dir, config, log }

sub prometheus {
    my ($self, %opts) = @_;

    my $bin = _prom_binary();
    die "no prometheus binary\n" unless defined $bin && -x $bin;

    my $n = ++$self->{_proms};
    my $name = $n == 1 ? 'prometheus' : "prometheus$n";
    my $d = $self->{_testdir};
    my $port = port($opts{port} // "prometheus$n");

    for my $f (sort keys %{$opts{files} // {}}) {
        $self->write_file($f, $opts{files}{$f});
    }

    $self->write_file("$name.yml", $opts{config} // _prom_config(%opts));

    my %p = (
        port => $port,
        url => "http://127.0.0.1:$port",
        dir => "$d/$name",
        config => "$d/$name.yml",
        log => "$d/logs/$name.log",
    );

    $p{pid} = $self->spawn([ $bin,
        "--config.file=$p{config}",
        "--storage.tsdb.path=$p{dir}",
        "--web.listen-address=127.0.0.1:$port",
        '--log.level=warn',
        @{$opts{args} // []},
    ], output => $p{log});

    my $deadline = time() + ($opts{timeout} // 30);

    while (time() < $deadline) {
        if (waitpid($p{pid}, WNOHANG) == $p{pid}) {
            my $st = $?;
            delete $self->{_spawned}{$p{pid}};
            die "prometheus exited at start (status $st):\n"
                . $self->read_file("logs/$name.log");
        }

        return \%p if (http_status(http_get('/-/ready', port => $port,
            timeout => 1)) // 0) == 200;

        sleep 0.2;
    }

    my (undef, $out) = $self->kill_spawned($p{pid});
    die "prometheus not ready in time:\n$out";
}

sub _prom_config {
    my (%opts) = @_;

    my @targets = map { /:/ ? $_ : '127.0.0.1:' . port($_) }
        @{$opts{targets} // []};

    my $s = "global:\n"
        . "  scrape_interval: 1s\n"
        . "  scrape_timeout: 1s\n"
        . "  evaluation_interval: 1s\n";

    if (my $e = $opts{external}) {
        $s .= "  external_labels:\n";
        $s .= "    $_: '$e->{$_}'\n" for sort keys %$e;
    }

    if (my $r = $opts{rules}) {
        $s .= "\nrule_files:\n";
        $s .= "  - '$_'\n" for @$r;
    }

    $s .= "\nscrape_configs:\n"
        . '  - job_name: ' . ($opts{job} // 'nginx') . "\n"
        . "    metrics_path: /metrics\n"
        . "    static_configs:\n"
        . '      - targets: [' . join(', ', map { "'$_'" } @targets)
        . "]\n";

    return $s;
}

# $t->prom_query($p, $query, %opts): GET /api/v1/query; the "result" of
# its data (an arrayref of { metric => {}, value => [ time, "value" ] }
# for a vector), undef on any error (with a diag when verbose)
#   time       evaluation time (epoch seconds; default now)

sub prom_query {
    my ($self, $p, $q, %opts) = @_;

    my $path = '/api/v1/query?query=' . _uri_escape($q);
    $path .= "&time=$opts{time}" if defined $opts{time};

    my $res = http_json($path, port => $p->{port}, timeout => 5);

    if ($res->{status} && $res->{status} == 200
        && ($res->{data}{status} // '') eq 'success')
    {
        return $res->{data}{data}{result};
    }

    Test::More::diag("prom_query $q: " . ($res->{status} // 'no answer')
        . ' ' . substr($res->{body} // '', 0, 300))
        if $ENV{TEST_NGINX_VERBOSE};

    return undef;
}

# $t->prom_value($p, $query): the value of the first sample of an
# instant vector (or of a scalar), as a number; undef if none

sub prom_value {
    my ($self, $p, $q) = @_;

    my $r = $self->prom_query($p, $q);
    return undef unless defined $r;

    return $r->[1] + 0 if ref $r eq 'ARRAY' && @$r == 2 && !ref $r->[0];
    return @$r ? $r->[0]{value}[1] + 0 : undef;
}

# $t->prom_targets($p): GET /api/v1/targets; its activeTargets, an
# arrayref of { labels, health, lastError, scrapeUrl, ... }

sub prom_targets {
    my ($self, $p) = @_;

    my $res = http_json('/api/v1/targets', port => $p->{port}, timeout => 5);

    return $res->{status} && $res->{status} == 200
        ? $res->{data}{data}{activeTargets} // [] : [];
}

# $t->prom_wait($p, $query, $check, timeout => 30): query until
# $check->($result) is true, bounded; returns the last result (whatever
# the check said; the caller asserts on it)

sub prom_wait {
    my ($self, $p, $q, $check, %opts) = @_;

    my $r;

    poll(sub {
        $r = $self->prom_query($p, $q);
        return defined $r && $check->($r);
    }, timeout => $opts{timeout} // 30, interval => 0.25);

    return $r;
}

###############################################################################

1;
