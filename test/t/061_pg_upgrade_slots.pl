# 061_pg_upgrade_slots.pl: pg_upgrade from PostgreSQL 17 to a newer major
# version, which carries logical slots (README "Backups, failover,
# upgrades", "pg_upgrade").
#
# pg_upgrade migrates a logical slot only when it has consumed all the WAL
# of its database, and refuses otherwise before it changes anything: first
# with a source that is paused while its table is written (the remedy is
# to let the source catch up and stop the server again), then it migrates
# the slot.  Replication origins are not migrated; the worker makes the
# origin again and starts at the migrated slot, which pg_upgrade creates
# in the new cluster's WAL, after everything the old cluster wrote: no
# change is published twice, none is lost, and nothing needs
# resync_source.

use strict;
use warnings;

use Cwd qw(abs_path getcwd);
use File::Path qw(rmtree);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PostgreSQL::Version;
use Test::More;
use PgcdcDrasiTest;

my $old_install = $ENV{PGCDC_OLD17_INSTALL};
if (!defined $old_install || $old_install eq '')
{
	plan skip_all =>
	  'pg_upgrade of logical slots needs PostgreSQL 17 as the old cluster: PGCDC_OLD17_INSTALL is set by test/run.sh on PostgreSQL 18';
}
my $old_version = PostgreSQL::Version->new(`"$old_install/bin/pg_config" --version`);
my $new_version = PostgreSQL::Version->new(`pg_config --version`);
if ($old_version->major < 17 || $old_version->major >= $new_version->major)
{
	plan skip_all =>
	  "pg_upgrade of logical slots needs PostgreSQL 17 or later to upgrade from, and a newer one to upgrade to: PGCDC_OLD17_INSTALL has $old_version, the server under test is $new_version";
}
note("pg_upgrade from $old_version to $new_version");

# Both clusters alike, as in 060_pg_upgrade.pl.
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
my $old = PostgreSQL::Test::Cluster->new('old17', install_path => $old_install);
$old->init;
$old->append_conf('postgresql.conf', $conf);
my $new = PostgreSQL::Test::Cluster->new('new');
$new->init(no_data_checksums => 1);
$new->append_conf('postgresql.conf', $conf);

# ---------------------------------------------------------------------
# The old cluster
# ---------------------------------------------------------------------
$old->start;
$old->safe_psql(
	'postgres', q{
CREATE EXTENSION pgcdc_drasi;
CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, secret text);
CREATE PUBLICATION up_pub FOR TABLE orders;
INSERT INTO orders VALUES (1, 'old', 's1');
SELECT pgcdc_drasi.create_source('up', 'up_pub', enabled => false);
SELECT pgcdc_drasi.set_excluded_columns('up', 'orders', ARRAY['secret']);
SELECT pgcdc_drasi.resume_source('up');
});
catchup($old, 'up', desc => 'old cluster: the initial snapshot is published');
$old->safe_psql(
	'postgres', q{
SELECT pgcdc_drasi.create_consumer('app', 'up');
SELECT pgcdc_drasi.create_consumer('audit', 'up');
INSERT INTO orders VALUES (2, 'new', 's2');
UPDATE orders SET status = 'paid' WHERE id = 1;
});
catchup($old, 'up', desc => 'old cluster: the changes are published');
$old->safe_psql('postgres', q{SELECT pgcdc_drasi.ack('app', 2)});

# A source that has not published everything: pg_upgrade refuses its slot.
$old->safe_psql('postgres', q{SELECT pgcdc_drasi.pause_source('up')});
$old->poll_query_until('postgres',
	q{SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'pgcdc_up'})
  or die 'the paused source keeps its slot active';
$old->safe_psql('postgres', q{INSERT INTO orders VALUES (3, 'while paused', 's3')});
$old->stop;

my @pg_upgrade = (
	$new->config_data('--bindir') . '/pg_upgrade', '--no-sync', '--copy',
	'-d', abs_path($old->data_dir), '-D', abs_path($new->data_dir),
	'-b', $old->config_data('--bindir'), '-B', $new->config_data('--bindir'),
	'-s', $new->host, '-p', $old->port, '-P', $new->port);
my $cwd = getcwd();
my $workdir = PostgreSQL::Test::Utils::tempdir();
chdir $workdir or die "cannot chdir to $workdir: $!";
my ($stdout, $stderr) = ('', '');
my $refused = !IPC::Run::run([ @pg_upgrade, '--check' ], '>', \$stdout, '2>', \$stderr);
ok($refused, 'pg_upgrade --check refuses a slot that has not consumed all the WAL');
like($stdout, qr/logical replication slots that cannot be upgraded/,
	'because of the source\'s slot');
my ($slots_report) = glob(abs_path($new->data_dir) . '/pg_upgrade_output.d/*/invalid_logical_slots.txt');
like(defined $slots_report ? slurp_file($slots_report) : '',
	qr/The slot "pgcdc_up" has not consumed the WAL yet/, 'which it names');
rmtree(abs_path($new->data_dir) . '/pg_upgrade_output.d');
chdir $cwd or die "cannot chdir back to $cwd: $!";

# The remedy: the source catches up, and its slot confirms everything.
$old->start;
$old->safe_psql('postgres', q{SELECT pgcdc_drasi.resume_source('up')});
$old->safe_psql('postgres',
	q{SELECT pgcdc_drasi.wait_for_catchup(source_id) FROM pgcdc_drasi.sources});
ok( $old->poll_query_until(
		'postgres', q{
SELECT bool_and(r.confirmed_flush_lsn >= pg_current_wal_lsn())
  FROM pgcdc_drasi.sources s JOIN pg_replication_slots r USING (slot_name)}),
	'old cluster: every source\'s slot has confirmed the end of WAL');
my @before_upgrade = ([ 'orders', 1, 1, 'i' ], 'orders:2:i', 'orders:1:u', 'orders:3:i');
check_queue($old, 'up', expected_sql(@before_upgrade), 'old cluster');
my $events_query = q{
SELECT seq, lsn, xid, tx_index, op, label, coalesce(element_id, '-'), payload::text
  FROM pgcdc_drasi.events ORDER BY source_id, seq};
my $old_events = $old->safe_psql('postgres', $events_query);
$old->stop;

chdir $workdir or die "cannot chdir to $workdir: $!";
command_ok([ @pg_upgrade, '--check' ], 'pg_upgrade --check accepts the caught-up slot');
command_ok(\@pg_upgrade, 'pg_upgrade');
chdir $cwd or die "cannot chdir back to $cwd: $!";

# ---------------------------------------------------------------------
# The new cluster: the slot came over, the origin did not
# ---------------------------------------------------------------------
$new->start;
is($new->safe_psql('postgres', $events_query), $old_events, 'the queue is kept, event by event');
is( $new->safe_psql(
		'postgres', q{
SELECT r.slot_name, r.plugin, r.confirmed_flush_lsn > (SELECT max(lsn) FROM pgcdc_drasi.events)
  FROM pg_replication_slots r}),
	'pgcdc_up|pgoutput|t',
	'pg_upgrade migrated the slot, starting after every event already in the queue');

# Nothing to do after pg_upgrade: the worker streams from the slot.
wait_streaming($new, 'up', desc => 'the source streams from the migrated slot');
$new->safe_psql(
	'postgres', q{
INSERT INTO orders VALUES (4, 'new', 's4');
DELETE FROM orders WHERE id = 2;
});
catchup($new, 'up', desc => 'new cluster: the changes are published');
my @after_upgrade = ('orders:4:i', 'orders:2:d');
check_queue($new, 'up', expected_sql(@before_upgrade, @after_upgrade), 'after pg_upgrade');
check_invariants($new, 'up', 'after pg_upgrade');
is( $new->safe_psql(
		'postgres', q{
SELECT min(seq), max(seq), count(*), count(*) FILTER (WHERE seq > 1 AND payload->'metadata' ? 'snapshot'),
       count(*) FILTER (WHERE payload->'payload'->'after'->'properties' ? 'secret')
  FROM pgcdc_drasi.events WHERE source_id = 'up'}),
	'1|6|6|0|0',
	'seq goes on without a gap, no snapshot was taken again, the excluded column stays out');
is( $new->safe_psql(
		'postgres', q{
SELECT consumer, acked_seq, lag_events FROM pgcdc_drasi.consumer_status ORDER BY 1}),
	"app|2|4\naudit|0|6", 'the consumers keep their positions');
is( $new->safe_psql(
		'postgres', q{
SELECT o.remote_lsn >= (SELECT max(lsn) FROM pgcdc_drasi.events)
  FROM pg_replication_origin_status o JOIN pg_replication_origin r ON r.roident = o.local_id
 WHERE r.roname = 'pgcdc_drasi_pgcdc_up'}),
	't', 'the worker made the origin again, and it holds the position published');

$new->restart;
wait_streaming($new, 'up', desc => 'the source streams after a restart');
$new->safe_psql('postgres', q{INSERT INTO orders VALUES (5, 'new', 's5')});
catchup($new, 'up', desc => 'new cluster: published after a restart');
check_queue($new, 'up', expected_sql(@before_upgrade, @after_upgrade, 'orders:5:i'),
	'after pg_upgrade and a restart');

$new->stop;
done_testing();
