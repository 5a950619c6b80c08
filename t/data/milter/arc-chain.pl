#!/usr/bin/perl
# arc-chain.pl - as arc-chain.py, each hop sealed by Perl Mail::DKIM's
# ARC signer (Mail::DKIM::ARC::Signer) instead:
#
#   arc-chain.pl KEY IN OUT DOMAIN [DOMAIN...]
#
# Each hop adds its Authentication-Results (authserv-id mx.DOMAIN) and
# seals with selector sel1 at DOMAIN, cv=none at the first, pass after.
use strict;
use warnings;
use Mail::DKIM::ARC::Signer;

my ($key, $in, $out, @hops) = @ARGV;
open(my $fh, '<', $in) or die "arc-chain.pl: $in: $!\n";
my $msg = do { local $/; <$fh> };
close($fh);
$msg =~ s/\r?\n/\r\n/g;
my $n = 0;
for my $dom (@hops) {
	$n++;
	my $srv = "mx.$dom";
	$msg = "Authentication-Results: $srv; spf=pass "
	    . "smtp.mailfrom=example.test; arc="
	    . ($n == 1 ? 'none' : 'pass') . "\r\n" . $msg;
	my $arc = Mail::DKIM::ARC::Signer->new(
		Algorithm => 'rsa-sha256', Domain => $dom, SrvId => $srv,
		Selector => 'sel1', KeyFile => $key,
		Chain => $n == 1 ? 'none' : 'pass',
		Timestamp => 1700000000 + $n,
		Headers => 'from:to:subject:message-id:date');
	$arc->PRINT($msg);
	$arc->CLOSE;
	die "arc-chain.pl: hop $n: " . $arc->result . "\n"
	    unless $arc->result eq 'sealed';
	my $sets = join('', map { "$_\r\n" } $arc->as_strings);
	$msg = $sets . $msg;
}
open($fh, '>', $out) or die "arc-chain.pl: $out: $!\n";
print $fh $msg;
close($fh);
