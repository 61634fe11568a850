# A paused source whose slot PostgreSQL invalidates: the status says so
# (slot_wal_status, slot_invalidation_reason), the worker reports the error
# instead of streaming, and resync_source brings the source back.
#
# (a) every version: the slot loses its WAL (max_slot_wal_keep_size);
# (b) PostgreSQL 18: the slot stays idle longer than
#     idle_replication_slot_timeout.  On older versions the setting does not
#     exist, and the test checks that.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use PgcdcDrasiTest;

my $node = cdc_node('slots', extra_conf => "max_slot_wal_keep_size = '1MB'\n");
my $v18 = $node->pg_version >= 18;

$node->safe_psql(
	'postgres', q{
CREATE TABLE t (id int PRIMARY KEY, v text);
CREATE PUBLICATION pub FOR TABLE t;
INSERT INTO t VALUES (1, 'before');
});
create_source($node, 's', 'pub');
wait_streaming($node, 's');
$node->safe_psql('postgres', "INSERT INTO t VALUES (2, 'streamed')");
catchup($node, 's');

is( $node->safe_psql(
		'postgres',
		"SELECT slot_wal_status, coalesce(slot_invalidation_reason, '-') FROM pgcdc_drasi.status"),
	'reserved|-',
	'a streaming source: slot reserved, not invalidated');

# Invalidate the slot of the paused source; return the status row.
sub invalidate
{
	my ($how) = @_;
	$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_source('s')");
	$node->poll_query_until('postgres',
		"SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'pgcdc_s'")
	  or die 'the slot stayed active';
	$node->safe_psql('postgres', "INSERT INTO t VALUES (3, 'while paused')")
	  if $how eq 'wal';
	if ($how eq 'wal')
	{
		# Three segments further, the slot's WAL is more than 1MB behind.
		for (1 .. 3)
		{
			$node->safe_psql('postgres',
				"INSERT INTO t SELECT g, 'filler' FROM generate_series(1000, 1010) g ON CONFLICT DO NOTHING; SELECT pg_switch_wal()"
			);
		}
	}
	else
	{
		sleep 2;    # longer than idle_replication_slot_timeout = 1s
	}
	$node->safe_psql('postgres', 'CHECKPOINT');
	return $node->safe_psql('postgres',
		"SELECT state, slot_wal_status, slot_invalidation_reason FROM pgcdc_drasi.status"
	);
}

# Rows of t below 1000 (the fillers are left out of the checks).
my @ids = (1, 2, 3);

# Resume the source and resync it; the queue then ends with the clearing
# event and the snapshot of every row.
sub recover
{
	my ($label, $reason) = @_;
	$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_source('s')");
	$node->poll_query_until('postgres',
		"SELECT last_error IS NOT NULL FROM pgcdc_drasi.status");
	is( $node->safe_psql(
			'postgres',
			"SELECT concat_ws(E'\\n', last_error, last_error_detail, last_error_hint) FROM pgcdc_drasi.status"
		),
		qq{replication slot "pgcdc_s" of source "s" was invalidated
Invalidation reason: $reason.
Call pgcdc_drasi.resync_source('s') to replace the slot and take a new snapshot of every table.},
		"$label: the resumed worker reports the invalidated slot and the way out");
	# The launcher starts the worker again after its backoff, so the state
	# goes error, starting, error...: wait for error rather than read it once.
	ok( $node->poll_query_until(
			'postgres', "SELECT state = 'error' FROM pgcdc_drasi.status"),
		"$label: the source is in error, not streaming");
	is($node->safe_psql('postgres', "SELECT count(*) FROM pgcdc_drasi.status WHERE state = 'streaming'"),
		'0', "$label: the source does not stream with an invalidated slot");

	my $before = $node->safe_psql('postgres',
		"SELECT coalesce(max(seq), 0) FROM pgcdc_drasi.events WHERE source_id = 's'");
	my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
	$node->safe_psql('postgres', "SELECT pgcdc_drasi.resync_source('s')");
	ok( $node->poll_query_until(
			'postgres', qq{
SELECT count(*) = $rows + 1 FROM pgcdc_drasi.events
 WHERE source_id = 's' AND seq > $before AND payload->'metadata'->>'snapshot' = 'true'}),
		"$label: resync_source takes the re-snapshot");
	wait_streaming($node, 's');
	my $id = 100 + $before;
	$node->safe_psql('postgres', "INSERT INTO t VALUES ($id, 'after resync')");
	catchup($node, 's');
	is( $node->safe_psql(
			'postgres',
			"SELECT slot_wal_status, coalesce(slot_invalidation_reason, '-') FROM pgcdc_drasi.status"
		),
		'reserved|-',
		"$label: after resync_source a new slot, not invalidated");
	my $expected = join(',',
		':t:true',
		(map { "t:$_:i:true" } @ids),
		"t:$id:i:stream");
	is( $node->safe_psql(
			'postgres', qq{
SELECT string_agg(coalesce(element_id, '') || ':' || op || ':'
                  || coalesce(payload->'metadata'->>'snapshot', 'stream'), ',' ORDER BY seq)
  FROM pgcdc_drasi.events
 WHERE source_id = 's' AND seq > $before
   AND coalesce(substring(element_id from ':(\\d+)\$')::int, 0) < 1000}),
		$expected,
		"$label: a clearing event, the snapshot of the rows, then the stream");
	push @ids, $id;
	return;
}

is(invalidate('wal'), 'paused|lost|wal_removed',
	'(a) a paused slot that lost its WAL: lost, wal_removed');
recover('(a)', 'wal_removed');

if ($v18)
{
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET idle_replication_slot_timeout = '1s'; SELECT pg_reload_conf()");
	is(invalidate('idle'), 'paused|lost|idle_timeout',
		'(b) a paused slot idle for longer than idle_replication_slot_timeout: lost, idle_timeout');
	$node->safe_psql('postgres',
		"ALTER SYSTEM RESET idle_replication_slot_timeout; SELECT pg_reload_conf()");
	recover('(b)', 'idle_timeout');
}
else
{
	my ($ret, $out, $err) =
	  $node->psql('postgres', 'SHOW idle_replication_slot_timeout');
	like(
		$err,
		qr/unrecognized configuration parameter "idle_replication_slot_timeout"/,
		'(b) before PostgreSQL 18 there is no idle_replication_slot_timeout');
}

done_testing();
