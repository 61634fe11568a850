-- The type matrix of docs/types.md: every kind of value as the stream
-- writes it, NULL in every type, and the same values read by a snapshot
-- (pgcdc_drasi.bootstrap) in sessions with other settings.
\set VERBOSITY terse
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/helpers.sql
CREATE EXTENSION citext;

-- The walsender and the worker take the database's settings: money's
-- text depends on lc_monetary, so fix it.  The time zone (summer time and
-- a local mean time) is the worker's, for the snapshot of t_early below;
-- the walsender's comes from PGTZ, which pg_regress sets.  The results do
-- not depend on either.
DO $$
BEGIN
	EXECUTE format('ALTER DATABASE %I SET lc_monetary = %L', current_database(), 'C');
	EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), 'Europe/London');
END
$$;
SET lc_monetary = 'C';

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE TYPE nested AS (p pair, tags text[], at timestamptz, ok boolean, ps pair[]);
CREATE TYPE withdrop AS (x int, gone text, y numeric);
ALTER TYPE withdrop DROP ATTRIBUTE gone;
CREATE TYPE growing AS (a int);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN intlist AS int[];
CREATE DOMAIN pairdom AS pair;
CREATE DOMAIN stamp AS timestamptz;

CREATE TABLE t_num (
	id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, o oid, f4 float4, f8 float8,
	n numeric, n4 numeric(10,4));
CREATE TABLE t_text (
	id int PRIMARY KEY, b bool, t text, vc varchar(10), nm name, ch char(5),
	c1 "char", ci citext, u uuid, e mood);
CREATE TABLE t_time (
	id int PRIMARY KEY, d date, tm time, ttz timetz, ts timestamp, tstz timestamptz,
	iv interval, ds stamp);
CREATE TABLE t_json (id int PRIMARY KEY, j json, jb jsonb, by bytea);
CREATE TABLE t_arr (
	id int PRIMARY KEY, ai int[], ai2 int[], at text[], an numeric[], af float8[],
	ab bool[], atz timestamptz[], ad date[], aiv interval[], aby bytea[], ajb jsonb[],
	aj json[], ach char(3)[], abox box[], ap pair[], ae mood[], ar int4range[],
	apos posint[], ann nested[]);
CREATE TABLE t_comp (
	id int PRIMARY KEY, p pair, n nested, w withdrop, pd pairdom, di posint,
	dl intlist, ev growing);
CREATE TABLE t_other (
	id int PRIMARY KEY, r int4range, nr numrange, mr int4multirange, ip inet,
	cidr cidr, mac macaddr, mac8 macaddr8, m money, bt bit(4), vb varbit,
	tv tsvector, tq tsquery, x xml, pt point, ln line, ls lseg, bx box, pa path,
	pg polygon, ci circle, lsn pg_lsn);
-- Keys: timestamptz and bytea ids do not depend on settings.
CREATE TABLE k_tstz (at timestamptz PRIMARY KEY, v int);
CREATE TABLE k_bytea (b bytea PRIMARY KEY, v int);
CREATE TABLE k_multi (
	at timestamptz, b bytea, flag bool, c char(4), s text, v int,
	PRIMARY KEY (at, b, flag, c, s));
CREATE PUBLICATION pub_types FOR TABLE t_num, t_text, t_time, t_json, t_arr,
	t_comp, t_other, k_tstz, k_bytea, k_multi;
SELECT pgcdc_drasi.create_source('types', publication => 'pub_types', bootstrap => false);

-- Numbers: every digit and the scale of numeric; NaN, infinities as strings.
INSERT INTO t_num VALUES
	(1, -32768, 2147483647, -9223372036854775808, 4294967295, 1.1, 0.1,
	 10.5000, 3.14159),
	(2, 0, -1, 9223372036854775807, 0, 'NaN', 'Infinity',
	 1234567890123456789012345678901234567890, -2.5),
	(3, 1, 1, 1, 1, '-Infinity', '-Infinity', 'NaN', 'NaN'),
	(4, 2, 2, 2, 2, 3.25e-7, 123456.789012345678,
	 '-0.0000000000000000000000000000000000001234', 0),
	(5, 3, 3, 3, 3, 0.5, 2.5e-10, 'Infinity', 0.0001),
	(6, 4, 4, 4, 4, -1.5, -1e15, '-Infinity', 99999.9999),
	(9, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- Strings, char(n) without its padding, booleans.
INSERT INTO t_text VALUES
	(1, true, 'a "quoted" \ line
break', 'tab	here', 'a name', 'ab', 'q', 'MiXeD', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'happy'),
	(2, false, '', 'x', 'y', '', 'z', '', '00000000-0000-0000-0000-000000000000', 'sad'),
	(3, true, 'ünïcødé ☃', 'ü', 'n', 'abcde', '"', 'ß', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'ok'),
	(9, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- Dates and times: ISO 8601, timestamptz in UTC whatever the session's or
-- the server's time zone; infinities; BC; years after 9999.
SET TimeZone = 'America/New_York';
INSERT INTO t_time VALUES
	(1, '2024-02-29', '04:05:06.789', '04:05:06+02', '2024-01-15 08:04:05.5',
	 '2024-01-15 03:04:05.123456', '1 year 2 mons 3 days 04:05:06.5', '2024-07-15 04:04:05');
SET TimeZone = 'Asia/Tokyo';
INSERT INTO t_time VALUES
	(2, 'infinity', '00:00', '04:05:06.5-05:30', 'infinity',
	 '2024-01-15 17:04:05.123456', '0', '2024-07-15 17:04:05');
SET TimeZone = 'UTC';
INSERT INTO t_time VALUES
	(3, '-infinity', '24:00:00', '23:59:59+05:30:15', '-infinity',
	 '2024-01-15 08:04:05.123456', '-1 days +02:00:00', '2024-07-15 08:04:05'),
	(4, '0044-03-15 BC', '12:00:00.000001', '00:00:00-00', '0044-03-15 12:00 BC',
	 '1999-12-31 23:59:59.999999', '-1 year -2 mons +3 days -04:05:06', 'infinity'),
	(5, '12345-06-07', '23:59:59.999999', '12:00+14', '12345-06-07 08:09:10',
	 '12345-06-07 08:09:10', '1 day -00:00:01', '-infinity'),
	(6, '0001-01-01', '01:02:03', '01:02:03.5+01', '1800-01-01 00:00:00',
	 '1918-03-31 10:00:00', '00:00:00.000001', '2000-01-01 00:00:00.000001'),
	(7, '2000-01-01', '01:02:03', '01:02:03+01', '2000-01-01 00:00:00',
	 'infinity', '-00:00:01.5', '1999-12-31 23:59:59.999999'),
	(8, '2000-01-01', '01:02:03', '01:02:03+01', '2000-01-01 00:00:00',
	 '-infinity', '178000000 years', '2024-01-15 08:04:05+00'),
	(9, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
RESET TimeZone;

-- json and jsonb embedded; bytea in base64 (all 256 byte values in row 1).
INSERT INTO t_json VALUES
	(1, '{"a" : 1,  "a": [true, null], "b": "x"}', '{"b": [1, 2.50], "a": {"c": "d"}}',
	 (SELECT string_agg(set_byte('\x00'::bytea, 0, i), ''::bytea) FROM generate_series(0, 255) i)),
	(2, '[1, "two", 3.0]', '"a string"', '\x'),
	(3, '42', 'null', '\xdeadbeef'),
	(4, '"\u00e9\n"', '-0.5e3', '\x00'),
	(9, NULL, NULL, NULL);

-- Arrays: nested, NULL elements, every element by its own type's rule.
INSERT INTO t_arr VALUES
	(1, '{1,2,3}', '{{1,2},{3,4}}',
	 ARRAY['a"b', 'c,d', '{e}', 'f\g', ' sp ', 'NULL', '', NULL, 'null', 'x;y', '()'],
	 '{1.50,NaN,12345678901234567890123456789012345678.90,-Infinity}',
	 '{1.5,Infinity,-Infinity,NaN,NULL}', '{t,f,NULL}',
	 ARRAY['2024-01-15 08:04:05+00', '2024-07-15 08:04:05+00', 'infinity', NULL]::timestamptz[],
	 '{2024-02-29,infinity,NULL}', '{"1 day","-1 mons +02:00:00",NULL}',
	 ARRAY['\x00ff'::bytea, '\x'::bytea, NULL],
	 ARRAY['{"a": [1, 2]}'::jsonb, 'null', '"s"', NULL],
	 ARRAY['{"a" : 1, "a": 2}'::json, '[]'],
	 ARRAY['a', 'bc', NULL]::char(3)[],
	 ARRAY[box '((1,2),(3,4))', box '((0,0),(1,1))'],
	 ARRAY[ROW(1, 'x y')::pair, ROW(NULL, 'q"t\')::pair, NULL, ROW(NULL, NULL)::pair, ROW(3, '')::pair],
	 '{sad,happy}', '{"[1,3)","[5,7)",empty}', ARRAY[1, 2]::posint[],
	 ARRAY[ROW(ROW(1, 'x')::pair, ARRAY['p', NULL], '2024-07-15 08:04:05+00', true,
			   ARRAY[ROW(2, 'y, "z"')::pair])::nested, NULL]),
	-- 3 dimensions; lower bounds other than 1; empty arrays.
	(2, '[0:2]={10,20,30}', '[-1:0][3:4]={{1,2},{3,4}}', '{}', '{}', '{}', '{}', '{}', '{}',
	 '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}'),
	(3, '{{{1,2},{3,4}},{{5,6},{7,NULL}}}', '{{NULL,NULL},{NULL,NULL}}',
	 '{{"a b","c"},{"{d}","\\"}}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(9, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL);

-- Composites, nested, with arrays, with a dropped attribute; domains.
INSERT INTO t_comp VALUES
	(1, ROW(1, 'a,b "c" \d (e)'),
	 ROW(ROW(1, 'x'), ARRAY['p', 'q r'], '2024-07-15 08:04:05+00', true,
		 ARRAY[ROW(2, 'y')::pair, ROW(3, '(z)')::pair]),
	 ROW(1, 2.50), ROW(7, 'z'), 5, '{1,2}', ROW(1)),
	(2, ROW(NULL, NULL), ROW(NULL, NULL, NULL, NULL, NULL), ROW(NULL, NULL),
	 ROW(NULL, ''), 1, '{}', ROW(NULL)),
	(9, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- Everything else: the text as a string.
INSERT INTO t_other VALUES
	(1, '[1,5)', '(1.5,2.50]', '{[1,3),[5,7)}', '192.168.0.1/24', '10.0.0.0/8',
	 '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', 1234.56, B'1010', B'101',
	 'a fat cat sat', 'fat & (rat | !cat)', '<a b="1">x &amp; y</a>', '(1,2)',
	 '{1,2,3}', '[(0,0),(1,1)]', '((1,2),(3,4))', '[(0,0),(1,1),(2,0)]',
	 '((0,0),(1,1),(1,0))', '<(0,0),1.5>', '16/B374D848'),
	(2, 'empty', NULL, '{}', '::1', '::/0', NULL, NULL, -0.01, B'0000', B'',
	 '', NULL, '<empty/>', NULL, NULL, NULL, NULL, '((0,0),(1,1))', NULL, NULL, '0/0'),
	(9, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- A composite type that gains an attribute: the worker reads it again.
SELECT pgcdc_drasi.wait_for_catchup('types');
ALTER TYPE growing ADD ATTRIBUTE b text CASCADE;
INSERT INTO t_comp (id, ev) VALUES (3, ROW(2, 'two'));

-- Keys, written under different time zones: the ids are in UTC.
SET TimeZone = 'America/New_York';
INSERT INTO k_tstz VALUES ('2024-01-15 03:04:05.5', 1);
INSERT INTO k_bytea VALUES ('\x00ff10', 1), ('\xfbff', 2);
INSERT INTO k_multi VALUES ('2024-07-15 04:04:05', '\x5f5c', true, 'a_', 'b\c_d', 1);
SET TimeZone = 'Asia/Tokyo';
UPDATE k_tstz SET v = 2;
UPDATE k_multi SET v = 2;
SET TimeZone = 'UTC';
DELETE FROM k_tstz;
DELETE FROM k_bytea WHERE b = '\xfbff';
RESET TimeZone;

SELECT pgcdc_drasi.wait_for_catchup('types');
SELECT * FROM check_events('types');

-- Every property of every event, one per line.
SELECT e.n, e.op, e.element_id, p.key, p.value
FROM show_events('types') e,
	 jsonb_each(coalesce(e.event->'payload'->'after', e.event->'payload'->'before')->'properties') p
ORDER BY e.n, p.key COLLATE "C";

-- The JSON text itself (not jsonb) of a few values.  The queue stores
-- jsonb, so duplicate keys of json keep their last value there.
SELECT label, element_id, payload->'payload'->'after'->'properties'->>'by' AS base64
FROM pgcdc_drasi.events
WHERE source_id = 'types' AND label = 't_json' AND element_id = 't_json:1';
SELECT (SELECT payload->'payload'->'after'->'properties'->>'by'
		FROM pgcdc_drasi.events
		WHERE source_id = 'types' AND element_id = 't_json:1') =
	   translate(encode(by, 'base64'), E'\n', '') AS base64_matches
FROM t_json WHERE id = 1;

-- Dates and times are what to_json() prints with TimeZone = 'UTC'.
SET TimeZone = 'UTC';
SELECT t.id,
	   p->'d' = to_jsonb(t.d) AS d, p->'ts' = to_jsonb(t.ts) AS ts,
	   p->'tstz' = to_jsonb(t.tstz) AS tstz, p->'ds' = to_jsonb(t.ds) AS ds
FROM t_time t
JOIN (SELECT element_id, payload->'payload'->'after'->'properties' AS p
	  FROM pgcdc_drasi.events WHERE source_id = 'types' AND label = 't_time') e
  ON e.element_id = 't_time:' || t.id
ORDER BY t.id;
RESET TimeZone;

-- A snapshot gives the same properties and ids as the stream, whatever
-- the session's TimeZone, DateStyle, IntervalStyle or bytea_output.  (The
-- ev column is left out: its rows written before the ALTER TYPE have
-- one attribute in the stream and two now.)
CREATE FUNCTION stream_vs_snapshot() RETURNS TABLE (element_id text, differs jsonb)
LANGUAGE sql AS $$
	WITH stream AS (
		SELECT DISTINCT ON (element_id) element_id, op,
			   (payload->'payload'->'after'->'properties') - 'ev' AS props
		FROM pgcdc_drasi.events
		WHERE source_id = 'types'
		ORDER BY element_id, seq DESC),
	snap AS (
		SELECT node->>'id' AS element_id, (node->'properties') - 'ev' AS props
		FROM pgcdc_drasi.bootstrap('types') AS node)
	SELECT coalesce(s.element_id, n.element_id),
		   jsonb_build_object('stream', s.props, 'snapshot', n.props)
	FROM (SELECT * FROM stream WHERE op <> 'd') s
	FULL JOIN snap n ON n.element_id = s.element_id
	WHERE s.props IS DISTINCT FROM n.props
	ORDER BY 1
$$;
SELECT count(*) FROM pgcdc_drasi.bootstrap('types');
SET TimeZone = 'Pacific/Chatham';
SET DateStyle = 'SQL, DMY';
SET IntervalStyle = 'sql_standard';
SET bytea_output = 'escape';
SELECT * FROM stream_vs_snapshot();
SET TimeZone = 'America/St_Johns';
SET DateStyle = 'German';
SET IntervalStyle = 'iso_8601';
SELECT * FROM stream_vs_snapshot();
RESET TimeZone;
RESET DateStyle;
RESET IntervalStyle;
RESET bytea_output;
SELECT * FROM stream_vs_snapshot();

SELECT state, last_error FROM pgcdc_drasi.status WHERE source_id = 'types';
SELECT pgcdc_drasi.drop_source('types');
DROP PUBLICATION pub_types;

-- Timestamps with time zone before standard time (local mean time), BC
-- and at the end of the range, through the snapshot the worker takes at
-- create_source.  They are not in the stream above because pg_regress
-- puts PGDATESTYLE into the server's environment, libpq sends it to the
-- walsender, where it overrides the DateStyle = ISO libpqwalreceiver asks
-- for, and in the Postgres style such times carry the zone abbreviation
-- LMT, which no session reads back (the stream would copy that text).
CREATE TABLE t_early (id int PRIMARY KEY, tstz timestamptz, a timestamptz[], n nested);
INSERT INTO t_early VALUES
	(1, '0044-03-15 12:00:00+00 BC',
	 ARRAY['1800-01-01 00:00:00+00', '4713-11-24 00:00:00+00 BC']::timestamptz[],
	 ROW(NULL, NULL, '1066-10-14 09:00:00+00', NULL, NULL)),
	(2, '1800-01-01 00:00:00+00', NULL, NULL),
	(3, '294276-12-31 23:59:59.999999+00', NULL, NULL);
CREATE PUBLICATION pub_early FOR TABLE t_early;
SELECT pgcdc_drasi.create_source('types_early', publication => 'pub_early');
SELECT pgcdc_drasi.wait_for_catchup('types_early');
SELECT e.n, e.op, e.element_id, p.key, p.value
FROM show_events('types_early') e,
	 jsonb_each(e.event->'payload'->'after'->'properties') p
ORDER BY e.n, p.key COLLATE "C";
-- The same from a session in another time zone.
SET TimeZone = 'Asia/Kathmandu';
SELECT node->>'id' AS id, node->'properties' AS properties
FROM pgcdc_drasi.bootstrap('types_early') AS node ORDER BY 1;
RESET TimeZone;
SELECT pgcdc_drasi.drop_source('types_early');
DROP PUBLICATION pub_early;
DO $$
BEGIN
	EXECUTE format('ALTER DATABASE %I RESET lc_monetary', current_database());
	EXECUTE format('ALTER DATABASE %I RESET timezone', current_database());
END
$$;
