-- Table shapes at the limits: generated columns, TRUNCATE of several
-- tables at once and with CASCADE, a table of 1,600 columns, and values
-- of tens of megabytes, in the stream and in bootstrap().
\set VERBOSITY terse
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/helpers.sql
CREATE TABLE gen (id int PRIMARY KEY, a int, doubled int GENERATED ALWAYS AS (a * 2) STORED);
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
CREATE TABLE other (id int PRIMARY KEY);
CREATE TABLE big (id int PRIMARY KEY, doc text, data bytea);
SELECT format('CREATE TABLE wide (id int PRIMARY KEY, %s)',
			  string_agg(format('c%s int', g), ', ' ORDER BY g))
FROM generate_series(2, 1600) g \gexec
CREATE PUBLICATION pub_wide FOR TABLE gen, parent, child, other, big, wide;
SELECT pgcdc_drasi.create_source('wide', publication => 'pub_wide', bootstrap => false);

-- Generated columns are not published (PostgreSQL 15), in either path.
INSERT INTO gen (id, a) VALUES (1, 21);
-- Several tables in one TRUNCATE, then TRUNCATE ... CASCADE.
INSERT INTO parent VALUES (1);
INSERT INTO child VALUES (1, 1);
INSERT INTO other VALUES (1);
TRUNCATE other, gen;
TRUNCATE parent CASCADE;
-- 1,600 columns.
INSERT INTO wide (id, c2, c1600) VALUES (1, 2, 1600);
-- Tens of megabytes in one row.
INSERT INTO big VALUES (1, repeat('x', 30 * 1024 * 1024), decode(repeat('ff', 5 * 1024 * 1024), 'hex'));

SELECT pgcdc_drasi.wait_for_catchup('wide', '5 min');
SELECT n, tx, op, element_id,
	   coalesce(event #> '{payload,after,labels}', event #> '{payload,before,labels}') AS labels,
	   event #> '{payload,before,idPrefix}' AS id_prefix
FROM show_events('wide') ORDER BY n;
SELECT * FROM check_events('wide');
SELECT payload #> '{payload,after,properties}' AS gen_properties
FROM pgcdc_drasi.events WHERE source_id = 'wide' AND element_id = 'gen:1';
SELECT (SELECT count(*) FROM jsonb_object_keys(payload #> '{payload,after,properties}')) AS wide_properties,
	   payload #> '{payload,after,properties,c2}' AS c2,
	   payload #> '{payload,after,properties,c1600}' AS c1600,
	   payload #> '{payload,after,properties,c800}' AS c800
FROM pgcdc_drasi.events WHERE source_id = 'wide' AND element_id = 'wide:1';
SELECT length(payload #>> '{payload,after,properties,doc}') AS doc_length,
	   length(decode(payload #>> '{payload,after,properties,data}', 'base64')) AS data_bytes,
	   decode(payload #>> '{payload,after,properties,data}', 'base64') = decode(repeat('ff', 5 * 1024 * 1024), 'hex') AS data_equal
FROM pgcdc_drasi.events WHERE source_id = 'wide' AND element_id = 'big:1';

-- bootstrap() gives the same elements for the rows still there.
SELECT e->>'id' AS id,
	   (SELECT count(*) FROM jsonb_object_keys(e->'properties')) AS properties,
	   e = (SELECT payload #> '{payload,after}' FROM pgcdc_drasi.events
			WHERE source_id = 'wide' AND element_id = e->>'id' AND op = 'i') AS same_as_stream
FROM pgcdc_drasi.bootstrap('wide') e ORDER BY 1;

SELECT pgcdc_drasi.drop_source('wide');
DROP PUBLICATION pub_wide;
DROP TABLE gen, child, parent, other, big, wide;
