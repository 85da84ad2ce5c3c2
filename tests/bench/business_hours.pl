#!/usr/bin/perl
# business_hours.pl - the bench_calendar cases through RT's Business::Hours.
#
# Usage: TZ=UTC perl business_hours.pl CALENDARS CASES ANSWERS
#
# CALENDARS has lines "ID day DOW OPEN CLOSE BREAK_OPEN BREAK_CLOSE"
# (DOW 0 = Sunday, times in minutes after midnight, -1 = none) and
# "ID holiday TEXT"; CASES has lines "ID START_EPOCH SECONDS".  ANSWERS gets
# "elapsed SECONDS" (the time spent in add_seconds) and then one due epoch
# per case (-1 where Business::Hours gives up after 30 days).
#
# Business::Hours works in the process's local time, so run it with TZ=UTC
# and UTC calendars.
use strict;
use warnings;
use Business::Hours;
use Time::HiRes qw(time);

@ARGV == 3 or die "usage: $0 CALENDARS CASES ANSWERS\n";
my ($cal_path, $case_path, $out_path) = @ARGV;

sub hhmm { my $m = shift; return sprintf('%02d:%02d', int($m / 60), $m % 60) }

my (%days, %holidays);
open(my $cf, '<', $cal_path) or die "$cal_path: $!\n";
while (my $line = <$cf>) {
    chomp $line;
    my @f = split ' ', $line;
    if ($f[1] eq 'day') {
        my ($id, undef, $dow, $open, $close, $bo, $bc) = @f;
        my %d = (Name => "day$dow", Start => undef, End => undef);
        if ($open >= 0) {
            $d{Start} = hhmm($open);
            $d{End}   = hhmm($close);
            $d{Breaks} = [ { Start => hhmm($bo), End => hhmm($bc) } ]
                if $bo >= 0;
        }
        $days{$id}{$dow} = \%d;
    } elsif ($f[1] eq 'holiday') {
        push @{ $holidays{$f[0]} }, $f[2];
    }
}
close $cf;

my %hours;
for my $id (keys %days) {
    my $h = Business::Hours->new();
    $h->business_hours(%{ $days{$id} });
    $h->holidays(@{ $holidays{$id} || [] });
    $hours{$id} = $h;
}

open(my $in, '<', $case_path) or die "$case_path: $!\n";
my @cases = map { chomp; [ split ' ' ] } <$in>;
close $in;

my @due;
my $t0 = time();
for my $c (@cases) {
    push @due, $hours{ $c->[0] }->add_seconds($c->[1], $c->[2]);
}
my $elapsed = time() - $t0;

open(my $out, '>', $out_path) or die "$out_path: $!\n";
print $out "elapsed $elapsed\n";
print $out "$_\n" for @due;
close $out or die "$out_path: $!\n";
