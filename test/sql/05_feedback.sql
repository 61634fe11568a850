-- A FOR ALL TABLES publication includes the queue itself; the worker
-- must not publish its own writes, so nothing loops.
\set VERBOSITY terse
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/helpers.sql
CREATE TABLE loop_check (id int PRIMARY KEY);
CREATE PUBLICATION pub_all FOR ALL TABLES;
SELECT pgcdc_drasi.create_source('all-tables', publication => 'pub_all', bootstrap => false);
INSERT INTO loop_check VALUES (1), (2);
SELECT pgcdc_drasi.wait_for_catchup('all-tables');
-- The worker's own commit is decoded too; wait past it as well.
SELECT pgcdc_drasi.wait_for_catchup('all-tables');
SELECT pg_sleep(0.5);
SELECT pgcdc_drasi.wait_for_catchup('all-tables');
SELECT label, op, element_id FROM pgcdc_drasi.events WHERE source_id = 'all-tables' ORDER BY seq;
SELECT pgcdc_drasi.drop_source('all-tables');
DROP PUBLICATION pub_all;
