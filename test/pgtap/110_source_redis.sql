-- 110_source_redis.sql: the redis sink of sources through SQL: creating
-- a source with it, set_source_redis and its refusals with exact
-- messages, who may call it, the secret URL, what a source without a
-- queue refuses (consumers, targets, snapshots, another sink), and a
-- worker that cannot reach its Redis (status shows the error).  Writing
-- to a real redis-server is tested in test/t/072_redis_direct.pl.
--
-- Roles this file creates start with "srd_"; the sources with "srd".
\ir helpers.psql

CREATE EXTENSION pgcdc_drasi;

CREATE TABLE srd_t (id int PRIMARY KEY, v text);
CREATE PUBLICATION srd_pub FOR TABLE srd_t;

SET client_min_messages = warning;
DROP ROLE IF EXISTS srd_admin, srd_reader;
RESET client_min_messages;
CREATE ROLE srd_admin NOLOGIN;
GRANT pgcdc_drasi_admin TO srd_admin;
GRANT USAGE ON SCHEMA pgcdc_drasi TO srd_admin;
CREATE ROLE srd_reader NOLOGIN;
GRANT pgcdc_drasi_reader TO srd_reader;
GRANT USAGE ON SCHEMA pgcdc_drasi TO srd_reader;
GRANT SELECT ON srd_t TO srd_admin;

SELECT plan(27);

----------------------------------------------------------------------
-- Creating a source with the redis sink
----------------------------------------------------------------------
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_source('srd', 'srd_pub', sink => 'redis')$$),
	ARRAY['22023', 'source "srd" with the redis sink must be created with enabled => false and bootstrap => false',
	      'The redis sink needs its Redis URL (set_source_redis) before it starts, and writes no snapshot.',
	      'Create it paused and without snapshot, call pgcdc_drasi.set_source_redis(''srd'', url => ...), then pgcdc_drasi.resume_source(''srd'').'],
	'a redis sink source that would start at once is refused');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_source('srd', 'srd_pub', sink => 'redis', enabled => false)$$))[2],
	'source "srd" with the redis sink must be created with enabled => false and bootstrap => false',
	'a redis sink source with an initial snapshot is refused');
SET ROLE srd_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('srd', 'srd_pub', sink => 'redis', enabled => false,
	bootstrap => false)$$, 'an admin creates a paused redis sink source');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.resume_source('srd')$$),
	ARRAY['55000', 'source "srd" has the redis sink but no Redis URL', '',
	      'Set it first with pgcdc_drasi.set_source_redis(''srd'', url => ...).'],
	'it cannot start without a URL');

----------------------------------------------------------------------
-- set_source_redis: refusals
----------------------------------------------------------------------
SELECT is(err_info_rb($$SELECT pgcdc_drasi.set_source_redis('srd', 'http://s3cret@127.0.0.1:6379')$$),
	ARRAY['22023', 'invalid Redis URL for source "srd"', 'the URL must start with redis:// or unix://.',
	      'Use redis://[user:password@]host[:port][/db] or unix://[user:password@]/path[?db=N].'],
	'a malformed URL is refused, without repeating it');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.set_source_redis('srd', 'redis://:s3cret@127.0.0.1:99999/0')$$))[3],
	'the port must be a number between 1 and 65535.', 'a port out of range is refused');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.set_source_redis('srd', NULL)$$),
	ARRAY['22004', 'url must not be NULL', '', ''], 'url is required');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.set_source_redis('srd', 'redis://127.0.0.1', '{"start_at": "latest"}')$$),
	ARRAY['22023', 'unknown option "start_at" of the redis sink of source "srd"', '',
	      'Options of the redis sink are "stream", "maxlen", "batch_size" and "timeout_ms".'],
	'an unknown option is refused');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.set_source_redis('srd', 'redis://127.0.0.1', '{"batch_size": 0}')$$))[2:3],
	ARRAY['invalid option "batch_size" of the redis sink of source "srd"',
	      '"batch_size" must be an integer between 1 and 10000.'],
	'batch_size out of range is refused');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.set_source_redis('nope', 'redis://127.0.0.1')$$),
	ARRAY['42704', 'source "nope" does not exist', '', ''], 'an unknown source is refused');
RESET ROLE;
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('srdq', 'srd_pub', bootstrap => false, enabled => false)$$,
	'a queue source on the same publication');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.set_source_redis('srdq', 'redis://127.0.0.1')$$),
	ARRAY['55000', 'source "srdq" does not have the redis sink', 'Its sink is "queue".',
	      'Create a source with sink => ''redis'', enabled => false, bootstrap => false.'],
	'set_source_redis refuses a source with another sink');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.alter_source('srdq', sink => 'redis')$$),
	ARRAY['0A000', 'the sink of source "srdq" cannot change from "queue" to "redis"',
	      'A source with the redis sink writes no queue, and numbers its stream by commit position.',
	      'Create another source with the sink you want.'],
	'alter_source cannot switch a source to the redis sink');

----------------------------------------------------------------------
-- Who may call it, who reads the URL
----------------------------------------------------------------------
SET ROLE srd_reader;
SELECT is((err_info_rb($$SELECT pgcdc_drasi.set_source_redis('srd', 'redis://127.0.0.1')$$))[1:2],
	ARRAY['42501', 'permission denied for function set_source_redis'], 'a reader may not call set_source_redis');
SET ROLE srd_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.set_source_redis('srd', 'redis://user:s3cret@127.0.0.1:1/2',
	'{"stream": "srd-changes", "maxlen": 1000}')$$, 'an admin sets the Redis URL');
SELECT is(err_info($$SELECT url FROM pgcdc_drasi.source_redis$$),
	ARRAY['42501', 'permission denied for table source_redis', '', ''], 'an admin cannot read the URL');
SET ROLE srd_reader;
SELECT is((err_info($$SELECT * FROM pgcdc_drasi.source_redis$$))[1], '42501', 'nor can a reader');
RESET ROLE;
SELECT results_eq($$SELECT source_id, url, options::text FROM pgcdc_drasi.source_redis$$,
	$$VALUES ('srd', 'redis://user:s3cret@127.0.0.1:1/2', '{"maxlen": 1000, "stream": "srd-changes"}')$$,
	'the superuser reads it');

----------------------------------------------------------------------
-- No queue: no consumers, targets or snapshots; another sink refused
----------------------------------------------------------------------
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_consumer('srd_c', 'srd')$$),
	ARRAY['55000', 'source "srd" writes its events straight to Redis',
	      'Consumers and targets read the queue, which a source with the redis sink does not write.',
	      'Create another source with the queue sink on the same publication.'],
	'no consumer for a redis sink source');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('srd_t', 'srd', url => 'redis://127.0.0.1')$$))[2],
	'source "srd" writes its events straight to Redis', 'no target for a redis sink source');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.resnapshot('srd')$$))[1:2],
	ARRAY['0A000', 'source "srd" with the redis sink cannot take snapshots'], 'no re-snapshot');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.alter_source('srd', sink => 'queue')$$))[2],
	'the sink of source "srd" cannot change from "redis" to "queue"', 'no other sink');

----------------------------------------------------------------------
-- A worker that cannot reach its Redis shows the error
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.resume_source('srd')$$, 'resume_source with its URL set');
SELECT ok(wait_state('srd', 'streaming') = 'streaming', 'the redis sink source streams');
INSERT INTO srd_t VALUES (1, 'a');
SELECT ok(poll_until($$SELECT state = 'error' AND last_error LIKE 'could not connect to Redis:%'
	AND last_error NOT LIKE '%s3cret%' AND last_error_detail NOT LIKE '%s3cret%'
	FROM pgcdc_drasi.status WHERE source_id = 'srd'$$),
	'status shows that Redis cannot be reached, without the password');

SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('srd')$$, 'drop_source of a redis sink source');
SELECT ok(NOT EXISTS (SELECT 1 FROM pgcdc_drasi.source_redis), 'its Redis settings are gone with it');
SELECT pgcdc_drasi.drop_source('srdq');

SELECT * FROM finish();

DROP PUBLICATION srd_pub;
DROP OWNED BY srd_admin, srd_reader;
DROP ROLE srd_admin, srd_reader;
