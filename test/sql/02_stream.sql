-- Inserts, updates, deletes and truncates of a plain table, with the
-- values of the common types, NULLs, multi-row transactions and
-- rollbacks.
\set VERBOSITY terse
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/helpers.sql
CREATE TABLE orders (
	id int PRIMARY KEY,
	status text,
	amount numeric(12,2),
	big numeric,
	ratio float8,
	paid boolean,
	tags jsonb,
	doc json,
	code char(5),
	note varchar(20)
);
CREATE PUBLICATION pub_stream FOR TABLE orders;
SELECT pgcdc_drasi.create_source('stream', publication => 'pub_stream', bootstrap => false);

INSERT INTO orders VALUES (1, 'new', 12.50, 1234567890123456789012345678901234567890.0123456789,
	0.1, true, '{"b": [1, 2], "a": null}', '{"x": 1}', 'ab', 'n"ote\');
INSERT INTO orders (id) VALUES (2);
BEGIN;
INSERT INTO orders (id, status, ratio, big) VALUES (3, 'multi', 'NaN', 'NaN');
UPDATE orders SET status = 'paid', paid = false WHERE id = 1;
INSERT INTO orders (id, status, ratio) VALUES (4, 'multi', '-Infinity');
COMMIT;
BEGIN;
INSERT INTO orders (id, status) VALUES (5, 'rolled back');
UPDATE orders SET status = 'rolled back' WHERE id = 1;
ROLLBACK;
BEGIN;
INSERT INTO orders (id, status) VALUES (6, 'savepoint kept');
SAVEPOINT s1;
INSERT INTO orders (id, status) VALUES (7, 'savepoint rolled back');
ROLLBACK TO SAVEPOINT s1;
COMMIT;
-- A multi-row UPDATE publishes its rows in the order the scan meets them:
-- a sequential scan on every version (17 and 18 pick index or bitmap scans,
-- which meet a HOT-updated row at its chain's root).
SET enable_indexscan = off;
SET enable_bitmapscan = off;
UPDATE orders SET amount = amount * 2 WHERE id IN (1, 3);
RESET enable_indexscan;
RESET enable_bitmapscan;
DELETE FROM orders WHERE id = 2;
UPDATE orders SET status = status WHERE id = 4;
TRUNCATE orders;
INSERT INTO orders (id, status) VALUES (8, 'after truncate');

SELECT pgcdc_drasi.wait_for_catchup('stream');
SELECT * FROM show_events('stream');
SELECT * FROM check_events('stream');

-- The queue columns.
SELECT op, label, element_id, tx_index FROM pgcdc_drasi.events
WHERE source_id = 'stream' ORDER BY seq;

SELECT state, events_published, last_error FROM pgcdc_drasi.status WHERE source_id = 'stream';

SELECT pgcdc_drasi.drop_source('stream');
SELECT count(*) FROM pgcdc_drasi.events WHERE source_id = 'stream';
SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgcdc_stream';
SELECT count(*) FROM pg_replication_origin WHERE roname = 'pgcdc_drasi_pgcdc_stream';
DROP PUBLICATION pub_stream;
