-- Schemas, quoted and mixed-case names, TOAST and ALTER TABLE in the
-- middle of the stream.
\set VERBOSITY terse
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/helpers.sql
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id int PRIMARY KEY, total int);
CREATE TABLE "Mixed Case" ("Id" int PRIMARY KEY, "a""quote" text);
CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE full_docs (id int PRIMARY KEY, title text, body text);
ALTER TABLE full_docs ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE full_docs REPLICA IDENTITY FULL;
CREATE TABLE evolving (id int PRIMARY KEY, a int, b text);
CREATE PUBLICATION pub_shapes FOR TABLE sales.orders, "Mixed Case", docs, full_docs, evolving;
SELECT pgcdc_drasi.create_source('shapes', publication => 'pub_shapes', bootstrap => false);

INSERT INTO sales.orders VALUES (7, 70);
INSERT INTO "Mixed Case" VALUES (1, 'it''s "quoted"');

-- Unchanged TOAST: left out under REPLICA IDENTITY DEFAULT, taken from
-- the old row under FULL.
INSERT INTO docs VALUES (1, 'first', repeat('x', 10000));
UPDATE docs SET title = 'second' WHERE id = 1;
INSERT INTO full_docs VALUES (1, 'first', repeat('y', 10000));
UPDATE full_docs SET title = 'second' WHERE id = 1;

-- ALTER TABLE between changes: each event has the shape of its time.
INSERT INTO evolving VALUES (1, 10, 'one');
ALTER TABLE evolving ADD COLUMN c boolean DEFAULT true;
INSERT INTO evolving VALUES (2, 20, 'two', false);
ALTER TABLE evolving DROP COLUMN a;
INSERT INTO evolving VALUES (3, 'three', NULL);
ALTER TABLE evolving RENAME COLUMN b TO title;
UPDATE evolving SET title = 'THREE' WHERE id = 3;
ALTER TABLE evolving ALTER COLUMN id TYPE bigint;
ALTER TABLE evolving ALTER COLUMN c TYPE text;
INSERT INTO evolving VALUES (4, 'four', 'yes');
DELETE FROM evolving WHERE id = 1;

SELECT pgcdc_drasi.wait_for_catchup('shapes');
SELECT n, op, element_id,
	   coalesce(event->'payload'->'after', event->'payload'->'before')->'labels' AS labels,
	   (SELECT jsonb_object_agg(key, CASE WHEN length(value::text) > 40
									  THEN to_jsonb(left(value #>> '{}', 3) || '...' || length(value #>> '{}'))
									  ELSE value END)
		FROM jsonb_each(coalesce(event->'payload'->'after', event->'payload'->'before')->'properties')) AS properties
FROM show_events('shapes') ORDER BY n;
SELECT * FROM check_events('shapes');

SELECT pgcdc_drasi.drop_source('shapes');
DROP PUBLICATION pub_shapes;
