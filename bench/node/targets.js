#!/usr/bin/env node
/*
 * bench/node/targets.js: the measuring part of bench/targets.sh.
 *
 * Delivery targets, side by side with the peer that bounds them in the
 * same run:
 *
 *   redis_rate      W2's events (single-row INSERT transactions from
 *                   pgbench, 4 clients) are queued while the target is
 *                   paused; then the target is resumed and timed until it
 *                   has delivered the last one: events per second.
 *   redis_benchmark redis-benchmark, pipelined XADD of entries of the same
 *                   mean size, one connection, pipeline = the target's
 *                   batch size, against the same redis-server: the rate
 *                   Redis itself takes such entries at.  The ratio
 *                   redis_rate / redis_benchmark is the figure to read.
 *   http_rate       the same backlog delivered by an HTTP target (format
 *                   drasi-http, batch endpoint) to the local receiver of the
 *                   tests (test/node/http_receiver.js, Drasi's HTTP source
 *                   contract, counting only), once per batch size in
 *                   HTTP_BATCHES: events per second.
 *   direct_rate     the redis sink of a source (direct mode, no queue):
 *                   W2's transactions are written while it and the queue
 *                   source are paused; it is resumed and timed until it
 *                   caught up (every event in its stream), then the queue
 *                   source likewise: events per second of each, and the
 *                   WAL each wrote while draining, per event.  The queue
 *                   path to Redis is the queue sink then the target
 *                   (1 / (1/queue + 1/target)).
 *   redis_latency   commit-to-Redis latency: a writer commits single-row
 *                   transactions at LATENCY_TPS per second while a reader
 *                   blocks in XREAD on the stream; latency is the time
 *                   from the writer's COMMIT returning to the entry
 *                   arriving (it can be slightly negative: the entry may
 *                   arrive before the COMMIT's answer does).
 *
 * Nothing here is pass/fail: the exit status is non-zero only when it
 * could not measure (an error, a timeout, a wrong number of entries).
 *
 * Environment (set by targets.sh):
 *   BENCH_SOCKDIR, BENCH_PORT, BENCH_PGBIN, BENCH_WORK, BENCH_RESULTS,
 *   BENCH_REDIS_SOCK            redis-server's unix socket
 *   BENCH_HTTP_PORT             the HTTP receiver's port (127.0.0.1)
 *   BENCH_MACHINE               machine description lines
 *   RUNS (3), SCALE (1), LATENCY_TPS (200), LATENCY_SECONDS (5), BATCH (500),
 *   HTTP_BATCHES ("100 500 1000")
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { Client } = require('pg');
const { createClient } = require('redis');

const env = process.env;
const SOCKDIR = env.BENCH_SOCKDIR;
const PORT = Number(env.BENCH_PORT || 5432);
const PGBIN = env.BENCH_PGBIN || '/usr/lib/postgresql/15/bin';
const WORK = env.BENCH_WORK;
const RESULTS = env.BENCH_RESULTS || path.join(__dirname, '..', 'results');
const REDIS_SOCK = env.BENCH_REDIS_SOCK;
const RUNS = Number(env.RUNS || 3);
const SCALE = Number(env.SCALE || 1);
const LATENCY_TPS = Number(env.LATENCY_TPS || 200);
const LATENCY_SECONDS = Number(env.LATENCY_SECONDS || 5);
const BATCH = Number(env.BATCH || 500);
const HTTP_PORT = Number(env.BENCH_HTTP_PORT);
const HTTP_BATCHES = (env.HTTP_BATCHES || '100 500 1000').split(/\s+/).filter(Boolean).map(Number);
const N2 = Math.max(400, Math.round(100000 * SCALE / 4) * 4);
const DB = 'bench_targets';

const now = () => Number(process.hrtime.bigint()) / 1e9;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

/* Run a program; resolve with its exit code and output. */
function run(cmd, args, opts = {})
{
	return new Promise((resolve, reject) => {
		const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
		let out = '';
		let err = '';
		p.stdout.on('data', (d) => { out += d; });
		p.stderr.on('data', (d) => { err += d; });
		p.on('error', reject);
		p.on('close', (code) => resolve({ code, out, err }));
	});
}

/* A PostgreSQL session over the cluster's socket. */
async function connect(db, name)
{
	const c = new Client({ host: SOCKDIR, port: PORT, user: 'postgres', database: db, application_name: name });
	await c.connect();
	return c;
}

/* A Redis session over the server's socket. */
async function redis()
{
	const r = createClient({ socket: { path: REDIS_SOCK } });
	r.on('error', (e) => log(`redis: ${e.message}`));
	await r.connect();
	return r;
}

/* Poll fn until it is true; the time it became true. */
async function waitUntil(desc, fn, intervalMs = 10, timeout = 1800)
{
	const t0 = now();
	for (;;)
	{
		if (await fn())
			return now();
		if (now() - t0 > timeout)
			throw new Error(`timed out after ${timeout}s waiting for ${desc}`);
		await sleep(intervalMs);
	}
}

function median(v)
{
	const s = v.filter((x) => x != null).sort((a, b) => a - b);
	if (!s.length)
		return null;
	return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function percentile(sorted, p)
{
	if (!sorted.length)
		return null;
	return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p / 100))];
}

let pg;

async function setup()
{
	const admin = await connect('postgres', 'bench targets setup');
	await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
	await admin.query(`CREATE DATABASE ${DB}`);
	await admin.end();
	pg = await connect(DB, 'bench targets');
	await pg.query(`CREATE EXTENSION pgcdc_drasi;
		CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int, amount numeric(12,2),
							 status text, created_at timestamptz, note text);
		CREATE PUBLICATION bench_pub FOR TABLE orders;`);
	await pg.query("SELECT pgcdc_drasi.create_source('bt', publication => 'bench_pub', bootstrap => false)");
	await waitUntil('source bt streaming', async () =>
		(await pg.query("SELECT state FROM pgcdc_drasi.status WHERE source_id = 'bt'")).rows[0]?.state === 'streaming', 20, 120);
}

async function lastSeq()
{
	return Number((await pg.query("SELECT last_seq FROM pgcdc_drasi.status WHERE source_id = 'bt'")).rows[0].last_seq);
}

/* W2's inserts: N2 single-row transactions from pgbench, 4 clients. */
async function w2Inserts(catchup = true)
{
	const script = path.join(WORK, 'targets_w2.sql');
	fs.writeFileSync(script,
		"INSERT INTO orders (customer_id, amount, status, created_at, note) VALUES (1, 12.34, 'new', now(), 'bench order');\n");
	const r = await run(path.join(PGBIN, 'pgbench'),
		['-n', '-h', SOCKDIR, '-p', String(PORT), '-U', 'postgres', '-c', '4', '-j', '2',
		 '-t', String(N2 / 4), '-f', script, DB]);
	if (r.code !== 0)
		throw new Error(`pgbench failed: ${r.err}`);
	if (catchup)
		await pg.query("SELECT pgcdc_drasi.wait_for_catchup('bt', '30 min')");
}

/*
 * The redis sink (direct mode) beside the queue sink: each drains the same
 * backlog alone; events per second and WAL bytes per event of each.
 */
async function directRate(run_no, result)
{
	const stream = `bd-rate-${run_no}`;
	const wal = async () => (await pg.query('SELECT pg_current_wal_lsn() AS l')).rows[0].l;
	const walDiff = async (a, b) => Number((await pg.query('SELECT pg_wal_lsn_diff($1, $2) AS d', [b, a])).rows[0].d);
	/* made now, paused: its slot starts here */
	await pg.query(`SELECT pgcdc_drasi.create_source('bd', publication => 'bench_pub', sink => 'redis',
					enabled => false, bootstrap => false)`);
	await pg.query(`SELECT pgcdc_drasi.set_source_redis('bd', $1, jsonb_build_object('stream', $2::text, 'batch_size', $3::int))`,
				   [`unix://${REDIS_SOCK}`, stream, BATCH]);
	await pg.query("SELECT pgcdc_drasi.pause_source('bt')");
	await waitUntil('bt and bd paused', async () =>
		Number((await pg.query("SELECT count(pid) AS n FROM pgcdc_drasi.status WHERE source_id IN ('bt', 'bd')")).rows[0].n) === 0, 20, 120);
	const first = await lastSeq();
	const l0 = await wal();
	await w2Inserts(false);
	const l1 = await wal();

	const t0 = now();
	await pg.query("SELECT pgcdc_drasi.resume_source('bd')");
	await pg.query("SELECT pgcdc_drasi.wait_for_catchup('bd', '30 min')");
	const t1 = now();
	const l2 = await wal();
	await pg.query("SELECT pgcdc_drasi.pause_source('bd')");

	const t2 = now();
	await pg.query("SELECT pgcdc_drasi.resume_source('bt')");
	await pg.query("SELECT pgcdc_drasi.wait_for_catchup('bt', '30 min')");
	const t3 = now();
	const l3 = await wal();
	const events = (await lastSeq()) - first;
	await pg.query("SELECT pgcdc_drasi.drop_source('bd')");

	const r = await redis();
	const xlen = Number(await r.sendCommand(['XLEN', stream]));
	await r.sendCommand(['DEL', stream]);
	await r.quit();
	if (xlen !== events)
		throw new Error(`stream ${stream} has ${xlen} entries, expected ${events}`);
	result.direct_events = events;
	result.direct_rate = events / (t1 - t0);
	result.queue_sink_rate = events / (t3 - t2);
	result.source_wal_per_event = (await walDiff(l0, l1)) / events;
	result.direct_wal_per_event = (await walDiff(l1, l2)) / events;
	result.queue_wal_per_event = (await walDiff(l2, l3)) / events;
	result.direct_wal_ratio = result.direct_wal_per_event / result.queue_wal_per_event;
	if (result.redis_rate)
		result.queue_path_rate = 1 / (1 / result.queue_sink_rate + 1 / result.redis_rate);
	log(`redis sink (direct): ${events} events in ${(t1 - t0).toFixed(2)} s = ${result.direct_rate.toFixed(0)} events/s, ` +
		`${result.direct_wal_per_event.toFixed(1)} B WAL/event; queue sink: ${result.queue_sink_rate.toFixed(0)} events/s, ` +
		`${result.queue_wal_per_event.toFixed(1)} B WAL/event (source: ${result.source_wal_per_event.toFixed(1)} B/event); ` +
		`direct / queue WAL = ${(100 * result.direct_wal_ratio).toFixed(2)} %` +
		(result.queue_path_rate ? `; queue sink + target path: ${result.queue_path_rate.toFixed(0)} events/s` : ''));
}

/* The target's delivery rate of a queued backlog. */
async function redisRate(run_no, result)
{
	const stream = `bt-rate-${run_no}`;
	await pg.query('BEGIN');
	await pg.query(`SELECT pgcdc_drasi.create_target('redis-rate', 'bt', kind => 'redis', url => $1,
					options => jsonb_build_object('stream', $2::text, 'batch_size', $3::int, 'start_at', 'latest'))`,
				   [`unix://${REDIS_SOCK}`, stream, BATCH]);
	await pg.query("SELECT pgcdc_drasi.pause_target('redis-rate')");
	for (const bs of HTTP_BATCHES)
	{
		/* paused until their turn; they keep the backlog from retention */
		await pg.query(`SELECT pgcdc_drasi.create_target($1, 'bt', kind => 'http', url => $2,
						options => jsonb_build_object('format', 'drasi-http', 'batch_size', $3::int, 'start_at', 'latest'))`,
					   [`http-${bs}`, `http://127.0.0.1:${HTTP_PORT}/sources/bt/events`, bs]);
		await pg.query('SELECT pgcdc_drasi.pause_target($1)', [`http-${bs}`]);
	}
	await pg.query('COMMIT');
	const first = await lastSeq();
	await w2Inserts();
	const last = await lastSeq();
	const events = last - first;

	const t0 = now();
	await pg.query("SELECT pgcdc_drasi.resume_target('redis-rate')");
	const t1 = await waitUntil('redis-rate delivered', async () =>
		Number((await pg.query("SELECT delivered_seq FROM pgcdc_drasi.target_status WHERE target_id = 'redis-rate'")).rows[0].delivered_seq) >= last, 5);
	const r = await redis();
	const xlen = await r.sendCommand(['XLEN', stream]);
	if (Number(xlen) !== events)
		throw new Error(`stream ${stream} has ${xlen} entries, expected ${events}`);
	/* mean size of the data field, over up to 2,000 entries */
	const sample = await r.sendCommand(['XRANGE', stream, '-', '+', 'COUNT', '2000']);
	let bytes = 0;
	for (const [, fields] of sample)
		bytes += Buffer.byteLength(fields[1]);
	const entryBytes = Math.round(bytes / sample.length);
	await r.sendCommand(['DEL', stream]);
	await r.quit();
	await pg.query("SELECT pgcdc_drasi.drop_target('redis-rate')");
	result.events = events;
	result.first_seq = first;
	result.last_seq = last;
	result.entry_bytes = entryBytes;
	result.redis_rate = events / (t1 - t0);
	log(`redis target: ${events} events in ${(t1 - t0).toFixed(2)} s = ${result.redis_rate.toFixed(0)} events/s (entries of ${entryBytes} bytes)`);
}

/* redis-benchmark's pipelined XADD rate for entries of the same size. */
async function redisBenchmark(run_no, result)
{
	const stream = `rb-${run_no}`;
	const value = JSON.stringify({ data: [{ pad: 'x'.repeat(Math.max(1, result.entry_bytes - 20)) }] })
		.slice(0, result.entry_bytes);
	const r = await run('redis-benchmark',
		['-s', REDIS_SOCK, '-n', String(result.events), '-c', '1', '-P', String(BATCH), '--csv',
		 'XADD', stream, '*', 'data', value]);
	if (r.code !== 0)
		throw new Error(`redis-benchmark failed: ${r.err}`);
	const line = r.out.trim().split('\n').pop();
	const rps = Number(line.split(',')[1].replace(/"/g, ''));
	if (!(rps > 0))
		throw new Error(`cannot read redis-benchmark's output: ${r.out}`);
	const c = await redis();
	await c.sendCommand(['DEL', stream]);
	await c.quit();
	result.redis_benchmark = rps;
	result.ratio = result.redis_rate / rps;
	log(`redis-benchmark XADD -P ${BATCH}: ${rps.toFixed(0)} entries/s; target / redis-benchmark = ${result.ratio.toFixed(2)}`);
}

/* The HTTP target's delivery rate of the same backlog, per batch size. */
async function httpRate(run_no, result)
{
	const control = (path, method = 'GET') =>
		fetch(`http://127.0.0.1:${HTTP_PORT}${path}`, { method }).then((r) => r.json());
	result.http = {};
	for (const bs of HTTP_BATCHES)
	{
		const target = `http-${bs}`;
		await control('/_control/clear', 'POST');
		const before = (await control('/_stats')).accepted_events;
		const t0 = now();
		await pg.query('SELECT pgcdc_drasi.resume_target($1)', [target]);
		const t1 = await waitUntil(`${target} delivered`, async () =>
			Number((await pg.query('SELECT delivered_seq FROM pgcdc_drasi.target_status WHERE target_id = $1', [target])).rows[0].delivered_seq) >= result.last_seq, 5);
		const accepted = (await control('/_stats')).accepted_events - before;
		if (accepted < result.events)
			throw new Error(`${target}: the receiver accepted ${accepted} events, expected ${result.events}`);
		await pg.query('SELECT pgcdc_drasi.drop_target($1)', [target]);
		result.http[bs] = result.events / (t1 - t0);
		log(`http target, batch_size ${bs}: ${result.events} events in ${(t1 - t0).toFixed(2)} s = ${result.http[bs].toFixed(0)} events/s`);
	}
}

/* Commit-to-Redis latency at LATENCY_TPS transactions per second. */
async function redisLatency(run_no, result)
{
	const stream = `bt-lat-${run_no}`;
	await pg.query(`SELECT pgcdc_drasi.create_target('redis-lat', 'bt', kind => 'redis', url => $1,
					options => jsonb_build_object('stream', $2::text, 'start_at', 'latest'))`,
				   [`unix://${REDIS_SOCK}`, stream]);
	await waitUntil('redis-lat streaming', async () =>
		(await pg.query("SELECT state FROM pgcdc_drasi.target_status WHERE target_id = 'redis-lat'")).rows[0].state === 'streaming', 20, 60);

	const reader = await redis();
	const receivedAt = new Map();
	let stop = false;
	const readLoop = (async () => {
		let lastId = '0-0';
		while (!stop)
		{
			const res = await reader.sendCommand(['XREAD', 'COUNT', '1000', 'BLOCK', '200', 'STREAMS', stream, lastId]);
			const t = now();
			if (!res)
				continue;
			for (const [, entries] of res)
				for (const [id, fields] of entries)
				{
					lastId = id;
					const ev = JSON.parse(fields[1]).data[0];
					if (ev.op === 'i')
						receivedAt.set(String(ev.payload.after.properties.id), t);
				}
		}
	})();

	const wri = await connect(DB, 'bench targets writer');
	await wri.query("PREPARE ins AS INSERT INTO orders (customer_id, amount, status, created_at, note) VALUES (1, 9.99, 'latency', now(), 'latency probe') RETURNING id");
	await sleep(500);
	const total = Math.round(LATENCY_TPS * LATENCY_SECONDS);
	const committedAt = new Map();
	const interval = 1 / LATENCY_TPS;
	const start = now() + 0.05;
	for (let i = 0; i < total; i++)
	{
		const wait = start + i * interval - now();
		if (wait > 0)
			await sleep(Math.max(1, Math.round(wait * 1000)));
		const id = (await wri.query('EXECUTE ins')).rows[0].id;
		committedAt.set(String(id), now());
	}
	const sendSeconds = now() - start;
	await waitUntil('every latency entry', async () => receivedAt.size >= total, 20, 30).catch(() => {});
	stop = true;
	await readLoop;
	await reader.quit();
	await wri.end();
	await pg.query("SELECT pgcdc_drasi.drop_target('redis-lat')");

	const lat = [];
	for (const [id, t] of committedAt)
		if (receivedAt.has(id))
			lat.push((receivedAt.get(id) - t) * 1000);
	lat.sort((a, b) => a - b);
	if (lat.length !== total)
		throw new Error(`latency: ${lat.length} of ${total} entries arrived`);
	Object.assign(result, {
		achieved_tps: total / sendSeconds,
		p50_ms: percentile(lat, 50), p99_ms: percentile(lat, 99), max_ms: lat[lat.length - 1],
	});
	log(`redis latency at ${result.achieved_tps.toFixed(0)} txn/s: p50 ${result.p50_ms.toFixed(2)} ms, p99 ${result.p99_ms.toFixed(2)} ms, max ${result.max_ms.toFixed(2)} ms`);
}

function report(runs)
{
	const m = (k) => median(runs.map((r) => r[k]));
	const f = (x, d = 0) => (x == null ? '-' : x.toFixed(d));
	const lines = [
		'# Delivery targets: benchmark results',
		'',
		'```',
		(env.BENCH_MACHINE || '').trim(),
		'```',
		'',
		`Medians of ${runs.length} run(s); W2 = ${N2} single-row INSERT transactions (pgbench, 4 clients);`,
		`batch ${BATCH}; redis-server with appendonly yes, appendfsync ${process.env.REDIS_APPENDFSYNC || "always"}, on a unix socket.`,
		'',
		'| measure | value |',
		'|---|---|',
		`| Redis target: delivery of W2's ${N2} queued events | ${f(m('redis_rate'))} events/s |`,
		`| redis-benchmark: pipelined XADD (-c 1 -P ${BATCH}), entries of ${f(m('entry_bytes'))} bytes | ${f(m('redis_benchmark'))} entries/s |`,
		`| ratio target / redis-benchmark | ${f(m('ratio'), 2)} |`,
		...HTTP_BATCHES.map((bs) => `| HTTP target (drasi-http, batch endpoint, batch_size ${bs}) to the local receiver: delivery of the same events | ${f(median(runs.map((r) => r.http[bs])))} events/s |`),
		`| redis sink (direct mode): drain of W2's ${N2} events, alone | ${f(m('direct_rate'))} events/s |`,
		`| queue sink: drain of the same events, alone | ${f(m('queue_sink_rate'))} events/s |`,
		`| queue sink + Redis target path (1 / (1/queue sink + 1/target)) | ${f(m('queue_path_rate'))} events/s |`,
		`| WAL per event: source transactions / redis sink / queue sink | ${f(m('source_wal_per_event'), 1)} / ${f(m('direct_wal_per_event'), 1)} / ${f(m('queue_wal_per_event'), 1)} bytes |`,
		`| WAL of the redis sink / WAL of the queue sink | ${f(100 * (m('direct_wal_ratio') || 0), 2)} % |`,
		`| commit-to-Redis latency at ${LATENCY_TPS} txn/s: p50 | ${f(m('p50_ms'), 2)} ms |`,
		`| commit-to-Redis latency at ${LATENCY_TPS} txn/s: p99 | ${f(m('p99_ms'), 2)} ms |`,
		'',
	];
	return lines.join('\n');
}

async function main()
{
	await setup();
	const runs = [];
	for (let i = 1; i <= RUNS; i++)
	{
		log(`run ${i} of ${RUNS}`);
		const result = {};
		await redisRate(i, result);
		await redisBenchmark(i, result);
		await httpRate(i, result);
		await redisLatency(i, result);
		await directRate(i, result);
		runs.push(result);
	}
	fs.mkdirSync(RESULTS, { recursive: true });
	fs.writeFileSync(path.join(RESULTS, 'targets.json'), JSON.stringify({ machine: env.BENCH_MACHINE, runs }, null, 1));
	const md = report(runs);
	fs.writeFileSync(path.join(RESULTS, 'targets.md'), md);
	console.log('\n' + md);
	await pg.end();
}

main().catch((e) => {
	console.error(`bench targets: ${e.stack || e.message}`);
	process.exit(1);
});
