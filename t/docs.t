#!/usr/bin/perl

# Tests for ngx_http_monitoring_module: the reference documentation is
# complete.  Every directive of the module's command tables in src/*.c
# has a section in docs/directives.md with the contexts the source
# allows, and every metric family a real nginx with the module emits
# (a config with an upstream, custom labels, alert rules, a webhook on
# a closed port and persist=) has a row in docs/metrics.md that names
# its type and its labels; and neither document describes something
# the module does not have.  Every relative link and image of README.md
# and docs/*.md leads to a file of the repository.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Monitoring;

###############################################################################

sub slurp {
    my ($path) = @_;

    open my $fh, '<', $path or die "$path: $!\n";
    local $/;
    my $s = <$fh>;
    close $fh;

    return $s;
}

my $repo = $Test::Monitoring::REPO;

my $t = Test::Monitoring->new();

###############################################################################

# links: [text](path) and ![alt](path) that are not URLs, and their
# "#anchor" dropped, name files that exist

{
    my @broken;
    my $n = 0;

    for my $doc ('README.md', map { "docs/$_" } do {
        opendir my $dh, "$repo/docs" or die "docs: $!\n";
        sort grep { /\.md$/ } readdir $dh;
    }) {
        (my $base = $doc) =~ s{[^/]*$}{};
        my $text = slurp("$repo/$doc");

        # code blocks and spans hold no links

        $text =~ s/^```.*?^```//msg;
        $text =~ s/`[^`\n]*`//g;

        while ($text =~ /\]\(([^)\s]+)\)/g) {
            my $target = $1;

            next if $target =~ m{^(?:[a-z]+:|#)};

            $target =~ s/#.*//;
            $n++;

            push @broken, "$doc: $target" unless -e "$repo/$base$target";
        }
    }

    cmp_ok($n, '>', 20, "relative links found: $n");
    is(join("\n", @broken), '', 'every relative link leads to a file');
}

###############################################################################

# directives: the command tables of src/*.c

my %flags;

for my $file (glob "$repo/src/*.c") {
    my $src = slurp($file);

    while ($src =~ /ngx_command_t\s+\w+\[\]\s*=\s*\{(.*?)ngx_null_command/sg) {
        my $table = $1;

        while ($table =~ /\{\s*ngx_string\("(\w+)"\),\s*([^,]+),/g) {
            $flags{$1} = $2;
        }
    }
}

my $directives = slurp("$repo/docs/directives.md");

my %section;

for my $part (split /^## /m, $directives) {
    next unless $part =~ /^(\w+)\s*\n/;
    $section{$1} = $part;
}

my @names = sort keys %flags;

ok(@names >= 16, 'command tables found in src/') or diag(join ' ', @names);

my @missing = grep { !$section{$_} } @names;
is("@missing", '', 'every directive has a section in docs/directives.md');

my @unknown = grep { /^monitoring/ && !$flags{$_} } sort keys %section;
is("@unknown", '', 'docs/directives.md describes no unknown directive');

my (@bad_syntax, @bad_context);

for my $name (grep { $section{$_} } @names) {
    my $s = $section{$name};

    push @bad_syntax, $name
        unless $s =~ /^ {4}Syntax:\s+\Q$name\E\b/m
            && $s =~ /^ {4}Default:/m;

    my @want;
    push @want, 'http' if $flags{$name} =~ /NGX_HTTP_MAIN_CONF/;
    push @want, 'server' if $flags{$name} =~ /NGX_HTTP_SRV_CONF/;
    push @want, 'location' if $flags{$name} =~ /NGX_HTTP_LOC_CONF/;

    my ($doc) = $s =~ /^ {4}Context:\s+(.*?)\s*$/m;

    push @bad_context, "$name: source says \"@want\", docs say \""
        . ($doc // '') . '"'
        unless defined $doc && $doc eq join(', ', @want);
}

is("@bad_syntax", '', 'every directive section has Syntax and Default');
is(join("\n", @bad_context), '', 'documented contexts match the source');

###############################################################################

# metric families: what a real nginx emits

my $closed = $t->closed_port();

$t->write_file_expand('nginx.conf', <<"EOF");

%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    monitoring_zone  main  1m  persist=%%TESTDIR%%/main.snap
                               persist_interval=1s;

    monitoring_alert_interval  1s;

    monitoring_alert  Always  "rps >= 0"  window=1s  severity=critical
                      label:team=docs;
    monitoring_alert  Later   "rps >= 0"  window=1s  for=1h;

    monitoring_alert_webhook  http://127.0.0.1:$closed/api/v2/alerts
                              timeout=1s;

    upstream backend {
        server 127.0.0.1:%%PORT_8081%%;
    }

    server {
        listen       127.0.0.1:%%PORT_8080%%;
        server_name  localhost;

        monitoring        main;
        monitoring_label  app  \$http_x_app;

        location / {
            proxy_pass http://backend;
        }

        location /metrics {
            monitoring off;
            monitoring_metrics;
        }
    }

    server {
        listen       127.0.0.1:%%PORT_8081%%;
        server_name  backend;

        monitoring off;

        location / {
            return 200 "backend\\n";
        }
    }
}

EOF

$t->run();

http_get('/users/1', headers => 'X-App: shop');
http_get('/users/2');

# the rules are evaluated and a delivery to the closed port has failed

poll(sub {
    my (undef, $body) = metrics();
    $body =~ /^nginx_alerts\{.*alertstate="pending"/m
        && $body =~ /^nginx_monitoring_webhook_deliveries_total\{
            [^}]*result="error"\}\s+[1-9]/mx;
}, timeout => 10);

my (undef, $text) = metrics();
my (undef, $om) = metrics(undef,
    accept => 'application/openmetrics-text; version=1.0.0');

my %type = $text =~ /^# TYPE (\S+) (\S+)$/mg;
my %om_type = $om =~ /^# TYPE (\S+) (\S+)$/mg;

ok(keys %type >= 21, 'families on /metrics') or diag($text);

# sample label names by family, the module's own: not the custom label
# of monitoring_label nor the rule's label:

my %labels;

for my $s (@{parse_metrics($text)}) {
    next if $s->{error};

    my $family = $s->{name};
    $family =~ s/_(?:bucket|sum|count)$//
        if !$type{$family} && $family =~ /_(?:bucket|sum|count)$/;

    $labels{$family}{$_} = 1
        for grep { $_ ne 'app' && $_ ne 'team' } keys %{$s->{labels}};
}

my $metrics = slurp("$repo/docs/metrics.md");

my %row;

while ($metrics =~ /^\|\s*`(\w+)`\s*\|\s*(\w+)\s*\|([^|]*)\|/mg) {
    $row{$1} = { type => $2, labels => $3 };
}

@missing = grep { !$row{$_} } sort keys %type;
is("@missing", '', 'every family emitted has a row in docs/metrics.md');

@unknown = grep { !$type{$_} } sort keys %row;
is("@unknown", '', 'docs/metrics.md describes no family that is not emitted');

my @bad_type = map { "$_: $type{$_}, documented as $row{$_}{type}" }
    grep { $row{$_} && $row{$_}{type} ne $type{$_} } sort keys %type;
is(join("\n", @bad_type), '', 'documented types match the exposition');

my @bad_labels;

for my $family (sort keys %labels) {
    next unless $row{$family};

    my %doc = map { $_ => 1 } $row{$family}{labels} =~ /(\w+)/g;

    for my $l (sort keys %{$labels{$family}}) {
        push @bad_labels, "$family: $l" unless $doc{$l};
    }
}

is(join("\n", @bad_labels), '', 'every label emitted is documented');

# OpenMetrics: the same families, counters named without "_total"

my %expect = map { my $n = $_; $n =~ s/_total$// if $type{$_} eq 'counter';
    ($n => $type{$_}) } keys %type;

is(join(' ', map { "$_=$om_type{$_}" } sort keys %om_type),
    join(' ', map { "$_=$expect{$_}" } sort keys %expect),
    'OpenMetrics has the same families, as docs/metrics.md says');

###############################################################################

$t->done_testing();

###############################################################################
