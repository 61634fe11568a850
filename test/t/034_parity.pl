# 034_parity.pl: bootstrap() and the stream give every row the same id and
# the same values, for every column type of docs/types.md, whatever the
# settings of the session that calls bootstrap().
#
# A source with bootstrap => false streams inserts of rows holding values of
# every type (edge values: NaN and infinities, BC and five-digit years,
# negative and mixed intervals, fractional offsets, arrays of several
# dimensions with NULLs and lower bounds, nested composites, domains over
# scalars, arrays and composites, ...) and of tables keyed by values whose
# text depends on settings (timestamptz, bytea, date, interval, float8,
# timetz, a key of several columns with '_' and '\' in it).  The server
# runs with TimeZone = 'Australia/Lord_Howe' (+10:30 / +11), so the
# stream's texts are not UTC either.  Then each stream insert event's
# element must be identical (same jsonb text) to bootstrap()'s element of
# the same id, in sessions with
#   A. the default settings,
#   B. DateStyle 'SQL, DMY', TimeZone 'America/Santiago', IntervalStyle
#      'sql_standard', extra_float_digits 0, bytea_output 'escape',
#   C. DateStyle 'German', TimeZone 'Asia/Kathmandu' (+05:45), IntervalStyle
#      'iso_8601', extra_float_digits -15, search_path pg_catalog.
# The reg* types (regclass, regtype), whose text depends on search_path, are
# checked separately.  Finally a second source taking an initial snapshot
# of the same tables must give the same elements as the first one's stream.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgcdcDrasiTest;

my $source = 'parity';
my $node = cdc_node('parity', extra_conf => "timezone = 'Australia/Lord_Howe'");

$node->safe_psql('postgres', <<'SQL');
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE pty_mood AS ENUM ('sad', 'ok', 'happy', 'very "happy"');
CREATE TYPE pty_pair AS (a int, b text);
CREATE TYPE pty_nested AS (p pty_pair, ts timestamptz, tags text[], d date, iv interval, raw bytea);
CREATE DOMAIN pty_posint AS int CHECK (VALUE > 0);
CREATE DOMAIN pty_tsdom AS timestamptz;
CREATE DOMAIN pty_intarr AS int[];
CREATE DOMAIN pty_pairdom AS pty_pair;
CREATE TABLE pty (
	id int PRIMARY KEY,
	c_int2 int2, c_int4 int4, c_int8 int8, c_oid oid,
	c_float4 float4, c_float8 float8, c_numeric numeric, c_numeric_s numeric(12,4),
	c_bool bool,
	c_text text, c_varchar varchar(20), c_name name, c_char1 "char", c_bpchar char(6), c_citext citext,
	c_uuid uuid, c_enum pty_mood,
	c_json json, c_jsonb jsonb,
	c_bytea bytea,
	c_date date, c_time time, c_timetz timetz, c_ts timestamp, c_tstz timestamptz, c_tstz3 timestamptz(3),
	c_interval interval,
	c_int_arr int[], c_int_arr2 int[], c_text_arr text[], c_tstz_arr timestamptz[], c_bytea_arr bytea[],
	c_date_arr date[], c_interval_arr interval[], c_float8_arr float8[], c_numeric_arr numeric[],
	c_bool_arr bool[], c_jsonb_arr jsonb[], c_ts_arr timestamp[], c_timetz_arr timetz[],
	c_pair pty_pair, c_nested pty_nested, c_pair_arr pty_pair[],
	c_posint pty_posint, c_tsdom pty_tsdom, c_intarr pty_intarr, c_pairdom pty_pairdom,
	c_int2vector int2vector, c_oidvector oidvector,
	c_int4range int4range, c_numrange numrange, c_daterange daterange, c_tsrange tsrange,
	c_tstzrange tstzrange, c_int4multirange int4multirange, c_tstzmultirange tstzmultirange,
	c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8,
	c_money money,
	c_bit bit(4), c_varbit varbit,
	c_tsvector tsvector, c_tsquery tsquery,
	c_xml xml,
	c_point point, c_line line, c_lseg lseg, c_box box, c_path path, c_polygon polygon, c_circle circle,
	c_pg_lsn pg_lsn, c_xid8 xid8, c_regclass regclass, c_regtype regtype
);
-- Tables keyed by values whose text depends on settings, and a key of several columns.
CREATE TABLE pty_k_tstz (k timestamptz PRIMARY KEY, v int);
CREATE TABLE pty_k_bytea (k bytea PRIMARY KEY, v int);
CREATE TABLE pty_k_date (k date PRIMARY KEY, v int);
CREATE TABLE pty_k_ts (k timestamp PRIMARY KEY, v int);
CREATE TABLE pty_k_interval (k interval PRIMARY KEY, v int);
CREATE TABLE pty_k_float8 (k float8 PRIMARY KEY, v int);
CREATE TABLE pty_k_numeric (k numeric PRIMARY KEY, v int);
CREATE TABLE pty_k_timetz (k timetz PRIMARY KEY, v int);
CREATE TABLE pty_k_multi (k_tz timestamptz, k_bytea bytea, k_text text, k_bool bool, k_char char(4),
	k_uuid uuid, v text, PRIMARY KEY (k_tz, k_bytea, k_text, k_bool, k_char, k_uuid));
CREATE PUBLICATION parity_pub FOR TABLE pty, pty_k_tstz, pty_k_bytea, pty_k_date, pty_k_ts,
	pty_k_interval, pty_k_float8, pty_k_numeric, pty_k_timetz, pty_k_multi;
SQL
$node->safe_psql('postgres',
	"SELECT pgcdc_drasi.create_source('parity', publication => 'parity_pub', bootstrap => false)");
wait_streaming($node, $source);
$node->safe_psql('postgres', <<'SQL');
INSERT INTO pty VALUES (1,
	-32768, 2147483647, -9223372036854775808, 4294967295,
	3.14159, 0.1, 1234567890123456789012345678901234567890.0123456789, 10.5000,
	true,
	E'a "quoted" \\ back\nslash \u00e9\u20ac', 'varchar', 'a name', 'x', 'ab', 'CiText',
	'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'very "happy"',
	'{"b": 1,  "a": [1, 2.50, null], "b": 2}', '{"k": {"x": [1.0, "s"]}, "n": 1e3}',
	'\xdeadbeef00ff',
	'2024-02-29', '04:05:06.789', '04:05:06+02', '2024-01-15 08:04:05.5', '2024-01-15 09:04:05.123456+01', '2024-07-01 12:00:00.5-04',
	'1 year 2 mons 3 days 04:05:06.5',
	'{1,2,NULL}', '{{1,2},{3,NULL}}', '{"a b","c,d","e\"f",NULL,"",x_y}',
	'{"2024-01-01 00:00:00+05:30","infinity",NULL}', '{"\\x00ff",NULL,"\\x"}',
	'{2024-01-01,-infinity,0044-03-15 BC}', '{"1 day","-1 mons +02:00:00",NULL}', '{0.1,NaN,-Infinity,1e300}',
	'{1.50,NaN,-0.0}', '{t,f,NULL}', '{"{\"a\": 1}",NULL}', '{"2024-01-01 10:00:00.25",infinity}', '{"10:00:00+05:45"}',
	ROW(1, 'x y'), ROW(ROW(2, 'z'), '2024-03-10 02:30:00-03', '{p,NULL}', '2020-02-29', '-3 days 04:00:00', '\x01'),
	ARRAY[ROW(1, 'a')::pty_pair, ROW(NULL, NULL)::pty_pair, NULL],
	5, '1999-12-31 23:59:59.999999+00', '{3,4}', ROW(7, 'dom'),
	'1 2 3', '23 25',
	'[1,5)', '(0.5,1.5]', '[2024-01-01,2024-02-01)', '[2024-01-01 10:00,2024-01-02 10:00)',
	'[2024-01-01 10:00+00,2024-01-02 10:00+00)', '{[1,3),[5,7)}', '{[2024-01-01 00:00+00,2024-01-01 01:00+00)}',
	'192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
	'1234.56',
	B'1010', B'101',
	'a fat cat', 'fat & cat',
	'<a b="1">x</a>',
	'(1,2)', '{1,2,3}', '[(0,0),(1,1)]', '((0,0),(1,1))', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(2,0))', '<(0,0),1.5>',
	'16/B374D848', '12345', 'pty', 'pty_pair');
INSERT INTO pty (id, c_float4, c_float8, c_numeric, c_date, c_time, c_timetz, c_ts, c_tstz, c_interval, c_bytea, c_text, c_json, c_int_arr, c_text_arr, c_numeric_s)
VALUES (2, '-Infinity', 'NaN', 'Infinity', 'infinity', '24:00:00', '23:59:59.999999-15:59', '-infinity', '0044-03-15 12:00:00+00 BC',
	'-1 years -2 mons +3 days -04:05:06', '', '', '"just a string"', '{}', '[0:1]={a,b}', -0.0001),
	(3, 1e-45, 5e-324, -0.000000000000000000001, '12345-06-07', '00:00:00', '00:00:00+00:00:30', '12345-06-07 01:02:03', '12345-06-07 01:02:03+00',
	'0', '\x00', ' ', 'null', '{{{1}},{{2}}}', '{"\\\\"}', 0),
	(4, 1.5, 1e100, 0, '1970-01-01', '12:34:56.000001', '12:00:00-11', '2000-02-29 00:00:00', '1912-01-01 00:00:00+00',
	'3 days 25:00:00', '\x0102', 'line1
line2', '[1, "2", {"3": 4}]', '{-1}', '{NULL}', 99999999.9999);
INSERT INTO pty (id) VALUES (5);
INSERT INTO pty_k_tstz VALUES ('2024-01-15 09:04:05.123456+01', 1), ('infinity', 2), ('0044-03-15 12:00:00+00 BC', 3), ('1912-01-01 00:00:00+00', 4);
INSERT INTO pty_k_bytea VALUES ('\xdeadbeef', 1), ('', 2), ('\x00', 3);
INSERT INTO pty_k_date VALUES ('2024-02-29', 1), ('0044-03-15 BC', 2), ('infinity', 3);
INSERT INTO pty_k_ts VALUES ('2024-01-15 08:04:05.5', 1), ('-infinity', 2);
INSERT INTO pty_k_interval VALUES ('1 year 2 mons 3 days 04:05:06.5', 1), ('-1 days +02:00:00', 2), ('0', 3);
INSERT INTO pty_k_float8 VALUES (0.1, 1), ('NaN', 2), (1e100, 3), (-0.0, 4);
INSERT INTO pty_k_numeric VALUES (10.5000, 1), ('NaN', 2);
INSERT INTO pty_k_timetz VALUES ('04:05:06+02', 1), ('23:59:59.5-15:59', 2);
INSERT INTO pty_k_multi VALUES ('2024-01-15 09:04:05+01', '\x5f5c', 'a_b\c', true, 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'one'),
	('2024-01-15 09:04:05+01', '\x', '_', false, '', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'two');
SQL
catchup($node, $source);

my $nrows = $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM pty) + (SELECT count(*) FROM pty_k_tstz) + (SELECT count(*) FROM pty_k_bytea)
     + (SELECT count(*) FROM pty_k_date) + (SELECT count(*) FROM pty_k_ts) + (SELECT count(*) FROM pty_k_interval)
     + (SELECT count(*) FROM pty_k_float8) + (SELECT count(*) FROM pty_k_numeric)
     + (SELECT count(*) FROM pty_k_timetz) + (SELECT count(*) FROM pty_k_multi)});
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'parity' AND op = 'i'"),
	$nrows, "one stream insert event per row ($nrows)");
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM pgcdc_drasi.events e
  JOIN pg_catalog.pg_attribute a ON a.attrelid = 'pty'::regclass AND a.attnum > 0 AND NOT a.attisdropped
 WHERE e.source_id = 'parity' AND e.element_id = 'pty:1'
   AND NOT e.payload->'payload'->'after'->'properties' ? a.attname::text}),
	0, 'the stream event of row 1 has a property for every column');

# Elements of bootstrap() and of the stream that differ, one line per
# element naming the differing properties, leaving out the reg* columns;
# with regs => 1, comparing only those.
sub differences
{
	my ($settings, %opts) = @_;
	my $filter = $opts{regs}
	  ? q{jsonb_build_object('properties', jsonb_build_object(
	        'c_regclass', x->'properties'->'c_regclass', 'c_regtype', x->'properties'->'c_regtype'))}
	  : q{x #- '{properties,c_regclass}' #- '{properties,c_regtype}'};
	return $node->safe_psql('postgres', qq{
$settings
WITH b AS (SELECT e->>'id' AS id, e FROM pgcdc_drasi.bootstrap('parity') AS e),
     s AS (SELECT element_id AS id, payload->'payload'->'after' AS e FROM pgcdc_drasi.events
            WHERE source_id = 'parity' AND op = 'i'),
     f AS (SELECT id, (SELECT $filter FROM (SELECT b.e AS x) q) AS bf,
                      (SELECT $filter FROM (SELECT s.e AS x) q) AS sf
             FROM b FULL JOIN s USING (id))
SELECT id || ': ' || coalesce(
         (SELECT string_agg(k || ' bootstrap ' || coalesce((bf->'properties'->k)::text, '-')
                            || ' stream ' || coalesce((sf->'properties'->k)::text, '-'), '; ' ORDER BY k)
            FROM jsonb_object_keys(coalesce(bf->'properties', sf->'properties')) AS k
           WHERE (bf->'properties'->k)::text IS DISTINCT FROM (sf->'properties'->k)::text),
         'bootstrap ' || coalesce(bf::text, '<none>') || ' stream ' || coalesce(sf::text, '<none>'))
  FROM f
 WHERE bf::text IS DISTINCT FROM sf::text
 ORDER BY id});
}

my %sets = (
	'A (default settings)' => '',
	'B (SQL/DMY, America/Santiago, sql_standard, extra_float_digits 0, bytea escape)' => q{
SET datestyle = 'SQL, DMY';
SET timezone = 'America/Santiago';
SET intervalstyle = 'sql_standard';
SET extra_float_digits = 0;
SET bytea_output = 'escape';},
	'C (German, Asia/Kathmandu, iso_8601, extra_float_digits -15, search_path pg_catalog)' => q{
SET datestyle = 'German';
SET timezone = 'Asia/Kathmandu';
SET intervalstyle = 'iso_8601';
SET extra_float_digits = -15;
SET search_path = pg_catalog;});

for my $name (sort keys %sets)
{
	my $settings = $sets{$name};
	is( $node->safe_psql('postgres', "$settings\nSELECT count(*) FROM pgcdc_drasi.bootstrap('parity')"),
		$nrows, "session $name: bootstrap() returns every row");
	my $diff = differences($settings);
	is($diff, '', "session $name: every element identical to the stream's (ids, labels, values of every type)");
	my $regs = differences($settings, regs => 1);
	is($regs, '', "session $name: regclass and regtype values identical to the stream's");
}

# The initial snapshot of a second source gives the same elements.
$node->safe_psql('postgres', "SELECT pgcdc_drasi.create_source('parity-snap', publication => 'parity_pub')");
catchup($node, 'parity-snap');
is( $node->safe_psql('postgres', q{
SELECT count(*) || ' ' || count(*) FILTER (WHERE (a.payload->'payload'->'after')::text
                                            IS DISTINCT FROM (b.payload->'payload'->'after')::text)
  FROM pgcdc_drasi.events a
  FULL JOIN (SELECT * FROM pgcdc_drasi.events WHERE source_id = 'parity-snap') b USING (element_id)
 WHERE a.source_id = 'parity'}),
	"$nrows 0", 'initial snapshot events carry the same elements as the stream');

$node->stop;
done_testing();
