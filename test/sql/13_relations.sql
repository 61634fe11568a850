-- Relations: foreign keys (derived and declared) as Drasi relation
-- elements, in the initial snapshot, the stream and bootstrap(); the graph
-- rebuilt from the events equals the tables.
\set VERBOSITY terse
CREATE DATABASE pgcdc_rel;
\c pgcdc_rel
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/helpers.sql
CREATE TABLE customers (id int PRIMARY KEY, name text);
CREATE TABLE products (sku text, region text, name text, PRIMARY KEY (sku, region));
CREATE TABLE orders (
	id int PRIMARY KEY,
	customer_id int REFERENCES customers ON UPDATE CASCADE,
	sku text, region text, note text,
	FOREIGN KEY (region, sku) REFERENCES products (region, sku) ON UPDATE CASCADE);
-- a join table: its rows are relations from orders to products
CREATE TABLE order_items (
	order_id int REFERENCES orders ON UPDATE CASCADE,
	product_sku text, product_region text, qty int,
	PRIMARY KEY (order_id, product_sku, product_region),
	FOREIGN KEY (product_sku, product_region) REFERENCES products ON UPDATE CASCADE);
CREATE TABLE employees (id int PRIMARY KEY, name text, manager_id int REFERENCES employees);
ALTER TABLE employees REPLICA IDENTITY FULL;
CREATE TABLE notes (id int PRIMARY KEY, order_ref int, body text);
CREATE TABLE hidden (id int PRIMARY KEY);
CREATE TABLE audit (id int PRIMARY KEY, hidden_id int REFERENCES hidden);
CREATE PUBLICATION pub_rel FOR TABLE customers, products, orders, order_items, employees, notes, audit;

INSERT INTO customers VALUES (1, 'Ann'), (2, 'Bob');
INSERT INTO products VALUES ('p1', 'eu', 'Pen'), ('p2', 'us', 'Cup');
INSERT INTO orders VALUES (1, 1, 'p1', 'eu', 'first'), (2, NULL, NULL, NULL, 'no customer');
INSERT INTO order_items VALUES (1, 'p1', 'eu', 2);
INSERT INTO employees VALUES (1, 'Boss', NULL), (2, 'Eve', 1);
INSERT INTO hidden VALUES (1);
INSERT INTO audit VALUES (1, 1);
INSERT INTO notes VALUES (1, 1, 'gift');

-- configured before the worker starts: the initial snapshot has relations too
SELECT pgcdc_drasi.create_source('rel', publication => 'pub_rel', enabled => false);
SELECT pgcdc_drasi.set_relations('rel', 'foreign_keys');
SELECT pgcdc_drasi.set_relation('rel', 'notes', ARRAY['order_ref'], 'orders', label => 'ABOUT');
SELECT pgcdc_drasi.set_table_mode('rel', 'order_items', 'relation');
SELECT pgcdc_drasi.set_table_label('rel', 'order_items', 'CONTAINS');
SELECT source_id, table_id, mode FROM pgcdc_drasi.table_modes;
SELECT source_id, table_id, label, columns, references_table, column_attnums FROM pgcdc_drasi.relations;
SELECT pgcdc_drasi.resume_source('rel');
SELECT pgcdc_drasi.wait_for_catchup('rel', '60s');
SELECT n, op, element_id, event->'payload'->'source'->>'table' AS kind,
	   event->'payload'->'after' AS element
FROM show_events('rel') ORDER BY n;

-- the stream
SELECT count(*) AS mark FROM pgcdc_drasi.events WHERE source_id = 'rel' \gset
-- nullable FK: set, null, back
UPDATE orders SET customer_id = 2 WHERE id = 2;
UPDATE orders SET customer_id = NULL WHERE id = 2;
UPDATE orders SET customer_id = 1 WHERE id = 2;
-- the referenced node's key changes: the referencing row follows (cascade)
UPDATE customers SET id = 10 WHERE id = 1;
-- the row's own key changes: its relations move
UPDATE orders SET id = 20 WHERE id = 2;
-- composite FK: new product, then an order of it
INSERT INTO products VALUES ('p3', 'eu', 'Ink');
INSERT INTO orders VALUES (3, 2, 'p3', 'eu', 'third');
-- REPLICA IDENTITY FULL: an update that leaves the FK alone emits nothing for it,
-- a changed manager is a delete and an insert, null a delete
INSERT INTO employees VALUES (3, 'Tom', 2);
UPDATE employees SET name = 'Thomas' WHERE id = 3;
UPDATE employees SET manager_id = 1 WHERE id = 3;
UPDATE employees SET manager_id = NULL WHERE id = 3;
-- deletes: default replica identity (no FK values in the WAL) and full
DELETE FROM orders WHERE id = 3;
DELETE FROM employees WHERE id = 2;
-- the join table: insert, update of a property, key change by cascade, delete
INSERT INTO order_items VALUES (1, 'p2', 'us', 1);
UPDATE order_items SET qty = 5 WHERE product_sku = 'p2';
UPDATE products SET sku = 'p2b' WHERE sku = 'p2';
DELETE FROM order_items WHERE product_sku = 'p1';
SELECT pgcdc_drasi.wait_for_catchup('rel');
SELECT n - :mark AS n, tx, op, element_id, event->'payload'->'source'->>'table' AS kind,
	   coalesce(event->'payload'->'after', event->'payload'->'before') AS element
FROM show_events('rel') WHERE n > :mark ORDER BY n;
SELECT * FROM check_events('rel');

-- bootstrap: node and relation labels
SELECT e FROM pgcdc_drasi.bootstrap('rel', ARRAY['CUSTOMER', 'employees', 'MANAGER', 'CONTAINS']) e
ORDER BY e->>'id';

-- truncate with CASCADE clears the relations of every table it truncates
TRUNCATE customers CASCADE;
SELECT pgcdc_drasi.wait_for_catchup('rel');
SELECT op, label, element_id, payload->'payload'->'source'->>'table' AS kind,
	   payload->'payload'->'before' AS element
FROM pgcdc_drasi.events WHERE source_id = 'rel' AND op = 't' ORDER BY seq;

-- the graph rebuilt from every event equals the one built from the tables
CREATE TEMP TABLE graph (id text PRIMARY KEY, kind text, label text, start_id text, end_id text);
CREATE FUNCTION apply_events(src text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	ev record;
	el jsonb;
BEGIN
	FOR ev IN SELECT op, payload FROM pgcdc_drasi.events WHERE source_id = src ORDER BY seq LOOP
		el := coalesce(ev.payload->'payload'->'after', ev.payload->'payload'->'before');
		IF ev.op IN ('i', 'u') THEN
			INSERT INTO graph VALUES (el->>'id', ev.payload->'payload'->'source'->>'table',
									  el->'labels'->>0, el->>'startId', el->>'endId')
			ON CONFLICT (id) DO UPDATE SET label = EXCLUDED.label, start_id = EXCLUDED.start_id,
				end_id = EXCLUDED.end_id;
		ELSIF ev.op = 'd' THEN
			DELETE FROM graph WHERE id = el->>'id';
		ELSE
			DELETE FROM graph WHERE kind = ev.payload->'payload'->'source'->>'table'
				AND starts_with(id, el->>'idPrefix');
		END IF;
	END LOOP;
END
$$;
CREATE FUNCTION table_graph() RETURNS TABLE (id text, kind text, label text, start_id text, end_id text)
LANGUAGE sql AS $$
	SELECT 'customers:' || id, 'node', 'customers', NULL, NULL FROM customers
	UNION ALL SELECT 'products:' || sku || '_' || region, 'node', 'products', NULL, NULL FROM products
	UNION ALL SELECT 'orders:' || id, 'node', 'orders', NULL, NULL FROM orders
	UNION ALL SELECT 'employees:' || id, 'node', 'employees', NULL, NULL FROM employees
	UNION ALL SELECT 'notes:' || id, 'node', 'notes', NULL, NULL FROM notes
	UNION ALL SELECT 'audit:' || id, 'node', 'audit', NULL, NULL FROM audit
	UNION ALL SELECT 'orders->CUSTOMER:' || id, 'rel', 'CUSTOMER', 'orders:' || id, 'customers:' || customer_id
		FROM orders WHERE customer_id IS NOT NULL
	UNION ALL SELECT 'orders->PRODUCTS:' || id, 'rel', 'PRODUCTS', 'orders:' || id, 'products:' || sku || '_' || region
		FROM orders WHERE sku IS NOT NULL AND region IS NOT NULL
	UNION ALL SELECT 'employees->MANAGER:' || id, 'rel', 'MANAGER', 'employees:' || id, 'employees:' || manager_id
		FROM employees WHERE manager_id IS NOT NULL
	UNION ALL SELECT 'order_items:' || order_id || '_' || product_sku || '_' || product_region, 'rel', 'CONTAINS',
		'orders:' || order_id, 'products:' || product_sku || '_' || product_region FROM order_items
	UNION ALL SELECT 'notes->ABOUT:' || id, 'rel', 'ABOUT', 'notes:' || id, 'orders:' || order_ref
		FROM notes WHERE order_ref IS NOT NULL
$$;
-- replay from the initial snapshot: take a new one and everything after it
INSERT INTO customers VALUES (5, 'Zed');
INSERT INTO orders VALUES (5, 5, 'p2b', 'us', 'fifth');
INSERT INTO order_items VALUES (5, 'p2b', 'us', 3), (5, 'p3', 'eu', 4);
UPDATE notes SET order_ref = 5;
SELECT pgcdc_drasi.resnapshot('rel');
UPDATE orders SET customer_id = NULL WHERE id = 5;
INSERT INTO employees VALUES (4, 'Ida', 1);
DO $$
BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN NOT EXISTS (SELECT FROM pgcdc_drasi.snapshot_requests WHERE source_id = 'rel')
			AND (SELECT resnapshot IS NULL FROM pgcdc_drasi.source_progress WHERE source_id = 'rel');
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
SELECT pgcdc_drasi.wait_for_catchup('rel');
SELECT count(*) > 0 AS resnapshot_has_relations FROM pgcdc_drasi.events
WHERE source_id = 'rel' AND op = 'i' AND payload->'metadata'->'snapshot' = 'true'
  AND payload->'payload'->'source'->>'table' = 'rel' AND seq > :mark;
SELECT * FROM check_events('rel');
SELECT apply_events('rel');
SELECT kind, count(*) FROM graph GROUP BY kind ORDER BY kind;
(SELECT * FROM graph EXCEPT SELECT * FROM table_graph())
UNION ALL
(SELECT * FROM table_graph() EXCEPT SELECT * FROM graph);

-- bad input
SELECT pgcdc_drasi.set_relations('rel', 'all');
SELECT pgcdc_drasi.set_relation('rel', 'notes', ARRAY['nope'], 'orders');
SELECT pgcdc_drasi.set_relation('rel', 'audit', ARRAY['hidden_id'], 'hidden');
SELECT pgcdc_drasi.set_relation('rel', 'notes', ARRAY['order_ref'], 'orders', label => 'customers');
SELECT pgcdc_drasi.set_relation('rel', 'notes', ARRAY['order_ref'], 'orders', label => 'A:B');
SELECT pgcdc_drasi.set_relation('rel', 'notes', ARRAY['order_ref', 'id'], 'orders');
SELECT pgcdc_drasi.set_relation('rel', 'orders', ARRAY['sku'], 'products');
SELECT pgcdc_drasi.set_table_mode('rel', 'notes', 'relation');
SELECT pgcdc_drasi.set_table_mode('rel', 'notes', 'edge');
SELECT pgcdc_drasi.drop_relation('rel', 'notes', 'NOPE');
SELECT pgcdc_drasi.drop_relation('rel', 'notes', 'ABOUT');
SELECT pgcdc_drasi.set_table_mode('rel', 'order_items', 'node');
SELECT count(*) FROM pgcdc_drasi.relations;
SELECT count(*) FROM pgcdc_drasi.table_modes;

SELECT pgcdc_drasi.drop_source('rel');
\c contrib_regression
DROP DATABASE pgcdc_rel WITH (FORCE);
