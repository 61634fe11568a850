-- 080_targets.sql: targets (delivery to Redis Streams) through SQL: the
-- happy path of every function, their refusals with exact messages, who
-- may call them, the secret url, the consumer row that holds a target's
-- position, and a delivery worker that cannot reach its Redis (accepted
-- at creation; target_status shows the error).  No Redis is needed here:
-- delivery itself is tested with a real redis-server in
-- test/t/070_redis_target.pl.
--
-- Roles this file creates start with "tgt_" and are dropped at the end;
-- the source (slot, origin) starts with "tgt" too.
\ir helpers.psql

CREATE EXTENSION pgcdc_drasi;

CREATE TABLE tgt_t (id int PRIMARY KEY, v text);
CREATE PUBLICATION tgt_pub FOR TABLE tgt_t;

SET client_min_messages = warning;
DROP ROLE IF EXISTS tgt_admin, tgt_reader, tgt_nobody;
RESET client_min_messages;
CREATE ROLE tgt_admin NOLOGIN;
GRANT pgcdc_drasi_admin TO tgt_admin;
GRANT USAGE ON SCHEMA pgcdc_drasi TO tgt_admin;
CREATE ROLE tgt_reader NOLOGIN;
GRANT pgcdc_drasi_reader TO tgt_reader;
GRANT USAGE ON SCHEMA pgcdc_drasi TO tgt_reader;
CREATE ROLE tgt_nobody NOLOGIN;

SELECT plan(47);

SELECT lives_ok($$SELECT pgcdc_drasi.create_source('tgt', 'tgt_pub', bootstrap => false)$$,
	'create_source tgt');
SELECT ok(wait_state('tgt', 'streaming') = 'streaming', 'source tgt streams');
INSERT INTO tgt_t VALUES (1, 'a'), (2, 'b');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('tgt')$$, 'two events queued');

----------------------------------------------------------------------
-- Refusals
----------------------------------------------------------------------
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'tgt', kind => 'http', url => 'http://127.0.0.1/')$$),
	ARRAY['22023', 'unknown target kind "http"', '', 'The only kind is "redis" (Redis Streams).'],
	'an unknown kind is refused');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'tgt', url => 'redis://:s3cret@127.0.0.1:99999/0')$$),
	ARRAY['22023', 'invalid Redis URL for target "t1"', 'the port must be a number between 1 and 65535.',
	      'Use redis://[user:password@]host[:port][/db] or unix://[user:password@]/path[?db=N].'],
	'a port out of range is refused, without repeating the url');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'tgt', url => 'http://127.0.0.1:6379')$$),
	ARRAY['22023', 'invalid Redis URL for target "t1"', 'the URL must start with redis:// or unix://.',
	      'Use redis://[user:password@]host[:port][/db] or unix://[user:password@]/path[?db=N].'],
	'a URL of another scheme is refused');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'tgt', url => 'rediss://127.0.0.1')$$))[3],
	'TLS (rediss://) is not supported.', 'rediss:// is refused');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'tgt', url => 'redis://127.0.0.1/x')$$))[3],
	'the database must be a number between 0 and 65535.', 'a database that is not a number is refused');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'tgt', url => 'redis:///0')$$))[3],
	'the URL names no host.', 'a URL without a host is refused');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'tgt', url => NULL)$$),
	ARRAY['22004', 'url must not be NULL', '', ''], 'url is required');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'tgt', url => 'redis://127.0.0.1', options => '{"bogus": 1}')$$),
	ARRAY['22023', 'unknown option "bogus" of target "t1"', '',
	      'Options of a redis target are "stream", "maxlen", "batch_size", "timeout_ms" and "start_at".'],
	'an unknown option is refused');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'tgt', url => 'redis://127.0.0.1', options => '{"batch_size": 0}')$$),
	ARRAY['22023', 'invalid option "batch_size" of target "t1"',
	      '"batch_size" must be an integer between 1 and 10000.', ''],
	'batch_size out of range is refused');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'tgt', url => 'redis://127.0.0.1', options => '[1]')$$),
	ARRAY['22023', 'options of target "t1" must be a JSON object', '', ''],
	'options that are not an object are refused');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'nope', url => 'redis://127.0.0.1')$$),
	ARRAY['42704', 'source "nope" does not exist', '', ''], 'an unknown source is refused');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('bad id', 'tgt', url => 'redis://127.0.0.1')$$),
	ARRAY['42602', 'invalid target id "bad id"',
	      'A target id has 1 to 48 characters: letters, digits, "_", "-" and ".", starting with a letter or digit.', ''],
	'an invalid target id is refused');

----------------------------------------------------------------------
-- Who may call them
----------------------------------------------------------------------
SET ROLE tgt_reader;
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'tgt', url => 'redis://127.0.0.1')$$),
	ARRAY['42501', 'permission denied for function create_target', '', ''],
	'a reader may not create targets');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.drop_target('t1')$$))[1:2],
	ARRAY['42501', 'permission denied for function drop_target'], 'a reader may not drop targets');
SET ROLE tgt_nobody;
SELECT is((err_info_rb($$SELECT pgcdc_drasi.pause_target('t1')$$))[1:2],
	ARRAY['42501', 'permission denied for schema pgcdc_drasi'], 'other roles may not pause targets');
RESET ROLE;

----------------------------------------------------------------------
-- An unreachable Redis is accepted; the status shows the error
----------------------------------------------------------------------
SET ROLE tgt_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.create_target('t1', 'tgt', url => 'redis://user:s3cret@127.0.0.1:1/2',
	options => '{"stream": "tgt-changes", "maxlen": 1000}')$$,
	'an admin creates a target whose Redis is not there');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'tgt', url => 'redis://127.0.0.1')$$),
	ARRAY['42710', 'target "t1" already exists', '',
	      'Choose another target id, or change the target with pgcdc_drasi.alter_target().'],
	'a duplicate target id is refused');
SELECT is(err_info($$SELECT url FROM pgcdc_drasi.targets$$),
	ARRAY['42501', 'permission denied for table targets', '', ''], 'an admin cannot read the url column');
SELECT results_eq($$SELECT target_id, source_id, kind, options::text FROM pgcdc_drasi.targets$$,
	$$VALUES ('t1', 'tgt', 'redis', '{"maxlen": 1000, "stream": "tgt-changes"}')$$,
	'an admin reads the other columns');
SELECT is((SELECT url FROM pgcdc_drasi.target_status WHERE target_id = 't1'),
	'redis://user:********@127.0.0.1:1/2', 'target_status masks the password');
SELECT ok(poll_until($$SELECT state = 'error' AND last_error LIKE 'could not connect to Redis:%'
	FROM pgcdc_drasi.target_status WHERE target_id = 't1'$$),
	'target_status shows the connection error');
SELECT ok((SELECT last_error_detail = 'Redis at 127.0.0.1:1, database 2, stream "tgt-changes".'
	AND last_error_time IS NOT NULL AND retries > 0 FROM pgcdc_drasi.target_status WHERE target_id = 't1'),
	'the error says where, without the password, and counts the retries');
SELECT results_eq($$SELECT delivered_seq, last_seq, lag_events FROM pgcdc_drasi.target_status$$,
	$$VALUES (0::bigint, 2::bigint, 2::bigint)$$, 'nothing delivered: lag 2');
RESET ROLE;
SELECT ok(poll_until($$SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi target'$$),
	'the delivery worker is in pg_stat_activity');
SET ROLE tgt_reader;
SELECT is((SELECT count(*) FROM pgcdc_drasi.target_status), 1::bigint, 'a reader sees target_status');
RESET ROLE;

----------------------------------------------------------------------
-- The consumer row of the target
----------------------------------------------------------------------
SELECT results_eq($$SELECT consumer, source_id, acked_seq FROM pgcdc_drasi.consumer_status$$,
	$$VALUES ('target:t1', 'tgt', 0::bigint)$$, 'the target holds its position in consumer target:t1');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.ack('target:t1', 1)$$),
	ARRAY['55000', 'consumer "target:t1" is the position of target "t1"',
	      'Only the target''s delivery worker acknowledges its events.',
	      'Use pgcdc_drasi.drop_target() to remove the target.'],
	'ack of a target''s consumer is refused');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.drop_consumer('target:t1')$$))[2],
	'consumer "target:t1" is the position of target "t1"', 'drop_consumer of a target''s consumer is refused');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_consumer('target:x', 'tgt')$$),
	ARRAY['42939', 'consumer name "target:x" is reserved', 'Names starting with "target:" hold the positions of targets.', ''],
	'consumer names starting with target: are reserved');

----------------------------------------------------------------------
-- alter, pause, resume, drop
----------------------------------------------------------------------
SELECT is((err_info_rb($$SELECT pgcdc_drasi.alter_target('t1', url => 'redis://h:0')$$))[2],
	'invalid Redis URL for target "t1"', 'alter_target checks the url');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.alter_target('t1', options => '{"maxlen": -1}')$$))[2],
	'invalid option "maxlen" of target "t1"', 'alter_target checks the options');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.alter_target('nope', url => 'redis://127.0.0.1')$$),
	ARRAY['42704', 'target "nope" does not exist', '', ''], 'alter_target of an unknown target');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_target('t1', url => 'redis://127.0.0.1:2/3')$$, 'alter_target url');
SELECT ok(poll_until($$SELECT last_error_detail LIKE 'Redis at 127.0.0.1:2, database 3%'
	FROM pgcdc_drasi.target_status WHERE target_id = 't1'$$),
	'the worker reconnects with the new url');
SELECT lives_ok($$SELECT pgcdc_drasi.pause_target('t1')$$, 'pause_target');
SELECT ok(poll_until($$SELECT state = 'paused' AND pid IS NULL FROM pgcdc_drasi.target_status$$)
	AND poll_until($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi target'$$),
	'a paused target has no worker');
SELECT lives_ok($$SELECT pgcdc_drasi.resume_target('t1')$$, 'resume_target');
SELECT ok(poll_until($$SELECT pid IS NOT NULL FROM pgcdc_drasi.target_status$$), 'a resumed target has a worker');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_target('t1')$$, 'drop_target');
SELECT ok((SELECT count(*) = 0 FROM pgcdc_drasi.target_status)
	AND (SELECT count(*) = 0 FROM pgcdc_drasi.consumers)
	AND (SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi target'),
	'the target, its consumer row and its worker are gone');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.drop_target('t1')$$),
	ARRAY['42704', 'target "t1" does not exist', '', ''], 'drop_target of an unknown target');

-- drop_source takes its targets along
SELECT lives_ok($$SELECT pgcdc_drasi.create_target('t2', 'tgt', url => 'unix:///nonexistent/redis.sock?db=1')$$,
	'create_target with a unix socket');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('tgt')$$, 'drop_source');
SELECT ok((SELECT count(*) = 0 FROM pgcdc_drasi.targets) AND (SELECT count(*) = 0 FROM pgcdc_drasi.consumers)
	AND poll_until($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi target'$$),
	'the source''s targets are gone with it');

SELECT * FROM finish();

DROP PUBLICATION tgt_pub;
DROP OWNED BY tgt_admin, tgt_reader, tgt_nobody;
DROP ROLE tgt_admin, tgt_reader, tgt_nobody;
