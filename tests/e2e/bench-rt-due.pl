#!/usr/bin/perl
# bench-rt-due.pl - RT's own SLA due computation next to promptly's, on the
# same tickets (part 4 of bench-rt.sh; printed, never asserted).
#
# Usage: PROMPTLY_RT_DB=... perl -I RT_LIB bench-rt-due.pl PROMPTLY_SO
#
# RT 5 computes an SLA due in RT::SLA->Due (the SLA_Set* scrips call it on
# every ticket change): it looks up the agreement, sets TZ to the level's
# zone, builds a Business::Hours and adds business seconds.  Here RT gets
# %ServiceAgreements with the targets of promptly's shipped corporate
# policy (P1 30m/4h wall clock; P2 1h/8h, P3 4h/24h, P4 24h in business
# hours, Mon-Fri 09:00-17:00, Europe/Berlin), and each ticket of RT's
# database (its Created instant, its level from RT's Priority as
# rt-promptly writes it) gets both dues, Response and Resolve, from RT's
# code and from promptly.so's calendar (promptly_calendar_add, a calendar
# opened once as the module keeps it).  Prints the time per due of each,
# the ratio and on how many dues the two agree.
use strict;
use warnings;
use RT;
use Time::HiRes qw(time);
use FFI::Platypus 2.00;
use FFI::Platypus::Buffer qw(scalar_to_buffer);

my $so = shift or die "usage: $0 PROMPTLY_SO\n";
RT::LoadConfig();
RT::Init();
require RT::SLA;

my $TZ = 'Europe/Berlin';
my %days = map { $_ => { Name => $_, Start => '09:00', End => '17:00' } } 1 .. 5;
$days{$_} = { Name => $_, Start => undef, End => undef } for 0, 6;
RT->Config->Set(ServiceBusinessHours => (Default => \%days));
my %targets = (    # minutes: [response, resolve, wall clock?]
  P1 => [30, 240, 1], P2 => [60, 480, 0], P3 => [240, 1440, 0],
  P4 => [1440, undef, 0],
);
my %levels;
for my $l (keys %targets) {
  my ($resp, $res, $wall) = @{ $targets{$l} };
  my $unit = $wall ? 'RealMinutes' : 'BusinessMinutes';
  $levels{$l} = { Timezone => $TZ, Response => { $unit => $resp },
                  defined $res ? (Resolve => { $unit => $res }) : () };
}
RT->Config->Set(ServiceAgreements => (Default => 'P3', Levels => \%levels));

# The same calendars through promptly.so's ABI.
my $ffi = FFI::Platypus->new(api => 2, lib => [$so]);
my $open = $ffi->function(promptly_calendar_open =>
                          ['opaque', 'uint32', 'opaque*', 'opaque', 'size_t'] => 'int');
my $add = $ffi->function(promptly_calendar_add =>
                         ['opaque', 'sint64', 'sint64', 'sint64*'] => 'int');
my $close = $ffi->function(promptly_calendar_close => ['opaque'] => 'void');
sub calendar {
  my @pairs = @_;
  my (@keep, $arr);
  while (my ($k, $v) = splice(@pairs, 0, 2)) {
    push @keep, "$k\0", "$v\0";
    my ($kp) = scalar_to_buffer($keep[-2]);
    my ($vp) = scalar_to_buffer($keep[-1]);
    $arr .= pack('QQ', $kp, $vp);
  }
  my ($ap) = scalar_to_buffer($arr);
  my $err = "\0" x 256;
  my ($ep) = scalar_to_buffer($err);
  my $cal;
  my $rc = $open->call($ap, scalar(@keep) / 2, \$cal, $ep, 256);
  die "promptly_calendar_open: $rc: " . unpack('Z*', $err) . "\n" if $rc;
  return $cal;
}
my $office = calendar(tz => $TZ, map { ($_ => '09:00-17:00') } qw(mon tue wed thu fri));
my $always = calendar('24x7' => 'yes');

# The tickets: Created and level.
my @t;
my $tickets = RT::Tickets->new(RT->SystemUser);
$tickets->FromSQL('id > 0');
while (my $tk = $tickets->Next) {
  my $p = $tk->Priority // 50;
  my $l = $p >= 100 ? 'P1' : $p >= 75 ? 'P2' : $p >= 50 ? 'P3' : 'P4';
  push @t, [$tk, $tk->CreatedObj->Unix, $l];
}
die "no tickets in RT's database\n" unless @t;

# RT: as its scrips do, one RT::SLA->Due per ticket and type.
my (@rt_due, $n_rt);
my $rounds_rt = 5;
my $t0 = time();
for my $r (1 .. $rounds_rt) {
  @rt_due = ();
  for my $x (@t) {
    for my $type (qw(Response Resolve)) {
      push @rt_due, RT::SLA->Due(Type => $type, Level => $x->[2],
                                 Time => $x->[1], Ticket => $x->[0]);
    }
  }
}
my $rt_s = time() - $t0;
$n_rt = $rounds_rt * 2 * @t;

# promptly: the same dues through the calendar the module keeps open.
my (@pr_due, $due);
my $rounds_pr = 200;
$t0 = time();
for my $r (1 .. $rounds_pr) {
  @pr_due = ();
  for my $x (@t) {
    my ($resp, $res, $wall) = @{ $targets{ $x->[2] } };
    for my $min ($resp, $res) {
      if (!defined $min) { push @pr_due, undef; next }
      my $rc = $add->call($wall ? $always : $office, $x->[1] * 1000, $min * 60,
                          \$due);
      push @pr_due, $rc ? undef : $due / 1000;
    }
  }
}
my $pr_s = time() - $t0;
my $n_pr = $rounds_pr * 2 * @t;

my ($agree, $both, @differ) = (0, 0);
for my $i (0 .. $#rt_due) {
  next unless defined $rt_due[$i] || defined $pr_due[$i];
  $both++;
  if (defined $rt_due[$i] && defined $pr_due[$i] && $rt_due[$i] == $pr_due[$i]) {
    $agree++;
  } elsif (@differ < 3) {
    push @differ, sprintf('ticket %d %s: RT %s, promptly %s', $t[$i / 2][0]->id,
                          $i % 2 ? 'Resolve' : 'Response',
                          map { defined $_ ? scalar gmtime($_) : 'none' }
                          $rt_due[$i], $pr_due[$i]);
  }
}
$close->call($office);
$close->call($always);

my $rt_us = $rt_s / $n_rt * 1e6;
my $pr_us = $pr_s / $n_pr * 1e6;
printf "SLA due on the same %d tickets (Response and Resolve, %s business hours):\n",
  scalar @t, $TZ;
printf "  RT::SLA->Due (Business::Hours):   %10.1f us per due (%d dues)\n", $rt_us, $n_rt;
printf "  promptly_calendar_add (via FFI):  %10.1f us per due (%d dues, FFI call included)\n",
  $pr_us, $n_pr;
printf "  promptly is %.0fx faster; the two agree on %d of %d dues\n",
  $rt_us / $pr_us, $agree, $both;
print "  differ: $_\n" for @differ;
