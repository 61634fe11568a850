-- Keys and exclusions that the WAL can express: a primary key outside
-- the replica identity index, excluded columns that are renamed, and a
-- key change that leaves a TOASTed value unchanged.  One source per
-- case, so that each case shows on its own.
\set VERBOSITY terse
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/helpers.sql
CREATE TABLE hist_accounts (id int PRIMARY KEY, email text NOT NULL, name text);
CREATE UNIQUE INDEX hist_accounts_email ON hist_accounts (email);
ALTER TABLE hist_accounts REPLICA IDENTITY USING INDEX hist_accounts_email;
CREATE TABLE hist_customers (id int PRIMARY KEY, name text, password_hash text);
CREATE TABLE hist_docs (id int PRIMARY KEY, title text, big text);
CREATE PUBLICATION pub_hist_pk FOR TABLE hist_accounts;
CREATE PUBLICATION pub_hist_ex FOR TABLE hist_customers;
CREATE PUBLICATION pub_hist_toast FOR TABLE hist_docs;
-- create_source says which key a table whose primary key the WAL does
-- not always carry uses.
SELECT pgcdc_drasi.create_source('hist_pk', publication => 'pub_hist_pk', bootstrap => false);
SELECT pgcdc_drasi.create_source('hist_ex', publication => 'pub_hist_ex', bootstrap => false);
SELECT pgcdc_drasi.create_source('hist_toast', publication => 'pub_hist_toast', bootstrap => false);
SELECT pgcdc_drasi.set_excluded_columns('hist_ex', 'hist_customers', ARRAY['password_hash']);
SELECT table_id, exclude_columns, exclude_attnums FROM pgcdc_drasi.table_options
WHERE source_id = 'hist_ex';

-- The replica identity index is the key: the primary key is carried
-- neither by a DELETE nor by an UPDATE that changes it.
INSERT INTO hist_accounts VALUES (1, 'a@example.com', 'A');
UPDATE hist_accounts SET id = 2;
UPDATE hist_accounts SET email = 'b@example.com';
DELETE FROM hist_accounts;
SELECT pgcdc_drasi.wait_for_catchup('hist_pk', '30s');
SELECT n, tx, op, element_id, coalesce(event->'payload'->'after', event->'payload'->'before') AS element
FROM show_events('hist_pk') ORDER BY n;

-- An excluded column stays excluded under its new name.
INSERT INTO hist_customers VALUES (1, 'Ann', 'h1');
ALTER TABLE hist_customers RENAME COLUMN password_hash TO pw_hash;
INSERT INTO hist_customers VALUES (2, 'Bob', 'h2');
UPDATE hist_customers SET pw_hash = 'h3' WHERE id = 2;
ALTER TABLE hist_customers REPLICA IDENTITY FULL;
DELETE FROM hist_customers WHERE id = 2;
SELECT table_id, exclude_columns, exclude_attnums FROM pgcdc_drasi.table_options
WHERE source_id = 'hist_ex';
SELECT pgcdc_drasi.wait_for_catchup('hist_ex', '30s');
SELECT n, tx, op, element_id, coalesce(event->'payload'->'after', event->'payload'->'before') AS element
FROM show_events('hist_ex') ORDER BY n;

-- A key change whose TOASTed value is unchanged: the new node names the
-- property the WAL does not carry; under REPLICA IDENTITY FULL it has it.
INSERT INTO hist_docs SELECT 1, 't', string_agg(md5(i::text), '') FROM generate_series(1, 2000) i;
UPDATE hist_docs SET id = 2;
UPDATE hist_docs SET title = 'u';
ALTER TABLE hist_docs REPLICA IDENTITY FULL;
UPDATE hist_docs SET id = 3;
SELECT pgcdc_drasi.wait_for_catchup('hist_toast', '30s');
SELECT n, tx, op, element_id,
	coalesce(event->'payload'->'after', event->'payload'->'before') #- '{properties,big}' AS element,
	coalesce(event->'payload'->'after', event->'payload'->'before')->'properties' ? 'big' AS has_big,
	event->'metadata'->'unavailable' AS unavailable
FROM show_events('hist_toast') ORDER BY n;

SELECT s.source_id, v.violation FROM pgcdc_drasi.sources s, check_events(s.source_id) v(violation)
WHERE s.source_id LIKE 'hist%';
SELECT source_id, state, last_error, key_fallbacks FROM pgcdc_drasi.status
WHERE source_id LIKE 'hist%' ORDER BY 1;

SELECT pgcdc_drasi.drop_source('hist_pk');
SELECT pgcdc_drasi.drop_source('hist_ex');
SELECT pgcdc_drasi.drop_source('hist_toast');
DROP PUBLICATION pub_hist_pk, pub_hist_ex, pub_hist_toast;
DROP TABLE hist_accounts, hist_customers, hist_docs;
