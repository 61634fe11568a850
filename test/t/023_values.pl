# 023_values.pl: values that cannot be published as they are never stop a
# source; each is published in a documented degraded form and counted in
# status.values_unavailable.
#
#   1. json that jsonb rejects (a lone surrogate, a high surrogate followed
#      by another, an exponent numeric cannot read), in the initial
#      snapshot, in the stream and in bootstrap(), also inside a json[]:
#      published as a JSON string of its text; surrogate pairs, escaped
#      backslashes and large exponents numeric can read stay JSON
#   2. the same in a LATIN1 database: an escape LATIN1 cannot hold
#   3. a 300 MB text value: the marker {"bytes": N, "unavailable":
#      "too_large"}; two 100 MB values of one row: the first fits the
#      event, the second is the marker; an int[] whose text fits what is
#      left but whose jsonb form does not is the marker too
#   4. an element id over 8 kB with the NOTIFY sink: the reference payload
#      leaves the id out and stays under the limit; set_table_label refuses
#      a label over the limit

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgcdcDrasiTest;

my $node = cdc_node('values');

# Explicit encodings, whatever initdb chose.
$node->safe_psql('postgres',
	q{CREATE DATABASE utf ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});
$node->safe_psql('postgres',
	q{CREATE DATABASE latin ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});

# Wait for a source's queue to hold every change committed so far.
sub catchup_db
{
	my ($db, $source, $desc) = @_;
	my ($ret, $out, $err) = $node->psql($db,
		"SELECT pgcdc_drasi.wait_for_catchup(" . q_lit($source) . ", '90s')");
	ok($ret == 0, $desc) or diag("$err\n"
		  . $node->safe_psql($db, 'SELECT * FROM pgcdc_drasi.status', extra_params => ['-x']));
	return;
}

# Wait until a source of database $db streams.
sub streaming_db
{
	my ($db, $source) = @_;
	ok( $node->poll_query_until(
			$db,
			"SELECT state = 'streaming' FROM pgcdc_drasi.status WHERE source_id = "
			  . q_lit($source)),
		"source $source streaming");
	return;
}

sub values_unavailable
{
	my ($db, $source) = @_;
	return $node->safe_psql($db,
		'SELECT values_unavailable FROM pgcdc_drasi.status WHERE source_id = ' . q_lit($source));
}

# ------------------------------------------------------------------------
# 1. json that jsonb rejects, UTF8 database
# ------------------------------------------------------------------------
$node->safe_psql(
	'utf', q{
CREATE EXTENSION pgcdc_drasi;
CREATE TABLE j (id int PRIMARY KEY, doc json, docs json[]);
CREATE PUBLICATION jpub FOR TABLE j;
INSERT INTO j VALUES (1, '{"k":"\ud83d"}', NULL);
SELECT pgcdc_drasi.create_source('utf-src', 'jpub');
});
catchup_db('utf', 'utf-src', 'initial snapshot of a json value jsonb rejects completes');
$node->safe_psql(
	'utf', q{
INSERT INTO j VALUES (2, '"\ud83d"', ARRAY['{"a":"\udc00"}', '{"b":1}']::json[]);
INSERT INTO j VALUES (3, '{"n":1e1000000}', NULL);
INSERT INTO j VALUES (4, '{"ok":"\u00e9\ud83d\ude00", "n":1e3}', NULL);
INSERT INTO j VALUES (5, '{"x":"\ud83d\ud83d", "y":"\u0041"}', NULL);
INSERT INTO j VALUES (6, '[1e-5, "\\\\ud83d", "\u0041", 1e1001]', NULL);
UPDATE j SET doc = '[1, "\ud800x"]' WHERE id = 1;
});
catchup_db('utf', 'utf-src', 'stream of json values jsonb rejects goes on');
is( $node->safe_psql(
		'utf', q{
SELECT string_agg(op || ' ' || element_id || ' ' || (payload->'payload'->'after'->'properties')::text, E'\n' ORDER BY seq)
  FROM pgcdc_drasi.events WHERE source_id = 'utf-src'}),
	q|i j:1 {"id": 1, "doc": "{\"k\":\"\\\\ud83d\"}", "docs": null}
i j:2 {"id": 2, "doc": "\"\\\\ud83d\"", "docs": ["{\"a\":\"\\\\udc00\"}", {"b": 1}]}
i j:3 {"id": 3, "doc": "{\"n\":1e1000000}", "docs": null}
i j:4 {"id": 4, "doc": {"n": 1000, "ok": "|
	  . "\xc3\xa9\xf0\x9f\x98\x80"
	  . q|"}, "docs": null}
i j:5 {"id": 5, "doc": "{\"x\":\"\\\\ud83d\\\\ud83d\", \"y\":\"\\\\u0041\"}", "docs": null}
i j:6 {"id": 6, "doc": [0.00001, "\\\\ud83d", "A", 1| . ('0' x 1001) . q|], "docs": null}
u j:1 {"id": 1, "doc": "[1, \"\\\\ud800x\"]", "docs": null}|,
	'json values jsonb rejects are strings of their text; others are JSON');
is(values_unavailable('utf', 'utf-src'), '6',
	'values_unavailable counts the six json values published as strings');
# psql, not safe_psql: without the fix bootstrap() fails, and the parts
# below must still run.
my $bootstrap = '';
$node->psql(
	'utf', q{
SELECT string_agg((e->>'id') || '=' || jsonb_typeof(e->'properties'->'doc') || ':' || (e->'properties'->>'doc'), ' ' ORDER BY e->>'id')
  FROM pgcdc_drasi.bootstrap('utf-src') e},
	stdout => \$bootstrap);
is( $bootstrap,
	q|j:1=string:[1, "\ud800x"] j:2=string:"\ud83d" j:3=string:{"n":1e1000000} j:4=object:{"n": 1000, "ok": "|
	  . "\xc3\xa9\xf0\x9f\x98\x80"
	  . q|"} j:5=string:{"x":"\ud83d\ud83d", "y":"\u0041"} j:6=array:[0.00001, "\\\\ud83d", "A", 1|
	  . ('0' x 1001) . ']',
	'bootstrap() elements: the same strings');
is(values_unavailable('utf', 'utf-src'), '6', 'bootstrap() counts nothing in the status');

# ------------------------------------------------------------------------
# 2. LATIN1 database: an escape the encoding cannot hold
# ------------------------------------------------------------------------
$node->safe_psql(
	'latin', q{
CREATE EXTENSION pgcdc_drasi;
CREATE TABLE j (id int PRIMARY KEY, doc json);
CREATE PUBLICATION jpub FOR TABLE j;
SELECT pgcdc_drasi.create_source('latin-src', 'jpub', bootstrap => false);
});
streaming_db('latin', 'latin-src');
$node->safe_psql(
	'latin', q{
INSERT INTO j VALUES (1, '{"k":"\u4e2d"}');
INSERT INTO j VALUES (2, '{"k":"\u00e9"}');
});
catchup_db('latin', 'latin-src', 'LATIN1 stream of an escape LATIN1 cannot hold goes on');
is( $node->safe_psql(
		'latin', q{
SELECT string_agg(element_id || ' ' || (payload->'payload'->'after'->'properties'->'doc')::text, E'\n' ORDER BY seq)
  FROM pgcdc_drasi.events WHERE source_id = 'latin-src'}),
	qq{j:1 "{\\"k\\":\\"\\\\u4e2d\\"}"\nj:2 {"k": "\xe9"}},
	'LATIN1: \u4e2d is a string of its text, \u00e9 JSON');
is(values_unavailable('latin', 'latin-src'), '1', 'LATIN1: one value counted');

# ------------------------------------------------------------------------
# 3. Values too large for an event
# ------------------------------------------------------------------------
$node->safe_psql(
	'utf', q{
CREATE TABLE big (id int PRIMARY KEY, t text, note text, arr int[]);
CREATE PUBLICATION bpub FOR TABLE big;
SELECT pgcdc_drasi.create_source('big-src', 'bpub', bootstrap => false);
});
streaming_db('utf', 'big-src');
$node->safe_psql('utf',
	q{INSERT INTO big VALUES (1, repeat('x', 300 * 1024 * 1024), 'small')});
$node->safe_psql('utf',
	q{INSERT INTO big VALUES (2, repeat('y', 100 * 1024 * 1024), repeat('z', 100 * 1024 * 1024))});
$node->safe_psql('utf', q{INSERT INTO big VALUES (3, 'after', NULL)});
# The array's text (6 MB) fits what the 100 MB value leaves, its jsonb
# (3,000,000 numbers, some 36 MB) does not.
$node->safe_psql('utf',
	q{INSERT INTO big VALUES (4, repeat('w', 100 * 1024 * 1024), 'n', array_fill(1, ARRAY[3000000]))});
$node->safe_psql('utf', q{INSERT INTO big VALUES (5, 'small', 'n', ARRAY[1, 2])});
catchup_db('utf', 'big-src', 'stream of values too large for an event goes on');
is( $node->safe_psql(
		'utf', q{
SELECT string_agg(element_id || ' t=' ||
       CASE WHEN length(p->>'t') > 1000 THEN left(p->>'t', 1) || ' x ' || length(p->>'t') ELSE (p->'t')::text END
       || ' note=' ||
       CASE WHEN length(p->>'note') > 1000 THEN left(p->>'note', 1) || ' x ' || length(p->>'note') ELSE (p->'note')::text END
       || ' arr=' || (p->'arr')::text,
       E'\n' ORDER BY seq)
  FROM (SELECT seq, element_id, payload->'payload'->'after'->'properties' AS p
          FROM pgcdc_drasi.events WHERE source_id = 'big-src') e}),
	q{big:1 t={"bytes": 314572800, "unavailable": "too_large"} note="small" arr=null
big:2 t=y x 104857600 note={"bytes": 104857600, "unavailable": "too_large"} arr=null
big:3 t="after" note=null arr=null
big:4 t=w x 104857600 note="n" arr={"bytes": 6000001, "unavailable": "too_large"}
big:5 t="small" note="n" arr=[1, 2]},
	'a value over the limit is the marker; a second large value of a row too, also when its jsonb form is what does not fit');
is(values_unavailable('utf', 'big-src'), '3', 'values_unavailable counts the three markers');

# ------------------------------------------------------------------------
# 4. NOTIFY references of a large element id; label length
# ------------------------------------------------------------------------
$node->safe_psql(
	'utf', q{
CREATE TABLE wide (k text NOT NULL, v int);
ALTER TABLE wide REPLICA IDENTITY FULL;
CREATE PUBLICATION wpub FOR TABLE wide;
SELECT pgcdc_drasi.create_source('wide-src', 'wpub', sink => 'both', channel => 'wide', bootstrap => false);
SELECT pgcdc_drasi.set_table_key('wide-src', 'wide', ARRAY['k']);
});
streaming_db('utf', 'wide-src');
my ($in, $out, $err) = ('', '', '');
my $h = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('utf'), '-f', '-' ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "LISTEN wide;\n\\echo listening\n";
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
until ($out =~ /listening/ || time() > $deadline) { $h->pump_nb; usleep(10_000); }
$node->safe_psql('utf',
	q{INSERT INTO wide VALUES (repeat('k', 9000), 1), ('short', 2)});
catchup_db('utf', 'wide-src', 'stream of a row with an id over 8 kB goes on');
my @got;
$deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
while (@got < 2 && time() <= $deadline)
{
	$in .= "SELECT 1;\n";
	$h->pump_nb;
	usleep(50_000);
	@got = ($out =~ /^Asynchronous notification "wide" with payload "(.*)" received/mg);
}
$in .= "\\q\n";
$h->finish;
is(scalar(@got), 2, 'two notifications');
like($got[0] // '', qr/^\{"source":"wide-src","seq":\d+,"op":"i","label":"wide","ref":true\}$/,
	'the reference of the large id leaves the id out');
like($got[1] // '', qr/"id": "wide:short"/, 'the small event is notified in full');
is( $node->safe_psql(
		'utf', q{SELECT length(element_id) FROM pgcdc_drasi.events
		           WHERE source_id = 'wide-src' ORDER BY seq LIMIT 1}),
	'9005', 'the queue has the event with its full id');

my ($ret, $o, $e) = $node->psql('utf',
	q{SELECT pgcdc_drasi.set_table_label('wide-src', 'wide', repeat('L', 1025))});
like($e, qr/ERROR:  label is too long/, 'set_table_label refuses a label over 1024 bytes');
$node->safe_psql('utf', q{SELECT pgcdc_drasi.set_table_label('wide-src', 'wide', repeat('L', 1024))});
pass('a label of 1024 bytes is accepted');

is( $node->safe_psql(
		'utf', q{SELECT string_agg(source_id || ':' || coalesce(last_error, '-'), ',' ORDER BY source_id)
		           FROM pgcdc_drasi.status}),
	'big-src:-,utf-src:-,wide-src:-', 'no source recorded an error');

done_testing();
