-- 100_relations.sql: the relation functions (set_relations, set_relation,
-- drop_relation, set_table_mode): who may call them, their bad input and
-- its SQLSTATEs, and what they store.  The events are tested in
-- test/sql/13_relations.sql and test/t/039_relations_handover.pl.
--
-- Roles this file creates start with "relt_" and are dropped at the end.
\ir helpers.psql

CREATE EXTENSION pgcdc_drasi;

SET client_min_messages = warning;
DROP ROLE IF EXISTS relt_admin, relt_reader, relt_none;
RESET client_min_messages;
CREATE ROLE relt_admin NOLOGIN;
GRANT pgcdc_drasi_admin TO relt_admin;
GRANT USAGE ON SCHEMA pgcdc_drasi TO relt_admin;
CREATE ROLE relt_reader NOLOGIN;
GRANT pgcdc_drasi_reader TO relt_reader;
GRANT USAGE ON SCHEMA pgcdc_drasi TO relt_reader;
CREATE ROLE relt_none NOLOGIN;

CREATE TABLE relt_cust (id int PRIMARY KEY, name text);
CREATE TABLE relt_prod (sku text, region text, PRIMARY KEY (sku, region));
CREATE TABLE relt_ord (id int PRIMARY KEY, cust_id int REFERENCES relt_cust, buyer int,
	sku text, region text);
CREATE TABLE relt_item (ord_id int REFERENCES relt_ord, cust_id int REFERENCES relt_cust, qty int,
	PRIMARY KEY (ord_id, cust_id));
CREATE TABLE relt_nokey (v int UNIQUE);
CREATE TABLE relt_unpub (id int PRIMARY KEY);
CREATE TABLE relt_secret (id int PRIMARY KEY, c int);
GRANT SELECT ON relt_cust, relt_prod, relt_ord, relt_item, relt_nokey, relt_unpub TO relt_admin;
CREATE PUBLICATION relt_pub FOR TABLE relt_cust, relt_prod, relt_ord, relt_item, relt_nokey, relt_secret;
SELECT pgcdc_drasi.create_source('relt', publication => 'relt_pub', enabled => false);

SELECT plan(26);

-- who may call them
SET ROLE relt_none;
SELECT is((err_info($$SELECT pgcdc_drasi.set_relations('relt', 'foreign_keys')$$))[1], '42501',
	'a role without pgcdc_drasi_admin may not call set_relations');
SELECT is((err_info($$SELECT pgcdc_drasi.set_relation('relt', 'relt_ord', ARRAY['buyer'], 'relt_cust')$$))[1], '42501',
	'nor set_relation');
SELECT is((err_info($$SELECT pgcdc_drasi.drop_relation('relt', 'relt_ord', 'BUYER')$$))[1], '42501',
	'nor drop_relation');
SELECT is((err_info($$SELECT pgcdc_drasi.set_table_mode('relt', 'relt_item', 'relation')$$))[1], '42501',
	'nor set_table_mode');
RESET ROLE;
SET ROLE relt_reader;
SELECT is((err_info($$SELECT pgcdc_drasi.set_relation('relt', 'relt_ord', ARRAY['buyer'], 'relt_cust')$$))[1], '42501',
	'nor may pgcdc_drasi_reader');
SELECT is((err_info($$TABLE pgcdc_drasi.relations$$))[1], '42501',
	'pgcdc_drasi_reader does not read the relation configuration');
RESET ROLE;

SET ROLE relt_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.set_relations('relt', 'foreign_keys')$$, 'admin: set_relations');
SELECT lives_ok($$SELECT pgcdc_drasi.set_relation('relt', 'relt_ord', ARRAY['buyer'], 'relt_cust')$$,
	'admin: set_relation with the default label');
SELECT lives_ok($$SELECT pgcdc_drasi.set_relation('relt', 'relt_ord', ARRAY['sku', 'region'], 'relt_prod', 'BUYS')$$,
	'admin: set_relation of several columns');
SELECT lives_ok($$SELECT pgcdc_drasi.set_table_mode('relt', 'relt_item', 'relation')$$, 'admin: set_table_mode');
SELECT results_eq(
	$$SELECT table_id::text, label, columns, references_table::text, column_attnums
	  FROM pgcdc_drasi.relations ORDER BY label$$,
	$$VALUES ('relt_ord', 'BUYER', ARRAY['buyer'], 'relt_cust', ARRAY[3]::int2[]),
	         ('relt_ord', 'BUYS', ARRAY['sku', 'region'], 'relt_prod', ARRAY[4, 5]::int2[])$$,
	'declared relations are stored with their columns'' numbers; the default label is the column without _id, upper-cased');
SELECT results_eq($$SELECT source_id, foreign_keys FROM pgcdc_drasi.relation_options$$,
	$$VALUES ('relt', true)$$, 'set_relations is stored');
SELECT results_eq($$SELECT table_id::text, mode FROM pgcdc_drasi.table_modes$$,
	$$VALUES ('relt_item', 'relation')$$, 'set_table_mode is stored');

-- bad input
SELECT is(err_info($$SELECT pgcdc_drasi.set_relations('relt', 'everything')$$),
	ARRAY['22023', 'invalid relations "everything"', '', 'Valid values are "foreign_keys" and "none".'],
	'set_relations: an unknown mode');
SELECT is((err_info($$SELECT pgcdc_drasi.set_relations('nosuch', 'none')$$))[1], '42704',
	'set_relations: an unknown source');
SELECT is(err_info($$SELECT pgcdc_drasi.set_relation('relt', 'relt_ord', ARRAY['nope'], 'relt_cust')$$),
	ARRAY['42703', 'column "nope" of relation "relt_ord" does not exist', '', ''],
	'set_relation: an unknown column');
SELECT is((err_info($$SELECT pgcdc_drasi.set_relation('relt', 'relt_ord', ARRAY[]::text[], 'relt_cust')$$))[1], '22023',
	'set_relation: no column');
SELECT is(err_info($$SELECT pgcdc_drasi.set_relation('relt', 'relt_ord', ARRAY['buyer'], 'relt_unpub')$$),
	ARRAY['22023', 'table relt_unpub is not published by source "relt"',
	      'A relation joins nodes of the source''s publication "relt_pub".', 'Add the table to the publication first.'],
	'set_relation: a table the source does not publish');
SELECT is((err_info($$SELECT pgcdc_drasi.set_relation('relt', 'relt_ord', ARRAY['buyer'], 'relt_secret')$$))[1], '42501',
	'set_relation: a table the caller may not read');
SELECT is(err_info($$SELECT pgcdc_drasi.set_relation('relt', 'relt_ord', ARRAY['buyer'], 'relt_nokey')$$),
	ARRAY['42830', 'columns of table relt_ord cannot name the nodes of table relt_nokey',
	      'Table relt_nokey has no primary key and no key set with set_table_key, so its node ids are not made of column values.',
	      'Name one column for each key column of the referenced table, in the table''s order of those columns.'],
	'set_relation: a referenced table without a key');
SELECT is((err_info($$SELECT pgcdc_drasi.set_relation('relt', 'relt_ord', ARRAY['sku'], 'relt_prod')$$))[1], '42830',
	'set_relation: fewer columns than the referenced key');
SELECT is(err_info($$SELECT pgcdc_drasi.set_relation('relt', 'relt_ord', ARRAY['buyer'], 'relt_cust', 'relt_cust')$$),
	ARRAY['42710', 'label "relt_cust" is a node label of source "relt"',
	      'bootstrap() takes node and relation labels in one list, so a relation label must differ from every node label.',
	      'Pass another label.'],
	'set_relation: a label that is a node label');
SELECT is((err_info($$SELECT pgcdc_drasi.set_relation('relt', 'relt_ord', ARRAY['buyer'], 'relt_cust', 'A:B')$$))[1], '22023',
	'set_relation: a label with ":"');
SELECT is(err_info($$SELECT pgcdc_drasi.drop_relation('relt', 'relt_ord', 'NOPE')$$),
	ARRAY['42704', 'source "relt" has no relation "NOPE" declared for table relt_ord', '', ''],
	'drop_relation: an unknown label');
SELECT is(err_info($$SELECT pgcdc_drasi.set_table_mode('relt', 'relt_cust', 'relation')$$),
	ARRAY['42830', 'table relt_cust cannot be published as relations',
	      'A join table has exactly two foreign keys to tables of the source''s publication that name their nodes'' keys; this one has 0.',
	      'Declare the missing foreign key constraint, or publish the table as nodes with relations (pgcdc_drasi.set_relation()).'],
	'set_table_mode: a table without two foreign keys');
SELECT is((err_info($$SELECT pgcdc_drasi.set_table_mode('relt', 'relt_item', 'edge')$$))[1], '22023',
	'set_table_mode: an unknown mode');
RESET ROLE;

SELECT * FROM finish();

SELECT pgcdc_drasi.drop_source('relt');
DROP PUBLICATION relt_pub;
DROP OWNED BY relt_admin, relt_reader, relt_none;
DROP ROLE relt_admin, relt_reader, relt_none;
