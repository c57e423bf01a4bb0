#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: directive arguments checked at
# "nginx -t", with the error text and the file:line of the bad directive.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Monitoring;

###############################################################################

my $t = Test::Monitoring->new();

# a config with the given text put into http{}, server{} or location{}

sub conf {
    my (%c) = @_;

    $c{$_} //= '' for qw(http server location);
    $c{content} //= 'return 200;';

    return <<"EOF";
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m;

$c{http}

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  localhost;

$c{server}

        location / {
$c{location}
            $c{content}
        }

        location /metrics {
            monitoring_metrics;
        }
    }
}
EOF
}

# line of the last line of the config that holds $needle

sub line_of {
    my ($needle) = @_;

    my @lines = split /\n/, $t->read_file('nginx.conf');
    my $n;

    for my $i (0 .. $#lines) {
        $n = $i + 1 if index($lines[$i], $needle) >= 0;
    }

    return $n // 0;
}

# the config must fail with "[emerg] ERROR in FILE:LINE", LINE being the
# line of the last occurrence of the directive

sub fails {
    my ($where, $directive, $error, %opts) = @_;

    $t->write_file_expand('nginx.conf', conf($where => $directive));

    my $needle = $opts{needle} // (split /\n/, $directive)[-1];
    my $line = line_of($needle);

    my ($ok, $out) = $t->test_config();

    ok(!$ok, "$directive: nginx -t fails");
    like($out, qr/\[emerg\] \Q$error\E in \S*nginx\.conf:$line\n/,
        "$directive: error text and line");
}

sub passes {
    my ($name, %c) = @_;

    $t->write_file_expand('nginx.conf', conf(%c));

    my ($ok, $out) = $t->test_config();

    ok($ok, "$name: nginx -t passes") or diag($out);
    unlike($out, qr/\[(?:warn|emerg|alert|crit)\]/,
        "$name: nothing logged");
}

###############################################################################

# monitoring_zone

fails(http => 'monitoring_zone bad.name 1m;',
    'invalid zone name "bad.name" in "monitoring_zone" directive');

fails(http => 'monitoring_zone "" 1m;',
    'invalid zone name "" in "monitoring_zone" directive');

fails(http => 'monitoring_zone z abc;',
    'invalid zone size "abc" in "monitoring_zone" directive');

fails(http => 'monitoring_zone z 16k;',
    'invalid zone size "16k" in "monitoring_zone" directive, '
    . 'the minimum is 256k');

fails(http => 'monitoring_zone z 1m foo=1;',
    'invalid parameter "foo=1" in "monitoring_zone" directive');

fails(http => 'monitoring_zone z 1m max_series=x;',
    'invalid max_series "x" in "monitoring_zone" directive');

fails(http => 'monitoring_zone z 1m max_series=5 max_series=6;',
    'duplicate parameter "max_series=6" in "monitoring_zone" directive');

fails(http => 'monitoring_label app "";',
    'invalid value "" in "monitoring_label" directive');

fails(http => 'monitoring_zone main 1m;',
    'duplicate zone "main" in "monitoring_zone" directive');

fails(http => 'monitoring_zone main 2m;',
    'duplicate zone "main" in "monitoring_zone" directive');

fails(http => 'monitoring_zone z;',
    'invalid number of arguments in "monitoring_zone" directive');

fails(server => 'monitoring_zone z 1m;',
    '"monitoring_zone" directive is not allowed here');

# monitoring

fails(server => 'monitoring nope;',
    'unknown zone "nope" in "monitoring" directive');

fails(location => 'monitoring nope;',
    'unknown zone "nope" in "monitoring" directive');

fails(server => "monitoring main;\n        monitoring main;",
    '"monitoring" directive is duplicate');

fails(http => "monitoring off;\n    monitoring main;",
    '"monitoring" directive is duplicate');

# monitoring_metrics

fails(location => 'monitoring_metrics nope;',
    'unknown zone "nope" in "monitoring_metrics" directive');

fails(location => 'monitoring_metrics main nope;',
    'unknown zone "nope" in "monitoring_metrics" directive');

fails(server => 'monitoring_metrics main;',
    '"monitoring_metrics" directive is not allowed here');

# monitoring_buckets

fails(location => 'monitoring_buckets abc;',
    'invalid bucket "abc" in "monitoring_buckets" directive');

fails(location => 'monitoring_buckets 0;',
    'invalid bucket "0" in "monitoring_buckets" directive, '
    . 'it must be positive');

fails(http => 'monitoring_buckets 10ms 5ms;',
    'invalid bucket "5ms" in "monitoring_buckets" directive, '
    . 'buckets must increase');

fails(server => 'monitoring_buckets 10ms 10ms;',
    'invalid bucket "10ms" in "monitoring_buckets" directive, '
    . 'buckets must increase');

fails(location => 'monitoring_buckets 0.1 0.05;',
    'invalid bucket "0.05" in "monitoring_buckets" directive, '
    . 'buckets must increase');

fails(location => 'monitoring_buckets 0.5ms;',
    'invalid bucket "0.5ms" in "monitoring_buckets" directive, '
    . 'the resolution is 1ms');

fails(location => 'monitoring_buckets 0.0005;',
    'invalid bucket "0.0005" in "monitoring_buckets" directive, '
    . 'the resolution is 1ms');

# at most 32 buckets: 33 must not be accepted silently

{
    my $b33 = join ' ', map { "${_}ms" } 1 .. 33;

    $t->write_file_expand('nginx.conf',
        conf(location => "monitoring_buckets $b33;"));

    my ($ok, $out) = $t->test_config();

    ok(!$ok, '33 buckets: nginx -t fails');
    like($out, qr/\[emerg\] .*"monitoring_buckets" directive/,
        '33 buckets: error names the directive');
}

# monitoring_slow_threshold

fails(location => 'monitoring_slow_threshold abc;',
    'invalid value "abc" in "monitoring_slow_threshold" directive');

fails(http => 'monitoring_slow_threshold 1s 2s;',
    'invalid number of arguments in "monitoring_slow_threshold" directive');

# monitoring_endpoint

fails(location => 'monitoring_endpoint;',
    'invalid number of arguments in "monitoring_endpoint" directive');

###############################################################################

# good configs

passes('minimal');

passes('everything',
    http => <<'EOF',
    monitoring_zone  small  256k;
    monitoring_zone  capped-1_x  1m  max_series=100;
    monitoring main;
    monitoring_buckets 5ms 0.25s 2s;
    monitoring_slow_threshold 500ms;
    monitoring_endpoint $uri;
EOF
    server => <<'EOF',
        monitoring small;
        monitoring_buckets 0.005 0.01 0.025 1 2.5 10;
        monitoring_slow_threshold 2s;

        location /off {
            monitoring off;
            return 200;
        }

        location /capped {
            monitoring capped-1_x;
            monitoring_endpoint "capped:$request_method";
            return 200;
        }

        location /all {
            monitoring_metrics;
        }

        location /some {
            monitoring off;
            monitoring_metrics small capped-1_x;
        }
EOF
    location => <<'EOF');
            monitoring_buckets 1ms 2ms 3ms;
            monitoring_slow_threshold 100ms;
            monitoring_endpoint "root";
EOF

passes('32 buckets',
    location => 'monitoring_buckets '
        . join(' ', map { "${_}ms" } 1 .. 32) . ';');

passes('whole milliseconds as seconds',
    location => 'monitoring_buckets 0.001 0.002 1.5 30;');

###############################################################################

done_testing();

###############################################################################
