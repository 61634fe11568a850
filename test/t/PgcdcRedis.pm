# test/t/PgcdcRedis.pm: a redis-server of a test's own (Debian's package),
# on a free local port, with the durability the README asks for (AOF,
# appendfsync always), for the tests of Redis targets and the redis sink.

=pod

=head1 NAME

PgcdcRedis - a throwaway redis-server for the pgcdc_drasi Perl TAP tests

=head1 SYNOPSIS

  use PgcdcRedis;

  redis_start();                     # BAIL_OUT if it does not answer
  my $url = 'redis://127.0.0.1:' . redis_port() . '/0';
  rcli('XLEN', 'stream');            # redis-cli --raw, output chomped
  redis_shutdown();                  # SHUTDOWN (AOF kept), then start again
  redis_kill9();                     # a crash

It is shut down when the test exits.

=cut

package PgcdcRedis;

use strict;
use warnings;

use Exporter 'import';
use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(rcli redis_port redis_dir redis_pid redis_start redis_shutdown redis_kill9);

# absolute: redis-server changes to --dir before it opens its other files
my $rdir;
my $rport;

sub redis_port { return $rport; }
sub redis_dir  { return $rdir; }

# redis-cli against our server; its output, chomped.
sub rcli
{
	my @args = @_;
	my ($out, $err) = run_command([ 'redis-cli', '-h', '127.0.0.1', '-p', $rport, '--raw', @args ]);
	chomp $out;
	return $out;
}

# The server's pid, undef when it is not running.
sub redis_pid
{
	return undef unless defined $rdir;
	open(my $fh, '<', "$rdir/redis.pid") or return undef;
	my $pid = <$fh>;
	close $fh;
	chomp $pid if defined $pid;
	return $pid;
}

# Start the server (the first call chooses its port and directory).
sub redis_start
{
	$rdir //= File::Spec->rel2abs(PostgreSQL::Test::Utils::tempdir());
	$rport //= PostgreSQL::Test::Cluster::get_free_port();
	system_or_bail(
		'redis-server', '--port', $rport, '--bind', '127.0.0.1',
		'--dir', $rdir, '--appendonly', 'yes', '--appendfsync', 'always',
		'--save', '', '--daemonize', 'yes', '--pidfile', "$rdir/redis.pid",
		'--logfile', "$rdir/redis.log");
	for (my $i = 0; $i < 300; $i++)
	{
		return if rcli('PING') eq 'PONG';
		usleep(100_000);
	}
	BAIL_OUT("redis-server did not start on port $rport");
}

# Wait until the Redis process is gone.
sub redis_wait_gone
{
	my ($pid) = @_;
	for (my $i = 0; $i < 300; $i++)
	{
		return if !kill(0, $pid);
		usleep(100_000);
	}
	BAIL_OUT("redis-server $pid did not stop");
}

# A clean shutdown (Redis writes its AOF).
sub redis_shutdown
{
	my $pid = redis_pid();
	rcli('SHUTDOWN');
	redis_wait_gone($pid);
}

# A crash.
sub redis_kill9
{
	my $pid = redis_pid();
	kill('KILL', $pid);
	redis_wait_gone($pid);
	unlink("$rdir/redis.pid");
}

END
{
	my $pid = redis_pid();
	redis_shutdown() if defined $rport && defined $pid && kill(0, $pid);
}

1;
