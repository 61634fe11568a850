-- 040_consumers.sql: durable consumers of a source's queue (create_consumer,
-- read, ack, drop_consumer, consumer_status), their errors and ownership,
-- retention of acknowledged events, alter_source and the sink switch (seq
-- stays contiguous across switches), and get_events.
--
-- No enclosing transaction: create_source needs a transaction that has not
-- written yet, and the worker only sees committed changes.  Roles this
-- file creates start with "con_" and are dropped at the end; sources,
-- slots and origins start with "con" too.
\ir helpers.psql

CREATE EXTENSION pgcdc_drasi;

-- What each consumer received, in the order it received it.
CREATE TABLE con_log (n bigserial, consumer text, seq bigint, element_id text, op text);
GRANT SELECT, INSERT ON con_log TO PUBLIC;
GRANT USAGE ON SEQUENCE con_log_n_seq TO PUBLIC;

-- Drain a consumer: read batches of at most batch events, log them, ack
-- the last one of each batch, until read returns nothing.  Returns the
-- number of events received.
CREATE FUNCTION con_drain(c text, batch int)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	r record;
	got int := 0;
	last bigint;
BEGIN
	LOOP
		last := NULL;
		FOR r IN SELECT * FROM pgcdc_drasi.read(c, batch) LOOP
			INSERT INTO con_log (consumer, seq, element_id, op) VALUES (c, r.seq, r.element_id, r.op);
			last := r.seq;
			got := got + 1;
		END LOOP;
		EXIT WHEN last IS NULL;
		PERFORM pgcdc_drasi.ack(c, last);
	END LOOP;
	RETURN got;
END
$$;
GRANT EXECUTE ON FUNCTION con_drain(text, int) TO PUBLIC;

SET client_min_messages = warning;
DROP ROLE IF EXISTS con_reader1, con_reader2, con_admin;
RESET client_min_messages;
CREATE ROLE con_reader1 NOLOGIN;
GRANT pgcdc_drasi_reader TO con_reader1;
GRANT USAGE ON SCHEMA pgcdc_drasi TO con_reader1;
CREATE ROLE con_reader2 NOLOGIN;
GRANT pgcdc_drasi_reader TO con_reader2;
GRANT USAGE ON SCHEMA pgcdc_drasi TO con_reader2;
CREATE ROLE con_admin NOLOGIN;
GRANT pgcdc_drasi_admin TO con_admin;
GRANT USAGE ON SCHEMA pgcdc_drasi TO con_admin;

CREATE TABLE con_t (id int PRIMARY KEY, v text);
CREATE PUBLICATION con_pub FOR TABLE con_t;
CREATE TABLE con_sw_t (id int PRIMARY KEY, v text);
CREATE PUBLICATION con_sw_pub FOR TABLE con_sw_t;

SELECT plan(139);

SELECT lives_ok($$SELECT pgcdc_drasi.create_source('con_src', 'con_pub')$$, 'create_source con_src (sink queue)');
SELECT ok(poll_until($$SELECT state = 'streaming' FROM pgcdc_drasi.status WHERE source_id = 'con_src'$$),
	'con_src streams');

----------------------------------------------------------------------
-- A consumer created before any event
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer('c_early', 'con_src')$$,
	'create_consumer on a source without events (start_at defaults to earliest)');
SELECT results_eq(
	$$SELECT consumer, source_id, owner::text, acked_seq, last_seq, lag_events, acked_at,
	         created_at <= now()
	  FROM pgcdc_drasi.consumer_status$$,
	$$VALUES ('c_early', 'con_src', 'postgres', 0::bigint, 0::bigint, 0::bigint, NULL::timestamptz, true)$$,
	'consumer_status: at seq 0, no lag, never acknowledged, owned by its creator');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.read('c_early')$$, 'read of an empty queue returns nothing');
SELECT lives_ok($$SELECT pgcdc_drasi.ack('c_early', 0)$$, 'ack of the current position is accepted');
SELECT is((SELECT acked_at FROM pgcdc_drasi.consumer_status WHERE consumer = 'c_early'), NULL::timestamptz,
	'an ack that does not move the position leaves acked_at alone');

BEGIN;
INSERT INTO con_t VALUES (1, 'a'), (2, 'b'), (3, 'c');
COMMIT;
UPDATE con_t SET v = 'bb' WHERE id = 2;
DELETE FROM con_t WHERE id = 3;
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('con_src')$$, 'wait_for_catchup');

SELECT results_eq(
	$$SELECT seq, source_id, op, element_id, tx_index FROM pgcdc_drasi.read('c_early')$$,
	$$VALUES (1::bigint, 'con_src', 'i', 'con_t:1', 0), (2::bigint, 'con_src', 'i', 'con_t:2', 1),
	         (3::bigint, 'con_src', 'i', 'con_t:3', 2), (4::bigint, 'con_src', 'u', 'con_t:2', 0),
	         (5::bigint, 'con_src', 'd', 'con_t:3', 0)$$,
	'read returns the events after the acked position, in seq order');
-- (pg_snapshot has no equality operator: whole rows compare as text)
SELECT results_eq(
	$$SELECT r::text FROM pgcdc_drasi.read('c_early') r$$,
	$$SELECT e::text FROM pgcdc_drasi.events e WHERE source_id = 'con_src' ORDER BY seq$$,
	'reading moves nothing: the same rows again, whole pgcdc_drasi.events rows');
SELECT results_eq(
	$$SELECT seq FROM pgcdc_drasi.read('c_early', 2)$$,
	$$VALUES (1::bigint), (2::bigint)$$,
	'read with max_events 2 returns the first two');
SELECT results_eq(
	$$SELECT acked_seq, last_seq, lag_events FROM pgcdc_drasi.consumer_status WHERE consumer = 'c_early'$$,
	$$VALUES (0::bigint, 5::bigint, 5::bigint)$$,
	'consumer_status: five events behind');

SELECT lives_ok($$SELECT pgcdc_drasi.ack('c_early', 2)$$, 'ack(2)');
SELECT results_eq(
	$$SELECT seq FROM pgcdc_drasi.read('c_early')$$,
	$$VALUES (3::bigint), (4::bigint), (5::bigint)$$,
	'after ack(2), read starts at seq 3');
SELECT results_eq(
	$$SELECT acked_seq, last_seq, lag_events, acked_at IS NOT NULL AND acked_at <= now()
	  FROM pgcdc_drasi.consumer_status WHERE consumer = 'c_early'$$,
	$$VALUES (2::bigint, 5::bigint, 3::bigint, true)$$,
	'consumer_status after ack(2): acked 2, lag 3, acked_at set');
SELECT lives_ok($$SELECT pgcdc_drasi.ack('c_early', 2)$$, 'ack of the same seq again is accepted');
SELECT is(err_info($$SELECT pgcdc_drasi.ack('c_early', 1)$$),
	ARRAY['22023', 'cannot move consumer "c_early" back to seq 1', 'It has acknowledged up to seq 2.', ''],
	'ack backwards is refused (message and detail)');
SELECT is(err_info($$SELECT pgcdc_drasi.ack('c_early', 6)$$),
	ARRAY['22023', 'cannot acknowledge seq 6 of source "con_src"', 'The source has published up to seq 5.', ''],
	'ack beyond the last published seq is refused (message and detail)');
SELECT throws_ok($$SELECT pgcdc_drasi.ack('c_early', -1)$$,
	'22023', 'cannot move consumer "c_early" back to seq -1', 'ack of a negative seq is refused');
SELECT is((SELECT acked_seq FROM pgcdc_drasi.consumer_status WHERE consumer = 'c_early'), 2::bigint,
	'refused acks left the position alone');
SELECT lives_ok($$SELECT pgcdc_drasi.ack('c_early', 4)$$, 'ack may skip events that were not read');
SELECT results_eq($$SELECT seq FROM pgcdc_drasi.read('c_early')$$, $$VALUES (5::bigint)$$,
	'after ack(4), only seq 5 is left');

----------------------------------------------------------------------
-- start_at
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer('c_latest', 'con_src', 'latest')$$,
	'create_consumer with start_at latest');
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer('c_earliest', 'con_src', 'earliest')$$,
	'create_consumer with start_at earliest');
SELECT results_eq(
	$$SELECT consumer, acked_seq, lag_events FROM pgcdc_drasi.consumer_status
	  WHERE consumer IN ('c_latest', 'c_earliest') ORDER BY consumer COLLATE "C"$$,
	$$VALUES ('c_earliest', 0::bigint, 5::bigint), ('c_latest', 5::bigint, 0::bigint)$$,
	'earliest starts before the oldest queued event, latest after the last published one');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.read('c_latest')$$, 'a latest consumer reads nothing old');
SELECT results_eq($$SELECT seq FROM pgcdc_drasi.read('c_earliest')$$,
	$$VALUES (1::bigint), (2::bigint), (3::bigint), (4::bigint), (5::bigint)$$,
	'an earliest consumer reads every queued event');

INSERT INTO con_t VALUES (4, 'd');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('con_src')$$, 'wait_for_catchup');
SELECT results_eq($$SELECT seq, element_id FROM pgcdc_drasi.read('c_latest')$$,
	$$VALUES (6::bigint, 'con_t:4')$$,
	'a latest consumer reads what comes after its creation');

----------------------------------------------------------------------
-- Several consumers of one source: each sees every event once, in order
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer('c_a', 'con_src')$$, 'consumer c_a');
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer('c_b', 'con_src')$$, 'consumer c_b');
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer('c_c', 'con_src')$$, 'consumer c_c');
SELECT is(con_drain('c_a', 4), 6, 'c_a drains the 6 events in batches of 4');
-- 150 events in one transaction, 10 in ten more
INSERT INTO con_t SELECT g, 'bulk' FROM generate_series(100, 249) g;
DO $$BEGIN
	FOR i IN 300..309 LOOP
		INSERT INTO con_t VALUES (i, 'single');
		COMMIT;
	END LOOP;
END$$;
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('con_src')$$, 'wait_for_catchup after 160 more events');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.read('c_c')), 100, 'read returns at most 100 events by default');
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.read('c_c', 1000000)), 166, 'max_events 1000000 is accepted');
SELECT is(con_drain('c_a', 7), 160, 'c_a drains the rest in batches of 7');
SELECT is(con_drain('c_b', 1), 166, 'c_b drains everything one by one');
SELECT is(con_drain('c_c', 1000), 166, 'c_c drains everything in one batch');
SELECT results_eq(
	$$SELECT consumer, array_agg(seq ORDER BY n) = array_agg(seq ORDER BY seq), count(*), count(DISTINCT seq),
	         min(seq), max(seq)
	  FROM con_log GROUP BY consumer ORDER BY consumer COLLATE "C"$$,
	$$VALUES ('c_a', true, 166::bigint, 166::bigint, 1::bigint, 166::bigint),
	         ('c_b', true, 166::bigint, 166::bigint, 1::bigint, 166::bigint),
	         ('c_c', true, 166::bigint, 166::bigint, 1::bigint, 166::bigint)$$,
	'each consumer received seq 1..166 once each, in seq order');
SELECT is_empty(
	$$SELECT l.consumer, l.seq FROM con_log l
	  LEFT JOIN (SELECT seq, element_id, op FROM pgcdc_drasi.events WHERE source_id = 'con_src') e USING (seq)
	  WHERE e.element_id IS DISTINCT FROM l.element_id OR e.op IS DISTINCT FROM l.op$$,
	'what the consumers received is the queue content');
SELECT results_eq(
	$$SELECT element_id FROM con_log WHERE consumer = 'c_b' AND seq > 6 ORDER BY n$$,
	$$SELECT 'con_t:' || g FROM generate_series(100, 249) g UNION ALL SELECT 'con_t:' || g FROM generate_series(300, 309) g$$,
	'the events arrive in commit order, rows of a transaction in their order');
SELECT results_eq(
	$$SELECT consumer, acked_seq, last_seq, lag_events FROM pgcdc_drasi.consumer_status ORDER BY consumer COLLATE "C"$$,
	$$VALUES ('c_a', 166::bigint, 166::bigint, 0::bigint), ('c_b', 166::bigint, 166::bigint, 0::bigint),
	         ('c_c', 166::bigint, 166::bigint, 0::bigint), ('c_earliest', 0::bigint, 166::bigint, 166::bigint),
	         ('c_early', 4::bigint, 166::bigint, 162::bigint), ('c_latest', 5::bigint, 166::bigint, 161::bigint)$$,
	'consumer_status of all consumers');

----------------------------------------------------------------------
-- Retention: events every consumer acknowledged are deleted by the worker
----------------------------------------------------------------------
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.events WHERE source_id = 'con_src'), 166,
	'nothing is deleted while a consumer is at seq 0');
SELECT lives_ok($$SELECT pgcdc_drasi.ack('c_earliest', 100)$$, 'c_earliest acks 100');
SELECT lives_ok($$SELECT pgcdc_drasi.ack('c_early', 50)$$, 'c_early acks 50');
SELECT lives_ok($$SELECT pgcdc_drasi.ack('c_latest', 60)$$, 'c_latest acks 60');
SELECT ok(poll_until($$SELECT min(seq) = 51 FROM pgcdc_drasi.events WHERE source_id = 'con_src'$$),
	'the worker deletes the events up to the lowest acknowledged seq (50)');
SELECT results_eq(
	$$SELECT count(*), min(seq), max(seq) FROM pgcdc_drasi.events WHERE source_id = 'con_src'$$,
	$$VALUES (116::bigint, 51::bigint, 166::bigint)$$,
	'events 51..166 are kept');
SELECT results_eq($$SELECT seq FROM pgcdc_drasi.read('c_early', 2)$$, $$VALUES (51::bigint), (52::bigint)$$,
	'the slowest consumer still reads everything it has not acknowledged');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_consumer('c_early')$$, 'drop the slowest consumer');
SELECT ok(poll_until($$SELECT min(seq) = 61 FROM pgcdc_drasi.events WHERE source_id = 'con_src'$$),
	'dropping the slowest consumer lets retention move on to the next lowest (60)');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.read('c_early')$$,
	'42704', 'consumer "c_early" does not exist', 'a dropped consumer is gone');
SELECT lives_ok($$SELECT pgcdc_drasi.ack('c_earliest', 166)$$, 'c_earliest acks everything');
SELECT lives_ok($$SELECT pgcdc_drasi.ack('c_latest', 166)$$, 'c_latest acks everything');
SELECT ok(poll_until($$SELECT count(*) = 0 FROM pgcdc_drasi.events WHERE source_id = 'con_src'$$),
	'once every consumer acknowledged everything, the queue of the source is empty');
SELECT is((SELECT last_seq FROM pgcdc_drasi.source_progress WHERE source_id = 'con_src'), 166::bigint,
	'last_seq is kept when the events are gone');
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer('c_empty', 'con_src', 'earliest')$$,
	'create_consumer earliest on an emptied queue');
SELECT results_eq($$SELECT acked_seq, lag_events FROM pgcdc_drasi.consumer_status WHERE consumer = 'c_empty'$$,
	$$VALUES (166::bigint, 0::bigint)$$, 'earliest on an empty queue starts after the last published seq');
INSERT INTO con_t VALUES (5, 'e');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('con_src')$$, 'wait_for_catchup');
SELECT results_eq($$SELECT seq, element_id FROM pgcdc_drasi.read('c_empty')$$, $$VALUES (167::bigint, 'con_t:5')$$,
	'numbering goes on at 167 after the queue was emptied');

----------------------------------------------------------------------
-- Errors
----------------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.read('nope')$$,
	'42704', 'consumer "nope" does not exist', 'read: unknown consumer');
SELECT throws_ok($$SELECT pgcdc_drasi.ack('nope', 1)$$,
	'42704', 'consumer "nope" does not exist', 'ack: unknown consumer');
SELECT throws_ok($$SELECT pgcdc_drasi.drop_consumer('nope')$$,
	'42704', 'consumer "nope" does not exist', 'drop_consumer: unknown consumer');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.read('C_A')$$,
	'42704', 'consumer "C_A" does not exist', 'consumer names are case-sensitive');
SELECT is(err_info($$SELECT pgcdc_drasi.create_consumer('c_a', 'con_src')$$),
	ARRAY['42710', 'consumer "c_a" already exists', '', ''],
	'create_consumer: duplicate name');
SELECT throws_ok($$SELECT pgcdc_drasi.create_consumer('c_a', 'con_src', 'latest')$$,
	'42710', 'consumer "c_a" already exists', 'create_consumer: duplicate name with another start_at');
SELECT throws_ok($$SELECT pgcdc_drasi.create_consumer('c_new', 'con_nosuch')$$,
	'42704', 'source "con_nosuch" does not exist', 'create_consumer: unknown source');
SELECT is(err_info($$SELECT pgcdc_drasi.create_consumer('c_new', 'con_src', 'first')$$),
	ARRAY['22023', 'invalid start_at "first"', '', 'Valid values are "earliest" and "latest".'],
	'create_consumer: invalid start_at (message and hint)');
SELECT throws_ok($$SELECT pgcdc_drasi.create_consumer('c_new', 'con_src', 'LATEST')$$,
	'22023', 'invalid start_at "LATEST"', 'create_consumer: start_at is case-sensitive');
SELECT is(err_info($$SELECT pgcdc_drasi.create_consumer('', 'con_src')$$),
	ARRAY['42602', 'invalid consumer name ""', 'A consumer name has 1 to 63 bytes.', ''],
	'create_consumer: empty name (message and detail)');
SELECT throws_ok($$SELECT pgcdc_drasi.create_consumer(repeat('n', 64), 'con_src')$$,
	'42602', 'invalid consumer name "' || repeat('n', 64) || '"', 'create_consumer: 64-byte name');
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer(repeat('n', 63), 'con_src')$$, 'create_consumer: 63-byte name');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_consumer(repeat('n', 63))$$, 'drop_consumer of the 63-byte name');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.read('c_a', 0)$$,
	'22023', 'max_events must be between 1 and 1000000', 'read: max_events 0');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.read('c_a', -5)$$,
	'22023', 'max_events must be between 1 and 1000000', 'read: negative max_events');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.read('c_a', 1000001)$$,
	'22023', 'max_events must be between 1 and 1000000', 'read: max_events 1000001');
SELECT results_eq($$SELECT consumer FROM pgcdc_drasi.consumer_status ORDER BY consumer COLLATE "C"$$,
	$$VALUES ('c_a'), ('c_b'), ('c_c'), ('c_earliest'), ('c_empty'), ('c_latest')$$,
	'refused create_consumer calls created no consumer');

----------------------------------------------------------------------
-- Ownership: only the creating role and pgcdc_drasi_admin use a consumer
----------------------------------------------------------------------
SET ROLE con_reader1;
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer('c_r1', 'con_src', 'earliest')$$,
	'reader 1 creates a consumer');
SELECT results_eq($$SELECT seq FROM pgcdc_drasi.read('c_r1')$$, $$VALUES (167::bigint)$$, 'reader 1 reads it');
SELECT is(con_drain('c_r1', 10), 1, 'reader 1 reads and acks through it');
RESET ROLE;
SELECT is((SELECT owner::text FROM pgcdc_drasi.consumer_status WHERE consumer = 'c_r1'), 'con_reader1',
	'the consumer belongs to reader 1');
SET ROLE con_reader2;
SELECT is(err_info_rb($$SELECT * FROM pgcdc_drasi.read('c_r1')$$),
	ARRAY['42501', 'permission denied for consumer "c_r1"',
	      'Only the role that created it, and pgcdc_drasi_admin, may use it.', ''],
	'another reader cannot read the consumer (message and detail)');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.ack('c_r1', 167)$$),
	ARRAY['42501', 'permission denied for consumer "c_r1"',
	      'Only the role that created it, and pgcdc_drasi_admin, may use it.', ''],
	'another reader cannot ack it');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.drop_consumer('c_r1')$$),
	ARRAY['42501', 'permission denied for consumer "c_r1"',
	      'Only the role that created it, and pgcdc_drasi_admin, may use it.', ''],
	'another reader cannot drop it');
SELECT is(err_info_rb($$SELECT pgcdc_drasi.create_consumer('c_r1', 'con_src')$$),
	ARRAY['42710', 'consumer "c_r1" already exists', '', ''],
	'another reader cannot take the name');
SELECT results_eq($$SELECT consumer, acked_seq FROM pgcdc_drasi.consumer_status WHERE consumer = 'c_r1'$$,
	$$VALUES ('c_r1', 167::bigint)$$, 'another reader sees the consumer in consumer_status');
RESET ROLE;
INSERT INTO con_t VALUES (6, 'f'), (7, 'g');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('con_src')$$, 'wait_for_catchup');
SET ROLE con_admin;
SELECT results_eq($$SELECT seq, element_id FROM pgcdc_drasi.read('c_r1')$$,
	$$VALUES (168::bigint, 'con_t:6'), (169::bigint, 'con_t:7')$$, 'pgcdc_drasi_admin reads any consumer');
SELECT lives_ok($$SELECT pgcdc_drasi.ack('c_r1', 168)$$, 'pgcdc_drasi_admin acks any consumer');
RESET ROLE;
SET ROLE con_reader1;
SELECT results_eq($$SELECT seq FROM pgcdc_drasi.read('c_r1')$$, $$VALUES (169::bigint)$$,
	'the owner sees the position the admin set');
RESET ROLE;
SET ROLE con_admin;
SELECT lives_ok($$SELECT pgcdc_drasi.drop_consumer('c_r1')$$, 'pgcdc_drasi_admin drops any consumer');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM pgcdc_drasi.consumer_status WHERE consumer = 'c_r1'), 0, 'c_r1 is gone');

----------------------------------------------------------------------
-- A late joiner: create_consumer with bootstrap => true stores the
-- snapshot of its REPEATABLE READ transaction, the one bootstrap() reads,
-- and read() skips the events of transactions that snapshot shows.  With
-- the source paused, a change committed before the consumer (in
-- bootstrap(), not yet queued) and one after it (in neither) are both
-- published after the consumer was created.
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.pause_source('con_src')$$, 'pause con_src');
SELECT ok(poll_until($$SELECT pid IS NULL FROM pgcdc_drasi.status WHERE source_id = 'con_src'$$),
	'con_src has no worker');
INSERT INTO con_t VALUES (400, 'before the late joiner');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer('c_late', 'con_src', bootstrap => true)$$,
	'create_consumer with bootstrap => true in a REPEATABLE READ transaction');
SELECT results_eq(
	$$SELECT e->'properties' FROM pgcdc_drasi.bootstrap('con_src') e WHERE e->>'id' IN ('con_t:400', 'con_t:401')$$,
	$$VALUES ('{"id": 400, "v": "before the late joiner"}'::jsonb)$$,
	'bootstrap() in the same transaction shows the change committed before the consumer');
COMMIT;
SELECT results_eq(
	$$SELECT c.snapshot IS NOT NULL, c.acked_seq = (SELECT min(seq) - 1 FROM pgcdc_drasi.events WHERE source_id = 'con_src')
	  FROM pgcdc_drasi.consumers c WHERE consumer = 'c_late'$$,
	$$VALUES (true, true)$$,
	'the late joiner stores its snapshot and starts before the oldest queued event');
INSERT INTO con_t VALUES (401, 'after the late joiner');
SELECT lives_ok($$SELECT pgcdc_drasi.resume_source('con_src')$$, 'resume con_src');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('con_src')$$, 'wait_for_catchup after the resume');
SELECT results_eq(
	$$SELECT op, element_id FROM pgcdc_drasi.events WHERE source_id = 'con_src' AND element_id IN ('con_t:400', 'con_t:401') ORDER BY seq$$,
	$$VALUES ('i', 'con_t:400'), ('i', 'con_t:401')$$,
	'both changes were published after the consumer was created');
SELECT results_eq(
	$$SELECT op, element_id FROM pgcdc_drasi.read('c_late', 1000000)$$,
	$$VALUES ('i', 'con_t:401')$$,
	'the late joiner reads only the change its snapshot does not show: no gap, no overlap with bootstrap()');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_consumer('c_late')$$, 'drop the late joiner');

----------------------------------------------------------------------
-- alter_source: the sink switch.  seq numbers every event of the source,
-- whatever sink it went to: no gap, no repeat.
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.create_source('con_sw', 'con_sw_pub')$$, 'create_source con_sw (sink queue)');
SELECT ok(poll_until($$SELECT state = 'streaming' FROM pgcdc_drasi.status WHERE source_id = 'con_sw'$$),
	'con_sw streams');
INSERT INTO con_sw_t VALUES (1, 'queue');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('con_sw')$$, 'wait_for_catchup (queue)');

SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('con_sw', sink => 'notify')$$, 'switch to notify');
INSERT INTO con_sw_t VALUES (2, 'notify'), (3, 'notify');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('con_sw')$$, 'wait_for_catchup (notify)');
SELECT results_eq(
	$$SELECT last_seq, events_published, notifications_sent FROM pgcdc_drasi.status WHERE source_id = 'con_sw'$$,
	$$VALUES (3::bigint, 3::bigint, 2::bigint)$$,
	'sink notify: the two events were notified, not queued, and counted in last_seq');

SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('con_sw', sink => 'both')$$, 'switch to both');
INSERT INTO con_sw_t VALUES (4, 'both');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('con_sw')$$, 'wait_for_catchup (both)');

SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('con_sw', sink => 'queue')$$, 'switch back to queue');
INSERT INTO con_sw_t VALUES (5, 'queue again');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('con_sw')$$, 'wait_for_catchup (queue again)');

SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('con_sw', 'both', NULL, 'wakeup')$$, 'switch to both, wake-up');
INSERT INTO con_sw_t VALUES (6, 'wakeup'), (7, 'wakeup');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('con_sw')$$, 'wait_for_catchup (wake-up)');

SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('con_sw', 'notify', NULL, 'full')$$, 'switch to notify, full');
INSERT INTO con_sw_t VALUES (8, repeat('x', 9000));
INSERT INTO con_sw_t VALUES (9, 'small');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('con_sw')$$, 'wait_for_catchup (large event)');

SELECT results_eq(
	$$SELECT seq, element_id, payload->'payload'->'after'->'properties'->>'v' = repeat('x', 9000)
	  FROM pgcdc_drasi.events WHERE source_id = 'con_sw' ORDER BY seq$$,
	$$VALUES (1::bigint, 'con_sw_t:1', false), (4::bigint, 'con_sw_t:4', false), (5::bigint, 'con_sw_t:5', false),
	         (6::bigint, 'con_sw_t:6', false), (7::bigint, 'con_sw_t:7', false), (8::bigint, 'con_sw_t:8', true)$$,
	'the queue holds exactly the events of the queue periods, and the large event of the notify period (by reference)');
SELECT results_eq(
	$$SELECT p.last_seq, s.last_seq, s.events_published, s.notifications_sent, s.notifications_skipped
	  FROM pgcdc_drasi.source_progress p JOIN pgcdc_drasi.status s USING (source_id) WHERE source_id = 'con_sw'$$,
	$$VALUES (9::bigint, 9::bigint, 9::bigint, 6::bigint, 0::bigint)$$,
	'last_seq 9 = events published: no gap, no repeat; notified: 2 + 1 + 1 wake-up + 1 reference + 1 = 6');
SELECT is_empty(
	$$SELECT seq FROM pgcdc_drasi.events
	  WHERE source_id = 'con_sw' AND (payload->'metadata'->>'seq')::bigint <> seq$$,
	'every queued event carries its seq in its metadata');

----------------------------------------------------------------------
-- get_events
----------------------------------------------------------------------
SELECT results_eq($$SELECT seq, element_id FROM pgcdc_drasi.get_events('con_sw', 8)$$,
	$$VALUES (8::bigint, 'con_sw_t:8')$$, 'get_events(source, seq) returns the referenced event');
SELECT results_eq($$SELECT r::text FROM pgcdc_drasi.get_events('con_sw', 8) r$$,
	$$SELECT e::text FROM pgcdc_drasi.events e WHERE source_id = 'con_sw' AND seq = 8$$,
	'get_events returns the whole queue row');
SELECT results_eq($$SELECT seq FROM pgcdc_drasi.get_events('con_sw', 1, 9)$$,
	$$VALUES (1::bigint), (4::bigint), (5::bigint), (6::bigint), (7::bigint), (8::bigint)$$,
	'get_events(source, first, last) returns the queued events of the range in seq order');
SELECT results_eq($$SELECT seq FROM pgcdc_drasi.get_events('con_sw', 5, 7)$$,
	$$VALUES (5::bigint), (6::bigint), (7::bigint)$$, 'get_events of an inner range');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.get_events('con_sw', 2)$$,
	'get_events of an event that was only notified returns nothing');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.get_events('con_sw', 7, 5)$$, 'get_events of an empty range');
SELECT results_eq($$SELECT source_id, seq, element_id FROM pgcdc_drasi.get_events('con_src', 167, 169)$$,
	$$VALUES ('con_src', 167::bigint, 'con_t:5'), ('con_src', 168::bigint, 'con_t:6'), ('con_src', 169::bigint, 'con_t:7')$$,
	'get_events returns the events of the named source only');
SELECT throws_ok($$SELECT * FROM pgcdc_drasi.get_events('con_nosuch', 1)$$,
	'42704', 'source "con_nosuch" does not exist', 'get_events: unknown source');

-- Consumers and the sink
SELECT is(err_info($$SELECT pgcdc_drasi.create_consumer('c_sw', 'con_sw')$$),
	ARRAY['55000', 'source "con_sw" does not write its events to the queue', '',
	      'Add the queue sink first: pgcdc_drasi.alter_source(''con_sw'', sink => ''both'').'],
	'create_consumer on a notify-only source is refused');
SELECT lives_ok($$SELECT pgcdc_drasi.alter_source('con_sw', sink => 'both')$$, 'add the queue sink');
SELECT lives_ok($$SELECT pgcdc_drasi.create_consumer('c_sw', 'con_sw', 'latest')$$,
	'create_consumer on a source with sink both');
SELECT throws_ok($$SELECT pgcdc_drasi.alter_source('con_sw', sink => 'notify')$$,
	'55000', 'source "con_sw" has consumers, which read the queue', 'the consumer keeps the queue sink');
INSERT INTO con_sw_t VALUES (10, 'both');
SELECT lives_ok($$SELECT pgcdc_drasi.wait_for_catchup('con_sw')$$, 'wait_for_catchup');
SELECT results_eq($$SELECT seq, element_id FROM pgcdc_drasi.read('c_sw')$$, $$VALUES (10::bigint, 'con_sw_t:10')$$,
	'the consumer reads seq 10');

----------------------------------------------------------------------
-- drop_source takes the consumers along
----------------------------------------------------------------------
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('con_sw')$$, 'drop_source con_sw');
SELECT lives_ok($$SELECT pgcdc_drasi.drop_source('con_src')$$, 'drop_source con_src');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.consumer_status$$, 'no consumers are left');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.events$$, 'no events are left');
SELECT is_empty($$SELECT * FROM pgcdc_drasi.source_progress$$, 'no progress rows are left');

SELECT * FROM finish();

DROP PUBLICATION con_pub, con_sw_pub;
DROP OWNED BY con_reader1, con_reader2, con_admin;
DROP ROLE con_reader1, con_reader2, con_admin;
