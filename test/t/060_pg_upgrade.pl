# 060_pg_upgrade.pl: pg_upgrade from an older major version of PostgreSQL
# with a source defined, following README "Backups, failover, upgrades",
# "pg_upgrade", step by step.
#
# The old cluster (PGCDC_OLD_INSTALL, PostgreSQL 15) has a source with a
# table label, excluded columns and a table key, two consumers (one has
# acknowledged part of the queue), and a queue with the initial snapshot
# and streamed changes.  The procedure: the applications stop writing,
# wait_for_catchup for every source, the old server stops, pg_upgrade
# runs (the servers it starts in binary upgrade mode run no source), the
# new server starts, and the source, which has no slot (pg_upgrade
# carries none from a cluster older than 17), gets a new one with
# resync_source(..., snapshot => false).  Then the applications write
# again.  The queue must hold every change exactly once, in order, with
# seq going on from the old cluster's, without snapshot events after the
# upgrade; the consumers keep their positions, the source its options.
# A restart of the new server afterwards (the origin the worker made)
# loses and repeats nothing either.

use strict;
use warnings;

use Cwd qw(abs_path getcwd);
use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PostgreSQL::Version;
use Test::More;
use PgcdcDrasiTest;

my $old_install = $ENV{PGCDC_OLD_INSTALL};
if (!defined $old_install || $old_install eq '')
{
	plan skip_all =>
	  'pg_upgrade needs an older PostgreSQL: PGCDC_OLD_INSTALL is set by test/run.sh on PostgreSQL 17 and 18';
}

# The versions, before any node exists.
my $old_version = PostgreSQL::Version->new(`"$old_install/bin/pg_config" --version`);
my $new_version = PostgreSQL::Version->new(`pg_config --version`);
if ($old_version->major >= $new_version->major)
{
	plan skip_all =>
	  "pg_upgrade needs an older PostgreSQL: PGCDC_OLD_INSTALL has $old_version, the server under test is $new_version";
}
note("pg_upgrade from $old_version to $new_version");

# Both clusters alike.  No allows_streaming: the PostgreSQL::Test::Cluster
# of the newer version would write settings the older server does not
# know.  PostgreSQL 18's initdb enables data checksums, 15's does not, and
# pg_upgrade needs both clusters alike.  No statements in the logs: the
# servers pg_upgrade runs log there what this test looks for.
my $conf = q{
shared_preload_libraries = 'pgcdc_drasi'
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
max_worker_processes = 16
max_connections = 40
pgcdc_drasi.retry_min_interval = '200ms'
log_statement = none
};
my $old = PostgreSQL::Test::Cluster->new('old', install_path => $old_install);
$old->init;
$old->append_conf('postgresql.conf', $conf);
my $new = PostgreSQL::Test::Cluster->new('new');
$new->init(no_data_checksums => 1);
$new->append_conf('postgresql.conf', $conf);

# ---------------------------------------------------------------------
# The old cluster: a source with options, consumers, a queue
# ---------------------------------------------------------------------
$old->start;
$old->safe_psql(
	'postgres', q{
CREATE EXTENSION pgcdc_drasi;
CREATE ROLE up_admin NOLOGIN;
GRANT pgcdc_drasi_admin TO up_admin;
GRANT USAGE ON SCHEMA pgcdc_drasi TO up_admin;
CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, secret text);
CREATE TABLE items (id int PRIMARY KEY, code text NOT NULL);
ALTER TABLE items REPLICA IDENTITY FULL;
GRANT SELECT ON orders, items TO up_admin;
CREATE PUBLICATION up_pub FOR TABLE orders, items;
INSERT INTO orders VALUES (1, 'old', 's1'), (2, 'old', 's2');
SET ROLE up_admin;
SELECT pgcdc_drasi.create_source('up', 'up_pub', enabled => false);
SELECT pgcdc_drasi.set_table_label('up', 'orders', 'Order');
SELECT pgcdc_drasi.set_excluded_columns('up', 'orders', ARRAY['secret']);
SELECT pgcdc_drasi.set_table_key('up', 'items', ARRAY['code']);
SELECT pgcdc_drasi.resume_source('up');
});
catchup($old, 'up', desc => 'old cluster: the initial snapshot is published');
$old->safe_psql(
	'postgres', q{
SELECT pgcdc_drasi.create_consumer('app', 'up');
SELECT pgcdc_drasi.create_consumer('audit', 'up');
INSERT INTO orders VALUES (3, 'new', 's3');
UPDATE orders SET status = 'paid' WHERE id = 1;
INSERT INTO items VALUES (10, 'A');
DELETE FROM orders WHERE id = 2;
});
catchup($old, 'up', desc => 'old cluster: the changes are published');
$old->safe_psql('postgres', q{SELECT pgcdc_drasi.ack('app', 4)});

my @before_upgrade = (
	[ 'orders', 1, 2, 'i' ],
	'orders:3:i', 'orders:1:u', 'items:A:i', 'orders:2:d');
check_queue($old, 'up', expected_sql(@before_upgrade), 'old cluster');

# ---------------------------------------------------------------------
# The procedure, before pg_upgrade: applications stopped (nothing writes
# here any more), everything published, then the server stops.
# ---------------------------------------------------------------------
$old->safe_psql('postgres',
	q{SELECT pgcdc_drasi.wait_for_catchup(source_id) FROM pgcdc_drasi.sources});

my $events_query = q{
SELECT seq, lsn, xid, tx_index, op, label, coalesce(element_id, '-'), payload::text,
       coalesce(snapshot::text, '-')
  FROM pgcdc_drasi.events ORDER BY source_id, seq};
my $config_query = q{
SELECT source_id, publication, slot_name, origin_name, enabled, sink, channel, bootstrap,
       owner::text FROM pgcdc_drasi.sources;
SELECT source_id, last_seq, snapshot_lsn FROM pgcdc_drasi.source_progress;
SELECT source_id, table_id::regclass, label, exclude_columns, exclude_attnums
  FROM pgcdc_drasi.table_options ORDER BY 2;
SELECT source_id, table_id::regclass, key_columns, key_attnums FROM pgcdc_drasi.table_keys;
SELECT consumer, source_id, acked_seq, owner::text FROM pgcdc_drasi.consumers ORDER BY 1};
my $old_events = $old->safe_psql('postgres', $events_query);
my $old_config = $old->safe_psql('postgres', $config_query);
my $old_last_seq = $old->safe_psql('postgres',
	q{SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'up'});
is($old_last_seq, '6', 'old cluster: last_seq 6');
$old->stop;

# ---------------------------------------------------------------------
# pg_upgrade, run from a directory of its own (it writes scripts there)
# ---------------------------------------------------------------------
my @pg_upgrade = (
	$new->config_data('--bindir') . '/pg_upgrade', '--no-sync', '--copy',
	'-d', abs_path($old->data_dir), '-D', abs_path($new->data_dir),
	'-b', $old->config_data('--bindir'), '-B', $new->config_data('--bindir'),
	'-s', $new->host, '-p', $old->port, '-P', $new->port);
my $cwd = getcwd();
my $workdir = PostgreSQL::Test::Utils::tempdir();
chdir $workdir or die "cannot chdir to $workdir: $!";
command_ok([ @pg_upgrade, '--check' ], 'pg_upgrade --check accepts the clusters');
command_ok([ @pg_upgrade, '--retain' ], 'pg_upgrade');
chdir $cwd or die "cannot chdir back to $cwd: $!";

# Both servers pg_upgrade started (old and new, in binary upgrade mode)
# preloaded the library, and neither ran a source.
my $server_log = '';
find(
	sub {
		$server_log .= slurp_file($File::Find::name)
		  if $_ eq 'pg_upgrade_server.log';
	},
	$new->data_dir . '/pg_upgrade_output.d');
like(
	$server_log,
	qr/pgcdc_drasi starts no sources in binary upgrade mode(?s:.*)pgcdc_drasi starts no sources in binary upgrade mode/,
	'the servers pg_upgrade ran preloaded pgcdc_drasi, in binary upgrade mode');
unlike($server_log, qr/source "up"/, 'and ran no source');

# ---------------------------------------------------------------------
# The new cluster
# ---------------------------------------------------------------------
$new->start;

is($new->safe_psql('postgres', $config_query),
	$old_config, 'sources, progress, table options, table keys and consumers are kept');
is($new->safe_psql('postgres', $events_query), $old_events, 'the queue is kept, event by event');
is($new->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots}),
	'0', 'pg_upgrade carried no slot from the older cluster');
ok( $new->poll_query_until(
		'postgres', q{
SELECT last_error LIKE '%replication slot "pgcdc_up" of source "up" does not exist%'
  FROM pgcdc_drasi.status WHERE source_id = 'up'}),
	'without a slot the source cannot stream');
is($new->safe_psql('postgres', q{SELECT count(*) FROM pgcdc_drasi.events}),
	'6', 'nor did it write anything');

# The extension's event triggers came over with it.
my ($ret, $stdout, $stderr) = $new->psql('postgres', 'DROP EXTENSION pgcdc_drasi');
like(
	$stderr,
	qr/cannot drop extension pgcdc_drasi while pgcdc_drasi sources exist/,
	'DROP EXTENSION is still refused while sources exist');
($ret, $stdout, $stderr) = $new->psql('postgres', 'DROP PUBLICATION up_pub');
like($stderr, qr/publication "up_pub" is used by pgcdc_drasi source "up"/,
	'the publication guard still refuses to drop the source\'s publication');

# The procedure, after pg_upgrade: a new slot for each source, no
# snapshot, before the applications write again (the statement of the
# README).
$new->safe_psql(
	'postgres', q{
SELECT format('SELECT pgcdc_drasi.resync_source(%L, snapshot => false)', source_id)
FROM pgcdc_drasi.sources \gexec
});
wait_streaming($new, 'up', desc => 'the source streams from its new slot');
is( $new->safe_psql(
		'postgres', q{
SELECT p.slot_lsn <= r.confirmed_flush_lsn
  FROM pgcdc_drasi.source_progress p JOIN pg_replication_slots r ON r.slot_name = 'pgcdc_up'}),
	't', 'the new slot is recorded as the source\'s own');

# The applications write again.
$new->safe_psql(
	'postgres', q{
INSERT INTO orders VALUES (4, 'new', 's4');
UPDATE items SET code = 'B' WHERE id = 10;
DELETE FROM orders WHERE id = 3;
});
catchup($new, 'up', desc => 'new cluster: the changes are published');

my @after_upgrade = ('orders:4:i', 'items:A:d', 'items:B:i', 'orders:3:d');
check_queue($new, 'up', expected_sql(@before_upgrade, @after_upgrade), 'after pg_upgrade');
check_invariants($new, 'up', 'after pg_upgrade');
is( $new->safe_psql(
		'postgres', q{
SELECT min(seq), max(seq), count(*), count(*) FILTER (WHERE seq > 6 AND payload->'metadata' ? 'snapshot')
  FROM pgcdc_drasi.events WHERE source_id = 'up'}),
	'1|10|10|0',
	'seq goes on from the old cluster\'s without a gap, and no snapshot was taken again');
is( $new->safe_psql(
		'postgres', q{
SELECT seq, label, element_id, payload->'payload'->'after'->'properties'
  FROM pgcdc_drasi.events WHERE seq IN (7, 9) ORDER BY seq}),
	qq(7|Order|orders:4|{"id": 4, "status": "new"}\n9|items|items:B|{"id": 10, "code": "B"}),
	'the label, the excluded column and the table key still apply');
is( $new->safe_psql(
		'postgres', q{
SELECT c.consumer, c.acked_seq, c.lag_events, (SELECT string_agg(seq::text, ',' ORDER BY seq)
                                                  FROM pgcdc_drasi.read(c.consumer, 100))
  FROM pgcdc_drasi.consumer_status c ORDER BY 1}),
	"app|4|6|5,6,7,8,9,10\naudit|0|10|1,2,3,4,5,6,7,8,9,10",
	'the consumers keep their positions and read on from them');
is( $new->safe_psql(
		'postgres', q{
SELECT o.remote_lsn >= (SELECT max(lsn) FROM pgcdc_drasi.events)
  FROM pg_replication_origin_status o JOIN pg_replication_origin r ON r.roident = o.local_id
 WHERE r.roname = 'pgcdc_drasi_pgcdc_up'}),
	't', 'the worker made the origin again, and it holds the position published');

# A restart of the new server: the worker goes on from its origin.
$new->restart;
wait_streaming($new, 'up', desc => 'the source streams after a restart');
$new->safe_psql('postgres', q{INSERT INTO orders VALUES (5, 'new', 's5')});
catchup($new, 'up', desc => 'new cluster: published after a restart');
check_queue($new, 'up', expected_sql(@before_upgrade, @after_upgrade, 'orders:5:i'),
	'after pg_upgrade and a restart');
check_invariants($new, 'up', 'after pg_upgrade and a restart');

$new->stop;
done_testing();
