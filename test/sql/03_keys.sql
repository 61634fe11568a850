-- Element ids: composite keys and their escaping, keys chosen with
-- set_table_key, key changes, replica identity indexes and keyless
-- tables.
\set VERBOSITY terse
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/helpers.sql
CREATE TABLE items (order_id int, line text, qty int, PRIMARY KEY (order_id, line));
CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, name text);
ALTER TABLE users REPLICA IDENTITY FULL;
CREATE TABLE skus (sku text NOT NULL, flag boolean NOT NULL, label char(4) NOT NULL, price int);
CREATE UNIQUE INDEX skus_ident ON skus (sku, flag, label);
ALTER TABLE skus REPLICA IDENTITY USING INDEX skus_ident;
CREATE TABLE logs (msg text, level int);
ALTER TABLE logs REPLICA IDENTITY FULL;
CREATE PUBLICATION pub_keys FOR TABLE items, users, skus, logs;
SELECT pgcdc_drasi.create_source('keys', publication => 'pub_keys', bootstrap => false);
SELECT pgcdc_drasi.set_table_key('keys', 'users', ARRAY['email']);
SELECT table_id, key_columns FROM pgcdc_drasi.table_keys WHERE source_id = 'keys';

-- Composite keys join with _, escaping _ and \ inside values.
INSERT INTO items VALUES (1, 'a', 1), (1, 'a_b', 2), (1, 'a\b', 3), (12, '3', 4), (1, '2_3', 5);
-- Custom key: email, not the primary key.
INSERT INTO users VALUES (1, 'ann@example.com', 'Ann');
UPDATE users SET name = 'Anne' WHERE id = 1;
-- A key change is a delete of the old id and an insert of the new one.
UPDATE users SET email = 'anne@example.com' WHERE id = 1;
UPDATE items SET line = 'b' WHERE order_id = 12;
-- Replica identity index key with bool and char(n) parts.
INSERT INTO skus VALUES ('x_1', true, 'ab', 10);
UPDATE skus SET price = 11;
DELETE FROM skus;
-- Keyless table: the id is a digest of the row; equal rows share it.
INSERT INTO logs VALUES ('boot', 1), ('boot', 1), ('other', NULL);
UPDATE logs SET level = 2 WHERE msg = 'other';
DELETE FROM logs WHERE msg = 'other';
DELETE FROM users;

SELECT pgcdc_drasi.wait_for_catchup('keys');
SELECT n, tx, op, element_id, coalesce(event->'payload'->'after', event->'payload'->'before') AS element
FROM show_events('keys') ORDER BY n;
SELECT * FROM check_events('keys');

-- Back to the primary key.
SELECT pgcdc_drasi.drop_table_key('keys', 'users');
INSERT INTO users VALUES (2, 'bob@example.com', 'Bob');
SELECT pgcdc_drasi.wait_for_catchup('keys');
SELECT op, element_id FROM pgcdc_drasi.events WHERE source_id = 'keys' ORDER BY seq DESC LIMIT 1;

SELECT pgcdc_drasi.drop_source('keys');
DROP PUBLICATION pub_keys;
