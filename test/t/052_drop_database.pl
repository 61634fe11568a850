# 052_drop_database.pl: DROP DATABASE of a database whose source is in
# backoff frees the source's shared entry and its replication origin, and
# the launcher stops starting workers for it.
#
# The source of database d2 fails (its publication is dropped), so its
# worker is mostly not running, waiting for its next start; the database
# is then dropped (WITH (FORCE), in case the worker is running just then).
# No scanner ever runs in d2 again.  Expected:
#   - the log says the source is forgotten and its origin dropped;
#   - pg_replication_origin no longer has the origin pgcdc_drasi_<slot>;
#   - no worker tries to connect to the dropped database afterwards (no
#     FATAL "database ... does not exist" for 3 s, while the retry interval
#     is 200 ms);
#   - the source of database postgres still streams.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use PgcdcDrasiTest;

my $node = cdc_node('drop_database');
$node->safe_psql('postgres', q{
CREATE TABLE t (id int PRIMARY KEY);
CREATE PUBLICATION p FOR TABLE t;
CREATE DATABASE d2;
});
create_source($node, 'main', 'p');
$node->safe_psql('d2', q{
CREATE EXTENSION pgcdc_drasi;
CREATE TABLE t (id int PRIMARY KEY);
CREATE PUBLICATION p2 FOR TABLE t;
SELECT pgcdc_drasi.create_source('doomed', publication => 'p2', bootstrap => false);
});
my $dboid = $node->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'd2'});

my $ok = 0;
for (1 .. 200)
{
	if ($node->safe_psql('d2', q{SELECT state FROM pgcdc_drasi.status WHERE source_id = 'doomed'}) eq 'streaming')
	{
		$ok = 1;
		last;
	}
	usleep(100_000);
}
ok($ok, 'the source of d2 streams');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_origin WHERE roname = 'pgcdc_drasi_pgcdc_doomed'}),
	1, 'its replication origin exists');

# Make it fail: drop its slot from under it (terminating the worker and
# its walsender, retrying while the restarted worker holds the slot); it
# then fails at every start on the missing slot.
$node->safe_psql(
	'd2', q{
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE application_name = 'pgcdc_drasi:doomed' OR pid = (SELECT pid FROM pgcdc_drasi.status WHERE source_id = 'doomed');
DO $$
DECLARE
	deadline timestamptz := clock_timestamp() + interval '60s';
BEGIN
	LOOP
		BEGIN
			PERFORM pg_drop_replication_slot('pgcdc_doomed');
			EXIT;
		EXCEPTION WHEN object_in_use THEN
			IF clock_timestamp() > deadline THEN
				RAISE;
			END IF;
			PERFORM pg_sleep(0.005);
		END;
	END LOOP;
END
$$;});
$ok = 0;
for (1 .. 300)
{
	if ($node->safe_psql('d2', q{SELECT last_error IS NOT NULL FROM pgcdc_drasi.status WHERE source_id = 'doomed'}) eq 't')
	{
		$ok = 1;
		last;
	}
	usleep(100_000);
}
ok($ok, 'the source of d2 fails and backs off');

my $offset = -s $node->logfile;
$node->safe_psql('postgres', 'DROP DATABASE d2 WITH (FORCE)');

$ok = 0;
for (1 .. 300)
{
	if ($node->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_origin WHERE roname = 'pgcdc_drasi_pgcdc_doomed'}) eq '0')
	{
		$ok = 1;
		last;
	}
	usleep(100_000);
}
ok($ok, 'the replication origin of the dropped database is dropped');
ok($node->log_contains(qr/pgcdc_drasi source "doomed" is forgotten: its database $dboid was dropped/, $offset),
	'the log says the source is forgotten');

# No more starts for the dropped database.
my $offset2 = -s $node->logfile;
sleep 3;
my $log = slurp_file($node->logfile, $offset2);
my $fatals = () = $log =~ /FATAL:  database $dboid does not exist/g;
is($fatals, 0, 'no worker tries to connect to the dropped database afterwards');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi source'}),
	1, 'only the source of database postgres has a worker');

$node->safe_psql('postgres', 'INSERT INTO t VALUES (42)');
catchup($node, 'main');
is($node->safe_psql('postgres', q{SELECT element_id FROM pgcdc_drasi.events WHERE source_id = 'main'}),
	't:42', 'the source of database postgres still streams');

$node->stop;
done_testing();
