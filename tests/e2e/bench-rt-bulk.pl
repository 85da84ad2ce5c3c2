#!/usr/bin/perl
# bench-rt-bulk.pl N - create N open tickets through RT's Perl API (one
# process, RT's scrips included), for bench-rt.sh's startup replay.
# Prints "created N tickets in S s".
use strict;
use warnings;
use RT;
use MIME::Entity;
use Time::HiRes qw(time);
RT::LoadConfig();
RT::Init();
my ($n) = @ARGV;
die "usage: bench-rt-bulk.pl N\n" unless defined $n && $n =~ /^\d+$/;
my $root = RT::CurrentUser->new;
$root->Load('root');
my @subjects = ('Production is down', 'Feature request: export %d',
                'Printer on floor %d jams', 'Question about invoice %d');
my $t0 = time;
for my $i (1 .. $n) {
  my $t = RT::Ticket->new($root);
  my ($id, undef, $msg) = $t->Create(
    Queue => 'General', Subject => sprintf($subjects[$i % @subjects], $i) . " bulk $i",
    Requestor => ["bulk$i\@example.com"],
    MIMEObj => MIME::Entity->build(Type => 'text/plain', Data => ["bench\n"]));
  die "create $i: $msg\n" unless $id;
}
printf "created %d tickets in %.1f s\n", $n, time - $t0;
