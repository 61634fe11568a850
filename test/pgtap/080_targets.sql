-- 080_targets.sql: targets (delivery to Redis Streams and HTTP) through
-- SQL: the happy path of every function, their refusals with exact
-- messages, who may call them, the secret url and headers, the consumer
-- row that holds a target's position, and a delivery worker that cannot
-- reach its Redis or HTTP server (accepted at creation; target_status
-- shows the error).  No Redis or HTTP server is needed here: delivery
-- itself is tested with a real redis-server in test/t/070_redis_target.pl
-- and a real HTTP receiver in test/t/071_http_target.pl.
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

SELECT plan(70);

SELECT lives_ok($$SELECT pgcdc_drasi.create_source('tgt', 'tgt_pub', bootstrap => false)$$,
	'create_source tgt');
SELECT ok(wait_state('tgt', 'streaming') = 'streaming', 'source tgt streams');
INSERT INTO tgt_t VALUES (1, 'a'), (2, 'b');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('tgt')$$, 'two events queued');

----------------------------------------------------------------------
-- Refusals
----------------------------------------------------------------------
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('t1', 'tgt', kind => 'ftp', url => 'ftp://127.0.0.1/')$$),
	ARRAY['22023', 'unknown target kind "ftp"', '', 'The kinds are "redis" (Redis Streams) and "http" (HTTP POST).'],
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
SELECT is(err_info($$SELECT options FROM pgcdc_drasi.targets$$),
	ARRAY['42501', 'permission denied for table targets', '', ''],
	'an admin cannot read the options column (HTTP headers)');
SELECT results_eq($$SELECT t.target_id, t.source_id, t.kind, s.options::text
	FROM pgcdc_drasi.targets t JOIN pgcdc_drasi.target_status s USING (target_id)$$,
	$$VALUES ('t1', 'tgt', 'redis', '{"maxlen": 1000, "stream": "tgt-changes"}')$$,
	'an admin reads the other columns, and the options in target_status');
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

----------------------------------------------------------------------
-- HTTP targets
----------------------------------------------------------------------
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'http://exa mple.com/')$$),
	ARRAY['22023', 'invalid HTTP URL for target "h1"', 'the URL is malformed (Bad hostname).',
	      'Use http://host[:port]/path or https://host[:port]/path.'],
	'a malformed HTTP URL is refused');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'https://u:s3cret@127.0.0.1:99999/')$$))[3],
	'the URL is malformed (Port number was not a decimal number between 0 and 65535).',
	'a port out of range is refused, without repeating the url');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'ftp://127.0.0.1/')$$))[3],
	'the URL must start with http:// or https://.', 'a URL of another scheme is refused');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'not a url')$$))[3],
	'the URL is malformed (Bad scheme).', 'a URL without a scheme is refused');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'http://127.0.0.1/', options => '{"format": "xml"}')$$),
	ARRAY['22023', 'invalid option "format" of target "h1"', '"format" must be "drasi-http" or "webhook".', ''],
	'an unknown format is refused');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'http://127.0.0.1/', options => '{"stream": "x"}')$$),
	ARRAY['22023', 'unknown option "stream" of target "h1"', '',
	      'Options of an http target are "format", "headers", "ca_file", "batch_size", "timeout_ms" and "start_at".'],
	'an option of Redis targets is refused for an http target');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'http://127.0.0.1/', options => '{"headers": []}')$$))[2:3],
	ARRAY['invalid option "headers" of target "h1"', '"headers" must be a JSON object of strings.'],
	'headers must be an object');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'http://127.0.0.1/', options => '{"headers": {"Authorization": 5}}')$$))[3],
	'The value of header "Authorization" must be a string.', 'a header value must be a string');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'http://127.0.0.1/', options => '{"headers": {"Content-Length": "5"}}')$$))[3],
	'Header "Content-Length" is set by pgcdc_drasi.', 'headers we set are refused');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'http://127.0.0.1/', options => '{"headers": {"Bad Name": "x"}}')$$))[3],
	'Header name "Bad Name" has a character that is not allowed.', 'a header name must be a token');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'http://127.0.0.1/', options => '{"headers": {"X-A": "s3cret\nX-B: 1"}}')$$))[3],
	'The value of header "X-A" has a line break.', 'a header value with a line break is refused, without repeating it');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'http://127.0.0.1/', options => '{"ca_file": "ca.pem"}')$$))[3],
	'"ca_file" must be an absolute path.', 'ca_file must be an absolute path');
SET ROLE tgt_reader;
SELECT is((err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'http://127.0.0.1/')$$))[1:2],
	ARRAY['42501', 'permission denied for function create_target'], 'a reader may not create http targets');
SET ROLE tgt_admin;
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http', url => 'http://127.0.0.1/', options => '{"ca_file": "/etc/ssl/certs/ca-certificates.crt"}')$$),
	ARRAY['42501', 'permission denied to set option "ca_file" of target "h1"',
	      'Only roles with privileges of the "pg_read_server_files" role may choose a file of the server.', ''],
	'only roles that may read server files choose a CA file');
SELECT lives_ok($$SELECT pgcdc_drasi.create_target('h1', 'tgt', kind => 'http',
	url => 'http://user:pa55word@127.0.0.1:1/sources/tgt/events',
	options => '{"format": "drasi-http", "headers": {"Authorization": "Bearer s3cret"}, "timeout_ms": 500}')$$,
	'an admin creates an http target whose server is not there');
SELECT is((SELECT url || ' ' || options::text FROM pgcdc_drasi.target_status WHERE target_id = 'h1'),
	'http://user:********@127.0.0.1:1/sources/tgt/events {"format": "drasi-http", "headers": {"Authorization": "********"}, "timeout_ms": 500}',
	'target_status masks the password and the header values');
SELECT ok(poll_until($$SELECT state = 'error'
	AND last_error LIKE 'could not POST to http://127.0.0.1:1/sources/tgt/events/batch: Couldn''t connect to server%'
	AND last_error_detail = 'Events seq 1 to 2 (Idempotency-Key tgt:1-2) are sent again after the backoff.'
	AND retries > 0 FROM pgcdc_drasi.target_status WHERE target_id = 'h1'$$),
	'target_status shows the connection error and counts the retries');
SELECT ok((SELECT last_error || last_error_detail NOT LIKE '%pa55word%' AND last_error || last_error_detail NOT LIKE '%s3cret%'
	FROM pgcdc_drasi.target_status WHERE target_id = 'h1'), 'the error holds neither the password nor the header');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.alter_target('h1', options => '{"maxlen": 5}')$$))[2],
	'unknown option "maxlen" of target "h1"', 'alter_target checks the options by the target''s kind');
SELECT is((err_info_rb($$SELECT pgcdc_drasi.alter_target('h1', url => 'redis://127.0.0.1')$$))[2:3],
	ARRAY['invalid HTTP URL for target "h1"', 'the URL must start with http:// or https://.'],
	'alter_target checks the url by the target''s kind');
RESET ROLE;
SELECT lives_ok($$SELECT pgcdc_drasi.alter_target('h1', options => '{"ca_file": "/etc/ssl/certs/ca-certificates.crt", "format": "webhook"}')$$,
	'a superuser chooses a CA file');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_target('h1')$$, 'drop_target of an http target');

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
