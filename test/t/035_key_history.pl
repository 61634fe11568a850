# 035_key_history.pl: changes written before the table, its key or its
# excluded columns changed are mapped with what their own Relation message
# can express, never by today's column names alone.
#
# While the sources are paused (so the changes wait in the WAL), one source
# per case, so that each case shows on its own:
# - ren: the primary key column is renamed (id -> uid);
# - pkc: a row is deleted, then the primary key is dropped and another one
#   added (a -> b);
# - sk:  a column is added and set_table_key chooses it;
# - sec: the excluded column is renamed twice (password_hash -> pw -> pw2).
# After resume_source each source must stream on, not stop at the first
# change; ren, pkc and sk fall back to a key the message has (a WARNING
# each, one change each counted in key_fallbacks); sec never publishes the
# hash: under its recorded name and under its current name it is excluded,
# and under the name in between (which the table no longer knows) it is
# withheld, with a WARNING.  Changes written after the DDL use the new key.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;

my $node = cdc_node('key_history', extra_conf => "log_line_prefix = '%m [%p] %q%a '");
my @cases = qw(ren pkc sk sec);

$node->safe_psql(
	'postgres', q{
CREATE TABLE ren (id int PRIMARY KEY, v text);
CREATE TABLE pkc (a int NOT NULL, b int NOT NULL, CONSTRAINT pkc_pkey PRIMARY KEY (a));
CREATE TABLE sk (id int PRIMARY KEY, code int NOT NULL);
ALTER TABLE sk REPLICA IDENTITY FULL;
CREATE TABLE sec (id int PRIMARY KEY, name text, password_hash text);
});
for my $t (@cases)
{
	$node->safe_psql('postgres', "CREATE PUBLICATION p_$t FOR TABLE $t");
	create_source($node, "h_$t", "p_$t");
}
$node->safe_psql('postgres',
	"SELECT pgcdc_drasi.set_excluded_columns('h_sec', 'sec', ARRAY['password_hash'])");
wait_streaming($node, "h_$_") for @cases;

$node->safe_psql('postgres', 'INSERT INTO pkc VALUES (1, 10)');
catchup($node, 'h_pkc');

$node->safe_psql('postgres', "SELECT pgcdc_drasi.pause_source('h_$_')") for @cases;
ok( $node->poll_query_until(
		'postgres', q{
SELECT bool_and(s.state = 'paused' AND NOT r.active)
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi source')
  FROM pgcdc_drasi.status s JOIN pg_replication_slots r USING (slot_name)}),
	'sources paused');

my $log_offset = -s $node->logfile;

# The backlog, then the DDL that makes today's catalog disagree with it.
$node->safe_psql(
	'postgres', q{
INSERT INTO ren VALUES (1, 'a');
ALTER TABLE ren RENAME COLUMN id TO uid;
DELETE FROM pkc;
ALTER TABLE pkc DROP CONSTRAINT pkc_pkey, ADD PRIMARY KEY (b);
INSERT INTO sk VALUES (1, 5);
ALTER TABLE sk ADD COLUMN tag text NOT NULL DEFAULT 'x';
SELECT pgcdc_drasi.set_table_key('h_sk', 'sk', ARRAY['tag']);
INSERT INTO sec VALUES (1, 'a', 'h1');
ALTER TABLE sec RENAME COLUMN password_hash TO pw;
INSERT INTO sec VALUES (2, 'b', 'h2');
ALTER TABLE sec RENAME COLUMN pw TO pw2;
});
is( $node->safe_psql(
		'postgres', q{
SELECT (SELECT key_columns::text || ' ' || key_attnums::text FROM pgcdc_drasi.table_keys)
       || ' ' ||
       (SELECT exclude_columns::text || ' ' || exclude_attnums::text FROM pgcdc_drasi.table_options)}
	),
	'{tag} {3} {password_hash} {3}',
	'key and excluded columns are recorded with their attnums');

$node->safe_psql('postgres', "SELECT pgcdc_drasi.resume_source('h_$_')") for @cases;
$node->safe_psql(
	'postgres', q{
INSERT INTO ren VALUES (2, 'b');
INSERT INTO pkc VALUES (2, 20);
INSERT INTO sk VALUES (2, 6, 't2');
INSERT INTO sec VALUES (3, 'c', 'h3');
});
catchup($node, "h_$_", timeout => '120s',
	desc => "h_$_: the backlog is published, the source did not stop")
  for @cases;

my %expected = (
	ren => q{i ren:1 {"v": "a", "id": 1}
i ren:2 {"v": "b", "uid": 2}},
	pkc => q{i pkc:1 {"a": 1, "b": 10}
d pkc:1 {"a": 1}
i pkc:20 {"a": 2, "b": 20}},
	sk => q{i sk:1 {"id": 1, "code": 5}
i sk:t2 {"id": 2, "tag": "t2", "code": 6}},
	sec => q{i sec:1 {"id": 1, "name": "a"}
i sec:2 {"id": 2, "name": "b"}
i sec:3 {"id": 3, "name": "c"}});
my %fallbacks = (ren => 1, pkc => 1, sk => 1, sec => 0);
for my $t (@cases)
{
	is( $node->safe_psql(
			'postgres', qq{
SELECT string_agg(format('%s %s %s', op, element_id,
                         coalesce(payload -> 'payload' -> 'after', payload -> 'payload' -> 'before')
                           -> 'properties'), E'\\n' ORDER BY seq)
  FROM pgcdc_drasi.events WHERE source_id = 'h_$t'}),
		$expected{$t},
		"$t: events of the backlog use the keys of their own Relation messages");
	is( $node->safe_psql('postgres',
			"SELECT state || ' ' || coalesce(last_error, '-') || ' ' || key_fallbacks FROM pgcdc_drasi.status WHERE source_id = 'h_$t'"
		),
		"streaming - $fallbacks{$t}",
		"$t: status streaming, no error, $fallbacks{$t} change(s) mapped with a fallback key");
}

my $log = slurp_file($node->logfile, $log_offset);
like(
	$log,
	qr/WARNING:  changes of table "public\.ren" are mapped with the replica identity columns id/,
	'WARNING for the renamed primary key column');
like(
	$log,
	qr/WARNING:  changes of table "public\.pkc" are mapped with the replica identity columns a/,
	'WARNING for the replaced primary key');
like(
	$log,
	qr/WARNING:  changes of table "public\.sk" are mapped with the primary key id/,
	'WARNING for the key column the backlog does not have');
like(
	$log,
	qr/WARNING:  columns pw of table "public\.sec" are left out of the properties/,
	'WARNING for the withheld column');
unlike($log, qr/ERROR/, 'no error in the log');

$node->stop;
done_testing();
