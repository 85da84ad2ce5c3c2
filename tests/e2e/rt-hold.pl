#!/usr/bin/perl
# rt-hold.pl - one RT change made through RT's Perl API inside a database
# transaction that is held open, for tests/e2e/backends.sh.
#
#   rt-hold.pl create SUBJECT SECONDS [GO]   a ticket (requestor customer@...)
#   rt-hold.pl reply TICKET SECONDS [GO]     a public reply by root
#
# Prints the ticket id (create) or "replied" as soon as the change is made,
# "committed" after holding the transaction open for SECONDS.  With GO (a
# file name), it prints "ready" once RT is loaded (seconds on a busy
# machine) and starts only when that file exists; for reply, TICKET "-"
# means the ticket id written in that file.
use strict;
use warnings;
use RT;
RT::LoadConfig();
RT::Init();
use MIME::Entity;

my ($mode, $arg, $hold, $go) = @ARGV;
die "usage: rt-hold.pl create SUBJECT SECONDS [GO] | reply TICKET SECONDS [GO]\n"
  unless defined $hold && $mode =~ /^(create|reply)$/;
$| = 1;
if (defined $go) {
  print "ready\n";
  select(undef, undef, undef, 0.05) until -s $go;
  if ($arg eq '-') {
    open(my $fh, '<', $go) or die "$go: $!\n";
    ($arg) = <$fh> =~ /(\d+)/;
  }
}
my $root = RT::CurrentUser->new;
$root->Load('root');
$RT::Handle->BeginTransaction;
if ($mode eq 'create') {
  my $t = RT::Ticket->new($root);
  my ($id, undef, $msg) = $t->Create(
    Queue => 'General', Subject => $arg, Requestor => ['customer@example.com'],
    MIMEObj => MIME::Entity->build(Type => 'text/plain', Data => ["held open\n"]));
  die "create: $msg\n" unless $id;
  print "$id\n";
} else {
  my $t = RT::Ticket->new($root);
  $t->Load($arg);
  die "no ticket $arg\n" unless $t->id;
  my ($ok, $msg) = $t->Correspond(Content => "Looking into it (held reply).\n");
  die "reply: $msg\n" unless $ok;
  print "replied\n";
}
sleep $hold;
$RT::Handle->Commit;
print "committed\n";
