/**
 * A fork bomb that keeps its forks alive, for the pids-limit tests (perl-base is in every Debian
 * image and on the host). It forks children that stay alive (blocked on a pipe) until the limit
 * refuses a fork or `max` is reached; writes "<children> <errno of the refused fork>" to <dir>/result, waits for
 * <dir>/release, then ends its children and waits for every one of them.
 */
export const FORK_BOMB = `
use strict;
my ($dir, $max) = @ARGV;
pipe(my $r, my $w) or die "pipe: $!";
my ($n, $errno) = (0, 0);
while ($n < $max) {
  my $pid = fork;
  if (!defined $pid) { $errno = $! + 0; last }
  if ($pid == 0) { close $w; open STDOUT, '>', '/dev/null'; open STDERR, '>', '/dev/null'; sysread $r, my $byte, 1; exit 0 }
  $n++;
}
close $r;
open my $out, '>', "$dir/result.tmp" or die "result: $!";
print $out "$n $errno\\n";
close $out;
rename "$dir/result.tmp", "$dir/result" or die "rename: $!";
select undef, undef, undef, 0.02 until -e "$dir/release";
close $w;
1 while wait != -1;
print "started $n, errno $errno\\n";
`;
