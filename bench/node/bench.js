#!/usr/bin/env node
/*
 * bench/node/bench.js: the measuring part of bench/run.sh.
 *
 * bench/run.sh installs, builds, starts a throwaway cluster and then runs
 * this script, which creates the schema, runs the workloads RUNS times,
 * drives every consumer, and writes bench/results/latest.md (medians) and
 * bench/results/latest.json (every sample).  Nothing here is a pass/fail:
 * the script exits non-zero only when it could not measure (an error, a
 * timeout, a consumer that delivered the wrong number of changes).
 *
 * Environment (set by run.sh):
 *   BENCH_SOCKDIR, BENCH_PORT   the cluster's unix socket
 *   BENCH_PGBIN                 /usr/lib/postgresql/15/bin
 *   BENCH_WORK                  scratch directory (pgbench script, perf data)
 *   BENCH_SERVER_LOG            the server log (for pg_log_backend_memory_contexts)
 *   BENCH_RESULTS               directory for latest.md / latest.json
 *   RUNS (3), SCALE (1), CONCURRENT_W2 (1), LATENCY_TPS (200), LATENCY_SECONDS (5),
 *   PERF (0): 1 adds a W1 drain of the queue sink under perf after the runs
 *   PERF_WORKLOAD (W1): the workload PERF drains instead (W2, W3)
 *   PHASES (0): 1 adds, after the runs, when the first change of W1 reaches
 *               pg_recvlogical with protocol 1 and with streaming
 *   BENCH_MACHINE               machine description lines (from run.sh)
 *
 * Re-render a report from saved samples:  node bench.js --report latest.json
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { Client } = require('pg');

/* ------------------------------------------------------------------ */
/* configuration                                                        */
/* ------------------------------------------------------------------ */

const env = process.env;
const SOCKDIR = env.BENCH_SOCKDIR;
const PORT = Number(env.BENCH_PORT || 5432);
const PGBIN = env.BENCH_PGBIN || '/usr/lib/postgresql/15/bin';
const WORK = env.BENCH_WORK;
const SERVER_LOG = env.BENCH_SERVER_LOG;
const RESULTS = env.BENCH_RESULTS || path.join(__dirname, '..', 'results');
const RUNS = intEnv('RUNS', 3);
const SCALE = Number(env.SCALE || 1);
const CONCURRENT_W2 = intEnv('CONCURRENT_W2', 1) !== 0;
const LATENCY_TPS = intEnv('LATENCY_TPS', 200);
const LATENCY_SECONDS = Number(env.LATENCY_SECONDS || 5);
const PERF = intEnv('PERF', 0) !== 0;
const PERF_WORKLOAD = process.env.PERF_WORKLOAD || 'W1';
if (!['W1', 'W2', 'W3'].includes(PERF_WORKLOAD))
	throw new Error(`PERF_WORKLOAD must be W1, W2 or W3, not ${PERF_WORKLOAD}`);
const PHASES = intEnv('PHASES', 0) !== 0;
const WAIT_TIMEOUT = Number(env.BENCH_WAIT_TIMEOUT || 1800);	/* seconds, any single wait */

/*
 * The subscription runs at its best setting for the server's version:
 * streaming = on (15), parallel (16 and later: large transactions are
 * applied by parallel apply workers while they stream).  Set in main().
 */
let SUB_STREAMING = 'on';

/* Empties the queue: its tables (0.2) or its table (0.1, an older build). Set in main(). */
let QUEUE_TRUNCATE = 'TRUNCATE pgcdc_drasi.queue_events, pgcdc_drasi.queue_transactions';

const SRC_DB = 'bench';
const DST_DB = 'bench_sub';
const PUB = 'bench_pub';

/* Workload sizes.  SCALE shrinks them for quick runs. */
const N1 = Math.max(1000, Math.round(1000000 * SCALE));				/* W1 inserts, one transaction */
const N2 = Math.max(400, Math.round(100000 * SCALE / 4) * 4);		/* W2 transactions (pgbench) */
const N3 = Math.max(200, Math.round(200000 * SCALE));				/* W3 updates, one transaction */
/* Id ranges inside the N1 rows: W2 updates [1, UPD_MAX], deletes from DEL_START up, W3 updates [W3_FIRST, W3_LAST]. */
const UPD_MAX = Math.floor(N1 * 0.4);
const DEL_START = UPD_MAX + 1;
const W3_FIRST = Math.floor(N1 * 0.6) + 1;
const W3_LAST = W3_FIRST + N3 - 1;
const NEW_ID_START = 2 * N1 + 1;
const LATENCY_ID_START = 900000000;

const WORKLOADS = {
	W1: { title: `W1: 1 transaction, ${fmtInt(N1)} INSERTs`, rows: N1 },
	W2: { title: `W2: ${fmtInt(N2)} single-row transactions (pgbench, 4 clients, 50% INSERT / 30% UPDATE / 20% DELETE)`, rows: N2 },
	W3: { title: `W3: 1 transaction, ${fmtInt(N3)} UPDATEs`, rows: N3 },
};
const CONSUMERS = ['pgcdc_queue', 'pgcdc_notify', 'subscription', 'recvlogical'];
/*
 * Drain mode also times a reference that is no peer: pg_recvlogical with
 * protocol 2 and streaming = on, so the walsender streams a large
 * transaction while it decodes it instead of spilling it to disk and
 * sending it after its commit.  It shows how much of a large
 * transaction's drain time is the walsender's alone.
 */
const DRAIN_CONSUMERS = [...CONSUMERS, 'recvlogical_stream'];
const CONSUMER_TITLE = {
	none: 'none (baseline)',
	pgcdc_queue: 'pgcdc_drasi, queue sink',
	pgcdc_notify: 'pgcdc_drasi, notify sink (full payload) + 1 LISTEN client',
	subscription: 'built-in subscription (apply into a 2nd database; streaming = on on 15, parallel on 16+)',
	recvlogical: 'pg_recvlogical, pgoutput proto 1, to /dev/null',
	recvlogical_stream: 'pg_recvlogical, pgoutput proto 2 with streaming = on, to /dev/null',
};

function intEnv(name, def)
{
	const v = env[name];
	if (v === undefined || v === '')
		return def;
	const n = Number(v);
	if (!Number.isInteger(n) || n < 0)
		throw new Error(`${name} must be a non-negative integer (got "${v}")`);
	return n;
}

/* ------------------------------------------------------------------ */
/* small helpers                                                        */
/* ------------------------------------------------------------------ */

const now = () => Number(process.hrtime.bigint()) / 1e9;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function log(...args)
{
	const t = new Date().toISOString().substring(11, 19);
	console.log(`[${t}]`, ...args);
}

function fmtInt(n)
{
	return Math.round(n).toLocaleString('en-US');
}

function median(values)
{
	const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
	if (v.length === 0)
		return null;
	const m = Math.floor(v.length / 2);
	return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function percentile(sorted, p)
{
	if (sorted.length === 0)
		return null;
	const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1));
	return sorted[idx];
}

function connect(db, name)
{
	const c = new Client({ host: SOCKDIR, port: PORT, user: 'postgres', database: db,
						   application_name: name || 'bench' });
	c.on('error', (e) => log(`connection ${name}: ${e.message}`));
	return c.connect().then(() => c);
}

let src;		/* admin session in the source database */
let dst;		/* admin session in the subscriber database */
let poller;		/* polls positions while others work */

async function one(client, sql, params)
{
	const r = await client.query(sql, params);
	return r.rows[0];
}

async function waitUntil(desc, fn, intervalMs = 20, timeout = WAIT_TIMEOUT)
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

function run(cmd, args, opts = {})
{
	return new Promise((resolve, reject) => {
		const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
		let out = '';
		let err = '';
		p.stdout.on('data', (d) => { out += d; });
		p.stderr.on('data', (d) => { err += d; });
		p.on('error', reject);
		p.on('close', (code, signal) => resolve({ code, signal, out, err }));
	});
}

const pgEnv = { ...process.env, PGHOST: SOCKDIR, PGPORT: String(PORT), PGUSER: 'postgres' };

/* ------------------------------------------------------------------ */
/* schema and state                                                     */
/* ------------------------------------------------------------------ */

const ORDERS_DDL = `CREATE TABLE orders (
	id bigint PRIMARY KEY,
	customer_id int,
	amount numeric(12,2),
	status text,
	created_at timestamptz,
	note text)`;
const FENCE_DDL = 'CREATE TABLE bench_fence (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())';

async function setupSchema()
{
	const admin = await connect('postgres', 'bench setup');
	await admin.query(`CREATE DATABASE ${SRC_DB}`);
	await admin.query(`CREATE DATABASE ${DST_DB}`);
	await admin.end();

	src = await connect(SRC_DB, 'bench admin');
	dst = await connect(DST_DB, 'bench admin');
	poller = await connect(SRC_DB, 'bench poller');

	await src.query('CREATE EXTENSION pgcdc_drasi');
	await src.query(ORDERS_DDL);
	await src.query(FENCE_DDL);
	await src.query('CREATE SEQUENCE bench_fence_id');
	await src.query(`CREATE SEQUENCE orders_new_id START ${NEW_ID_START}`);
	await src.query(`CREATE SEQUENCE orders_del_id START ${DEL_START}`);
	await src.query(`CREATE PUBLICATION ${PUB} FOR TABLE orders, bench_fence`);
	await dst.query(ORDERS_DDL);
	await dst.query(FENCE_DDL);

	fs.writeFileSync(path.join(WORK, 'w2.sql'), [
		'\\set r random(1, 100)',
		`\\set uid random(1, ${UPD_MAX})`,
		'\\if :r <= 50',
		"INSERT INTO orders (id, customer_id, amount, status, created_at, note) VALUES (nextval('orders_new_id'), :uid % 10000 + 1, :r * 1.25, 'new', now(), 'pgbench ' || :uid);",
		'\\elif :r <= 80',
		"UPDATE orders SET status = 'updated', amount = amount + 1 WHERE id = :uid;",
		'\\else',
		"DELETE FROM orders WHERE id = (SELECT nextval('orders_del_id'));",
		'\\endif',
		'',
	].join('\n'));
}

/* Empty orders on both sides and restart the id sequences. */
async function resetOrders()
{
	await src.query('TRUNCATE orders, bench_fence');
	await dst.query('TRUNCATE orders, bench_fence');
	await src.query('ALTER SEQUENCE orders_new_id RESTART');
	await src.query('ALTER SEQUENCE orders_del_id RESTART');
}

/*
 * Before every measurement: no leftover queue rows, no dead rows, no
 * dirty buffers, no autovacuum in flight, so that neither a checkpoint nor
 * autovacuum started by an earlier step lands in the middle of it.
 */
async function quiesce()
{
	await src.query(QUEUE_TRUNCATE);
	await src.query('VACUUM (ANALYZE) orders, bench_fence');
	await dst.query('VACUUM (ANALYZE) orders, bench_fence');
	await src.query('CHECKPOINT');
	await waitUntil('autovacuum workers to finish', async () => {
		const r = await one(src, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'");
		return r.n === 0;
	}, 200, 120).catch(() => log('  (an autovacuum worker is still running; going on)'));
}

/* Sum of a hash of every row: order-independent checksum of a table. */
async function checksum(client)
{
	return one(client, 'SELECT count(*)::bigint AS n, coalesce(sum(hashtext(o::text)::bigint), 0)::text AS h FROM orders o');
}

/*
 * A fence after a workload: L is the insert position after the workload's
 * last commit; the fence transaction (one row of a published table)
 * commits after L.  A consumer has consumed the workload when its
 * position passes L: for the subscription that means the fence was
 * applied, which needs no keepalive.
 */
async function fence()
{
	const r = await one(src, 'SELECT pg_current_wal_insert_lsn()::text AS l');
	await src.query("INSERT INTO bench_fence (id) VALUES (nextval('bench_fence_id'))");
	return r.l;
}

/* ------------------------------------------------------------------ */
/* workloads                                                            */
/* ------------------------------------------------------------------ */

/* W1's rows are deterministic, so the subscriber's table can be rebuilt with the same statement. */
const W1_SQL = `INSERT INTO orders (id, customer_id, amount, status, created_at, note)
	SELECT g, g % 10000 + 1, (g % 100000) / 100.0, 'new',
		   timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', 'note ' || md5(g::text)
	FROM generate_series(1, ${N1}) AS g`;

/* Make the subscriber's table equal to the source's W1 state (no consumer exists). */
async function syncTarget()
{
	await dst.query('TRUNCATE orders');
	await dst.query(W1_SQL);
	const a = await checksum(src);
	const b = await checksum(dst);
	if (a.n !== b.n || a.h !== b.h)
		throw new Error(`could not rebuild the subscriber's table (${a.n}/${a.h} vs ${b.n}/${b.h})`);
}

/* Run one workload; returns { seconds, rows, endLsn, extra }. */
async function runWorkload(name)
{
	if (name === 'W2')
	{
		const t0 = now();
		const r = await run(path.join(PGBIN, 'pgbench'),
							['-n', '-c', '4', '-j', '2', '-t', String(N2 / 4), '-f', path.join(WORK, 'w2.sql'), SRC_DB],
							{ env: pgEnv });
		const seconds = now() - t0;
		const endLsn = (await one(src, 'SELECT pg_current_wal_lsn()::text AS l')).l;
		if (r.code !== 0)
			throw new Error(`pgbench failed (${r.code}): ${r.err}\n${r.out}`);
		const processed = /number of transactions actually processed: (\d+)/.exec(r.out);
		const failed = /number of failed transactions: (\d+)/.exec(r.out);
		const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(r.out);
		if (!processed || Number(processed[1]) !== N2 || (failed && Number(failed[1]) !== 0))
			throw new Error(`pgbench did not process ${N2} transactions:\n${r.out}\n${r.err}`);
		return { seconds, rows: N2, endLsn, extra: { pgbench_tps: tps ? Number(tps[1]) : null } };
	}

	const writer = await connect(SRC_DB, 'bench writer');
	try
	{
		let sql;
		let expected;
		if (name === 'W1')
		{
			sql = W1_SQL;
			expected = N1;
		}
		else
		{
			sql = `UPDATE orders SET status = 'shipped', amount = amount + 1 WHERE id BETWEEN ${W3_FIRST} AND ${W3_LAST}`;
			expected = N3;
		}
		const t0 = now();
		const r = await writer.query(sql);
		const seconds = now() - t0;
		const endLsn = (await one(writer, 'SELECT pg_current_wal_lsn()::text AS l')).l;
		if (r.rowCount !== expected)
			throw new Error(`${name} changed ${r.rowCount} rows, expected ${expected}`);
		return { seconds, rows: expected, endLsn, extra: {} };
	}
	finally
	{
		await writer.end();
	}
}

/* ------------------------------------------------------------------ */
/* consumers                                                            */
/* ------------------------------------------------------------------ */

const SLOT = { pgcdc_queue: 'bench_q', pgcdc_notify: 'bench_n', subscription: 'bench_sub', recvlogical: 'bench_recv', recvlogical_stream: 'bench_recv_s' };
const SOURCE_ID = { pgcdc_queue: 'bench_q', pgcdc_notify: 'bench_n' };
const NOTIFY_CHANNEL = 'bench_n';

let recvProc = null;		/* pg_recvlogical in concurrent mode */
let lastSubDdl = 0;			/* when the logical replication launcher last woke up */

/*
 * The logical replication launcher starts apply workers at most once per
 * wal_retrieve_retry_interval (5 s), counted from its last wake-up, and
 * every CREATE/ALTER/DROP SUBSCRIPTION and apply worker exit wakes it.
 * Enabling the subscription sooner than that would add the remaining
 * wait to its time, so wait it out first (untimed).
 */
async function launcherSettled()
{
	const interval = Number((await one(src, "SELECT setting FROM pg_settings WHERE name = 'wal_retrieve_retry_interval'")).setting) / 1000;
	const left = lastSubDdl + interval + 0.3 - now();
	if (left > 0)
		await sleep(left * 1000);
}
let listener = null;		/* LISTEN client of the notify sink */

/* A LISTEN client that counts the events the notify sink announces. */
async function startListener(channel)
{
	const c = await connect(SRC_DB, 'bench listener');
	const st = { client: c, notifications: 0, events: 0, fence: 0, lastAt: 0 };
	c.on('notification', (m) => {
		st.notifications++;
		st.lastAt = now();
		const p = m.payload;
		if (p.includes('"bench_fence:'))
			st.fence++;
		else if (p.includes('"firstSeq"'))
		{
			/* a range in the queue table (overflow of a large transaction) */
			const j = JSON.parse(p);
			st.events += j.lastSeq - j.firstSeq + 1;
			st.rangeEvents = (st.rangeEvents || 0) + (j.lastSeq - j.firstSeq + 1);
		}
		else
			st.events++;
	});
	await c.query(`LISTEN ${channel}`);
	return st;
}

async function stopListener()
{
	if (listener)
	{
		await listener.client.end().catch(() => {});
		listener = null;
	}
}

/* Create the consumer's slot (and objects), without consuming anything. */
async function createConsumer(c, enabled)
{
	if (c === 'pgcdc_queue' || c === 'pgcdc_notify')
	{
		await src.query(
			`SELECT pgcdc_drasi.create_source($1, publication => $2, slot_name => $3, enabled => $4,
											   sink => $5, channel => $6, notify_payload => 'full',
											   bootstrap => false)`,
			[SOURCE_ID[c], PUB, SLOT[c], enabled, c === 'pgcdc_queue' ? 'queue' : 'notify',
			 c === 'pgcdc_queue' ? null : NOTIFY_CHANNEL]);
		if (enabled)
			await waitUntil(`${c} streaming`, async () =>
				(await one(src, 'SELECT state FROM pgcdc_drasi.status WHERE source_id = $1', [SOURCE_ID[c]])).state === 'streaming', 20, 120);
	}
	else if (c === 'subscription')
	{
		await src.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [SLOT[c]]);
		await dst.query(`CREATE SUBSCRIPTION bench_sub CONNECTION 'host=${SOCKDIR} port=${PORT} user=postgres dbname=${SRC_DB}'
						 PUBLICATION ${PUB}
						 WITH (create_slot = false, slot_name = '${SLOT[c]}', enabled = false, copy_data = false,
							   streaming = ${SUB_STREAMING})`);
		lastSubDdl = now();
		if (enabled)
			await startConsumer(c);
	}
	else if (c === 'recvlogical' || c === 'recvlogical_stream')
	{
		await src.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [SLOT[c]]);
		if (enabled)
			await startConsumer(c);
	}
}

/* Start consuming from the slot (concurrent mode, or drain of the subscription/pgcdc). */
async function startConsumer(c, endLsn)
{
	if (c === 'pgcdc_queue' || c === 'pgcdc_notify')
		await src.query('SELECT pgcdc_drasi.resume_source($1)', [SOURCE_ID[c]]);
	else if (c === 'subscription')
	{
		if (endLsn === undefined)
			await launcherSettled();	/* in drain mode the caller did, before starting the clock */
		await dst.query('ALTER SUBSCRIPTION bench_sub ENABLE');
		if (endLsn === undefined)
			await waitUntil('apply worker', async () =>
				(await one(dst, "SELECT count(*)::int AS n FROM pg_stat_subscription WHERE subname = 'bench_sub' AND pid IS NOT NULL")).n > 0, 20, 120);
	}
	else if (c === 'recvlogical')
	{
		/* concurrent mode: stream until stopped; status every second, no fsync of /dev/null */
		recvProc = spawn(path.join(PGBIN, 'pg_recvlogical'),
						 ['-d', SRC_DB, '--slot', SLOT[c], '--start', '-o', 'proto_version=1',
						  '-o', `publication_names=${PUB}`, '-f', '/dev/null', '-s', '1', '-F', '0'],
						 { env: pgEnv, stdio: ['ignore', 'ignore', 'pipe'] });
		recvProc.stderrText = '';
		recvProc.stderr.on('data', (d) => { recvProc.stderrText += d; });
		recvProc.exited = new Promise((r) => recvProc.on('close', (code) => r(code)));
		await waitUntil('pg_recvlogical streaming', async () =>
			(await one(src, 'SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = $1 AND active', [SLOT[c]])).n > 0, 20, 60);
	}
}

/* Has the consumer consumed everything before lsn? */
async function reached(c, lsn)
{
	if (c === 'pgcdc_queue' || c === 'pgcdc_notify')
		return (await one(poller, 'SELECT coalesce(published_lsn >= $2::pg_lsn, false) AS ok FROM pgcdc_drasi.source_status() WHERE source_id = $1',
						  [SOURCE_ID[c], lsn]))?.ok === true;
	if (c === 'subscription')
		/* the apply worker's origin holds the end of the last applied remote commit */
		return (await one(poller, `SELECT coalesce(max(o.remote_lsn) >= $1::pg_lsn, false) AS ok
								   FROM pg_replication_origin_status o
								   WHERE o.external_id = (SELECT 'pg_' || oid FROM pg_subscription WHERE subname = 'bench_sub')`,
						  [lsn])).ok === true;
	if (c === 'recvlogical')
		/* the walsender has decoded and sent everything before lsn */
		return (await one(poller, `SELECT coalesce(max(r.sent_lsn) >= $1::pg_lsn, false) AS ok
								   FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid
								   WHERE s.slot_name = $2`, [lsn, SLOT[c]])).ok === true;
	throw new Error(c);
}

/* Stop consuming; the slot stays. */
async function stopConsumer(c)
{
	if (c === 'pgcdc_queue' || c === 'pgcdc_notify')
	{
		await src.query('SELECT pgcdc_drasi.pause_source($1)', [SOURCE_ID[c]]);
		await waitUntil(`${c} worker exit`, async () =>
			(await one(src, 'SELECT pid FROM pgcdc_drasi.status WHERE source_id = $1', [SOURCE_ID[c]])).pid === null, 50, 120);
	}
	else if (c === 'subscription')
	{
		await dst.query('ALTER SUBSCRIPTION bench_sub DISABLE');
		await waitUntil('apply worker exit', async () =>
			(await one(dst, "SELECT count(*)::int AS n FROM pg_stat_subscription WHERE subname = 'bench_sub' AND pid IS NOT NULL")).n === 0, 50, 120);
		lastSubDdl = now();
	}
	else if (c === 'recvlogical' && recvProc)
	{
		recvProc.kill('SIGINT');
		await recvProc.exited;
		recvProc = null;
	}
	await waitUntil(`slot ${SLOT[c]} inactive`, async () =>
		(await one(src, 'SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = $1 AND active', [SLOT[c]])).n === 0, 50, 120);
}

/* Drop everything of a consumer, whatever state it is in. */
async function dropConsumer(c)
{
	const soft = (p) => p.catch((e) => log(`  (cleanup of ${c}: ${e.message})`));
	if (c === 'pgcdc_queue' || c === 'pgcdc_notify')
	{
		const exists = (await one(src, 'SELECT count(*)::int AS n FROM pgcdc_drasi.sources WHERE source_id = $1', [SOURCE_ID[c]])).n > 0;
		if (exists)
		{
			await soft(src.query(QUEUE_TRUNCATE));
			await soft(src.query('SELECT pgcdc_drasi.drop_source($1)', [SOURCE_ID[c]]));
		}
		return;
	}
	if (c === 'subscription')
	{
		const exists = (await one(dst, "SELECT count(*)::int AS n FROM pg_subscription WHERE subname = 'bench_sub'")).n > 0;
		if (exists)
		{
			await soft(dst.query('ALTER SUBSCRIPTION bench_sub DISABLE'));
			await soft(waitUntil('apply worker exit', async () =>
				(await one(dst, "SELECT count(*)::int AS n FROM pg_stat_subscription WHERE subname = 'bench_sub' AND pid IS NOT NULL")).n === 0, 50, 120));
			await soft(dst.query('ALTER SUBSCRIPTION bench_sub SET (slot_name = NONE)'));
			await soft(dst.query('DROP SUBSCRIPTION bench_sub'));
			lastSubDdl = now();
		}
	}
	if (c === 'recvlogical' && recvProc)
	{
		recvProc.kill('SIGINT');
		await recvProc.exited;
		recvProc = null;
	}
	await soft(waitUntil(`slot ${SLOT[c]} inactive`, async () =>
		(await one(src, 'SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = $1 AND active', [SLOT[c]])).n === 0, 50, 120));
	await soft(src.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [SLOT[c]]));
}

async function dropAllConsumers()
{
	await stopListener();
	for (const c of DRAIN_CONSUMERS)
		await dropConsumer(c);
}

/* Check what the consumer delivered (not timed). */
async function verify(c, w, rows, opts = {})
{
	/* the workload's events; the fence's may or may not be there yet */
	const expected = rows;
	if (c === 'pgcdc_queue')
	{
		/*
		 * Fresh statistics first: the events view joins the queue's two
		 * tables, and with none (tables just filled) the planner picks a
		 * nested loop over sequential scans, quadratic in the transactions.
		 */
		if (QUEUE_TRUNCATE !== 'TRUNCATE pgcdc_drasi.events')
			await src.query('ANALYZE pgcdc_drasi.queue_events, pgcdc_drasi.queue_transactions');
		const n = Number((await one(src, "SELECT count(*) AS n FROM pgcdc_drasi.events WHERE source_id = $1 AND label = 'orders'", [SOURCE_ID[c]])).n);
		if (n !== expected)
			throw new Error(`${c} ${w}: ${n} events in the queue, expected ${expected}`);
		return `${fmtInt(n)} events in the queue`;
	}
	if (c === 'pgcdc_notify')
	{
		const queued = Number((await one(src, "SELECT count(*) AS n FROM pgcdc_drasi.events WHERE source_id = $1 AND label = 'orders'", [SOURCE_ID[c]])).n);
		/* every event is announced: one by one, or as a range of queue rows */
		await waitUntil('the listener to receive every notification', async () => listener.events >= expected, 50, 60)
			.catch(() => {});
		if (listener.events !== expected)
			throw new Error(`${c} ${w}: the listener counted ${listener.events} events, expected ${expected}`);
		const single = listener.events - (listener.rangeEvents || 0);
		return `${fmtInt(single)} events notified one by one, ${fmtInt(listener.rangeEvents || 0)} announced as seq ranges (${fmtInt(queued)} rows in the queue table)`;
	}
	if (c === 'subscription' && opts.compareTables)
	{
		const a = await checksum(src);
		const b = await checksum(dst);
		if (a.n !== b.n || a.h !== b.h)
			throw new Error(`subscription ${w}: target table differs (source ${a.n} rows/${a.h}, target ${b.n} rows/${b.h})`);
		return `target table equals the source (${fmtInt(Number(a.n))} rows, same checksum)`;
	}
	return '';
}

/* ------------------------------------------------------------------ */
/* memory of the source worker                                          */
/* ------------------------------------------------------------------ */

/*
 * Two views of the worker's memory.  smaps_rollup's Private_* counts every
 * page only this process maps, which includes pages of shared_buffers (a
 * shared mapping) that no other process has touched yet, such as the
 * queue pages the worker itself just extended.  own() counts private
 * mappings only (heap, stack, anonymous memory, libraries' data): the
 * memory the worker would give back by exiting.
 */
function memoryOf(pid)
{
	try
	{
		const t = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
		let own = 0;
		let rollup = 0;
		let privateMapping = true;
		for (const line of t.split('\n'))
		{
			const h = /^[0-9a-f]+-[0-9a-f]+ (\S{4}) /.exec(line);
			if (h)
			{
				privateMapping = h[1][3] === 'p';
				continue;
			}
			const m = /^Private_(?:Clean|Dirty):\s+(\d+) kB/.exec(line);
			if (m)
			{
				rollup += Number(m[1]) * 1024;
				if (privateMapping)
					own += Number(m[1]) * 1024;
			}
		}
		return { rollup, own };
	}
	catch (e)
	{
		return null;
	}
}

function privateRss(pid)
{
	try
	{
		const t = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
		const clean = /Private_Clean:\s+(\d+) kB/.exec(t);
		const dirty = /Private_Dirty:\s+(\d+) kB/.exec(t);
		return (Number(clean[1]) + Number(dirty[1])) * 1024;
	}
	catch (e)
	{
		return null;
	}
}

/* Samples private RSS every 100 ms and memory contexts every second. */
class MemorySampler
{
	constructor(pid)
	{
		this.pid = pid;
		this.samples = [];
		this.ownSamples = [];
		this.first = privateRss(pid);
		this.firstOwn = memoryOf(pid)?.own ?? null;
		this.logOffset = SERVER_LOG ? fs.statSync(SERVER_LOG).size : 0;
		this.rssTimer = setInterval(() => {
			const v = memoryOf(pid);
			if (v !== null)
			{
				this.samples.push(v.rollup);
				this.ownSamples.push(v.own);
			}
		}, 100);
		this.ctxTimer = setInterval(() => {
			poller.query('SELECT pg_log_backend_memory_contexts($1)', [pid]).catch(() => {});
		}, 1000);
		poller.query('SELECT pg_log_backend_memory_contexts($1)', [pid]).catch(() => {});
	}

	async stop()
	{
		clearInterval(this.rssTimer);
		clearInterval(this.ctxTimer);
		await sleep(300);		/* let the last context dump reach the log */
		return {
			first: this.first,
			peak: Math.max(this.first || 0, ...this.samples),
			first_own: this.firstOwn,
			peak_own: Math.max(this.firstOwn || 0, ...this.ownSamples),
			samples: this.samples.length,
			grand_totals: grandTotals(this.pid, this.logOffset),
		};
	}
}

/* "Grand total" lines that pg_log_backend_memory_contexts wrote for pid since offset. */
function grandTotals(pid, offset)
{
	if (!SERVER_LOG)
		return [];
	const fd = fs.openSync(SERVER_LOG, 'r');
	const size = fs.fstatSync(fd).size;
	const buf = Buffer.alloc(Math.max(0, size - offset));
	fs.readSync(fd, buf, 0, buf.length, offset);
	fs.closeSync(fd);
	const re = new RegExp(`\\[${pid}\\] LOG:  Grand total: (\\d+) bytes in \\d+ blocks; (\\d+) free`, 'g');
	const totals = [];
	let m;
	while ((m = re.exec(buf.toString('utf8'))) !== null)
		totals.push(Number(m[1]));
	return totals;
}

/* When the consumer's worker process is up (time, in now() seconds). */
async function workerStarted(c)
{
	const sql = c === 'subscription'
		? "SELECT pid FROM pg_stat_subscription WHERE subname = 'bench_sub' AND pid IS NOT NULL"
		: 'SELECT pid FROM pgcdc_drasi.source_status() WHERE source_id = $1 AND pid > 0';
	const params = c === 'subscription' ? [] : [SOURCE_ID[c]];
	return waitUntil(`${c} worker start`, async () => (await poller.query(sql, params)).rowCount > 0, 5, 120);
}

async function workerPid(c)
{
	let pid = null;
	await waitUntil(`${c} worker pid`, async () => {
		const r = await one(poller, 'SELECT pid FROM pgcdc_drasi.source_status() WHERE source_id = $1', [SOURCE_ID[c]]);
		pid = r ? r.pid : null;
		return pid !== null && pid > 0;
	}, 5, 120);
	return pid;
}

/* ------------------------------------------------------------------ */
/* drain mode                                                           */
/* ------------------------------------------------------------------ */

/*
 * Every consumer's slot is created before the workload and nothing
 * consumes while it runs.  Then each consumer in turn is started and timed
 * until it has consumed everything before the fence.  Each measurement
 * ends at the fence, so the WAL a consumer writes afterwards (the queue
 * rows of pgcdc_queue, the applied rows of the subscription) is never part
 * of another consumer's measurement.
 */
async function drain(w, result, opts = {})
{
	log(`drain ${w}: creating the slots`);
	await quiesce();
	for (const c of DRAIN_CONSUMERS)
		await createConsumer(c, false);

	const wl = await runWorkload(w);
	const L = await fence();
	log(`drain ${w}: writer ${wl.seconds.toFixed(2)} s, ${fmtInt(wl.rows)} rows, fence at ${L}`);
	result.writer_seconds_with_idle_slots = wl.seconds;
	result.wal_bytes = Number((await one(src, 'SELECT pg_wal_lsn_diff($1, confirmed_flush_lsn)::bigint AS b FROM pg_replication_slots WHERE slot_name = $2', [L, SLOT.recvlogical])).b);
	Object.assign(result, wl.extra);

	for (const c of opts.only || DRAIN_CONSUMERS)
	{
		await quiesce();
		let t0;
		let t1;
		let mem = null;
		let perf = null;
		let startSeconds = null;
		if (c === 'recvlogical' || c === 'recvlogical_stream')
		{
			const proto = c === 'recvlogical' ? ['-o', 'proto_version=1'] : ['-o', 'proto_version=2', '-o', 'streaming=on'];
			t0 = now();
			const r = await run(path.join(PGBIN, 'pg_recvlogical'),
								['-d', SRC_DB, '--slot', SLOT[c], '--start', ...proto,
								 '-o', `publication_names=${PUB}`, '-f', '/dev/null', `--endpos=${L}`],
								{ env: pgEnv });
			t1 = now();
			if (r.code !== 0)
				throw new Error(`pg_recvlogical exited with ${r.code}: ${r.err}`);
		}
		else
		{
			if (c === 'pgcdc_notify')
				listener = await startListener(NOTIFY_CHANNEL);
			if (c === 'subscription')
				await launcherSettled();
			const walBefore = c === 'pgcdc_queue' ? (await one(src, 'SELECT pg_current_wal_insert_lsn() AS l')).l : null;
			t0 = now();
			await startConsumer(c, L);
			const started = workerStarted(c).catch(() => null);
			if (c === 'pgcdc_queue' && (opts.memory || opts.perf))
			{
				const pid = await workerPid(c);
				if (opts.memory)
					mem = new MemorySampler(pid);
				if (opts.perf)
					perf = await startPerf(pid, c);
			}
			t1 = await waitUntil(`${c} to pass ${L}`, () => reached(c, L), 20);
			if (perf)
				result.profile = await stopPerf(perf);
			if (mem)
				result.memory = await mem.stop();
			const ts = await started;
			startSeconds = ts === null ? null : ts - t0;
			if (walBefore !== null)
			{
				/* WAL written while the worker drained: its queue rows and commits (nothing else writes) */
				result.queue_wal_bytes = Number((await one(src, 'SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1)::bigint AS b', [walBefore])).b);
				result.queue_wal_per_event = result.queue_wal_bytes / wl.rows;
			}
			await stopConsumer(c);
		}
		const seconds = t1 - t0;
		const note = await verify(c, w, wl.rows, { compareTables: true });
		await stopListener();
		result[c] = { seconds, rows_per_s: wl.rows / seconds, start_seconds: startSeconds, note };
		log(`drain ${w}: ${c.padEnd(13)} ${seconds.toFixed(2)} s  ${fmtInt(wl.rows / seconds)} rows/s` +
			(startSeconds === null ? '' : ` (worker up after ${startSeconds.toFixed(2)} s)`) + `  ${note}`);
	}
	await dropAllConsumers();
}

/* ------------------------------------------------------------------ */
/* concurrent mode                                                      */
/* ------------------------------------------------------------------ */

async function prepareConcurrent(w)
{
	if (w === 'W1')
		await resetOrders();
	await quiesce();
}

/*
 * The consumer streams while the writer runs.  Reported: writer time,
 * lag when the writer finished (current WAL position minus the slot's
 * confirmed_flush_lsn), and the time from the writer's end until the
 * consumer has consumed everything before the fence.
 */
async function concurrent(w, c, result, opts = {})
{
	await prepareConcurrent(w);
	let mem = null;
	if (c !== 'none')
	{
		if (c === 'pgcdc_notify')
			listener = await startListener(NOTIFY_CHANNEL);
		await createConsumer(c, true);
		await sleep(1000);		/* let it settle into idle streaming */
		if (c === 'pgcdc_queue' && opts.memory)
		{
			const pid = await workerPid(c);
			result.idle_private_rss = privateRss(pid);
			result.idle_own = memoryOf(pid)?.own ?? null;
			const off = fs.statSync(SERVER_LOG).size;
			await poller.query('SELECT pg_log_backend_memory_contexts($1)', [pid]);
			await sleep(500);
			const gt = grandTotals(pid, off);
			result.idle_grand_total = gt.length ? gt[gt.length - 1] : null;
		}
	}
	const wl = await runWorkload(w);
	const tEnd = now();
	const r = { writer_seconds: wl.seconds, ...wl.extra };
	if (c !== 'none')
	{
		r.lag_bytes = Number((await one(poller,
			'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS b FROM pg_replication_slots WHERE slot_name = $1',
			[SLOT[c]])).b);
		const L = await fence();
		const t1 = await waitUntil(`${c} to pass ${L}`, () => reached(c, L), 20);
		r.catchup_seconds = t1 - tEnd;
		r.note = await verify(c, w, wl.rows, { compareTables: w === 'W1' });
		await dropConsumer(c);
		await stopListener();
	}
	result[c] = r;
	log(`concurrent ${w}: ${c.padEnd(13)} writer ${wl.seconds.toFixed(2)} s` +
		(c === 'none' ? '' : `, lag at writer end ${(r.lag_bytes / 1048576).toFixed(1)} MB, caught up ${r.catchup_seconds.toFixed(2)} s later`));
}

/* ------------------------------------------------------------------ */
/* latency                                                              */
/* ------------------------------------------------------------------ */

async function latency(result)
{
	await quiesce();
	await src.query(
		`SELECT pgcdc_drasi.create_source('bench_lat', publication => $1, slot_name => 'bench_lat',
										   sink => 'notify', channel => 'bench_lat', notify_payload => 'full',
										   bootstrap => false)`, [PUB]);
	try
	{
		await waitUntil('bench_lat streaming', async () =>
			(await one(src, "SELECT state FROM pgcdc_drasi.status WHERE source_id = 'bench_lat'")).state === 'streaming', 20, 120);
		const lis = await connect(SRC_DB, 'bench latency listener');
		const wri = await connect(SRC_DB, 'bench latency writer');
		const total = Math.round(LATENCY_TPS * LATENCY_SECONDS);
		const committedAt = new Map();
		const receivedAt = new Map();
		lis.on('notification', (m) => {
			const t = now();
			try
			{
				const id = JSON.parse(m.payload).payload.after.properties.id;
				receivedAt.set(Number(id), t);
			}
			catch (e) { /* not ours */ }
		});
		await lis.query('LISTEN bench_lat');
		await wri.query("PREPARE ins(bigint) AS INSERT INTO orders (id, customer_id, amount, status, created_at, note) VALUES ($1, 1, 9.99, 'latency', now(), 'latency probe')");
		await sleep(1000);

		const interval = 1 / LATENCY_TPS;
		const start = now() + 0.05;
		let late = 0;
		for (let i = 0; i < total; i++)
		{
			const due = start + i * interval;
			const wait = due - now();
			if (wait > 0)
				await sleep(Math.max(1, Math.round(wait * 1000)));
			else if (wait < -interval)
				late++;
			const id = LATENCY_ID_START + i;
			await wri.query(`EXECUTE ins(${id})`);		/* autocommit: returns after COMMIT */
			committedAt.set(id, now());
		}
		const sendSeconds = now() - start;
		await waitUntil('every latency notification', async () => receivedAt.size >= total, 20, 30).catch(() => {});
		await lis.end();
		await wri.end();

		const lat = [];
		for (const [id, t] of committedAt)
			if (receivedAt.has(id))
				lat.push((receivedAt.get(id) - t) * 1000);
		lat.sort((a, b) => a - b);
		Object.assign(result, {
			sent: total, received: lat.length, achieved_tps: total / sendSeconds, late_sends: late,
			p50_ms: percentile(lat, 50), p90_ms: percentile(lat, 90), p99_ms: percentile(lat, 99),
			max_ms: lat.length ? lat[lat.length - 1] : null, min_ms: lat.length ? lat[0] : null,
		});
		log(`latency: ${lat.length}/${total} received at ${(total / sendSeconds).toFixed(0)} txn/s; p50 ${result.p50_ms?.toFixed(2)} ms, p90 ${result.p90_ms?.toFixed(2)} ms, p99 ${result.p99_ms?.toFixed(2)} ms, max ${result.max_ms?.toFixed(2)} ms`);
	}
	finally
	{
		await src.query(QUEUE_TRUNCATE);
		await src.query("SELECT pgcdc_drasi.drop_source('bench_lat')");
		await src.query('DELETE FROM orders WHERE id >= $1', [LATENCY_ID_START]);
	}
}

/* ------------------------------------------------------------------ */
/* phases of a large transaction                                        */
/* ------------------------------------------------------------------ */

/*
 * When does the first change of W1 reach a consumer?  With protocol 1 the
 * walsender decodes and spills the whole transaction before it sends any
 * of it; with streaming it sends as it decodes.  pg_recvlogical writes
 * into a pipe of ours whose first byte is timed.  Reading the pipe costs
 * this process CPU, so its totals are not comparable with the drain
 * figures; the first-change times are what this is for.
 */
async function phases(result)
{
	const protos = {
		proto1: ['-o', 'proto_version=1'],
		streaming: ['-o', 'proto_version=2', '-o', 'streaming=on'],
	};
	const slot = 'bench_phases';
	for (const [name, proto] of Object.entries(protos))
	{
		await resetOrders();
		await quiesce();
		await src.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
		try
		{
			await runWorkload('W1');
			const L = await fence();
			const t0 = now();
			let first = null;
			let err = '';
			const p = spawn(path.join(PGBIN, 'pg_recvlogical'),
							['-d', SRC_DB, '--slot', slot, '--start', ...proto,
							 '-o', `publication_names=${PUB}`, '-f', '-', `--endpos=${L}`],
							{ env: pgEnv, stdio: ['ignore', 'pipe', 'pipe'] });
			p.stdout.on('data', () => { if (first === null) first = now(); });
			p.stderr.on('data', (d) => { err += d; });
			const code = await new Promise((r) => p.on('close', r));
			const t1 = now();
			if (code !== 0 || first === null)
				throw new Error(`pg_recvlogical (${name}) exited with ${code} after ${first === null ? 'no' : 'some'} output: ${err}`);
			result[name] = { first_change_seconds: first - t0, all_seconds: t1 - t0 };
			log(`phases W1: ${name.padEnd(9)} first change after ${(first - t0).toFixed(2)} s, all after ${(t1 - t0).toFixed(2)} s`);
		}
		finally
		{
			await src.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slot]);
		}
	}
}

/* ------------------------------------------------------------------ */
/* profile                                                              */
/* ------------------------------------------------------------------ */

async function startPerf(pid, c)
{
	const ws = await one(poller, 'SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [SLOT[c]]);
	let wsPid = ws ? ws.active_pid : null;
	if (!wsPid)
	{
		await waitUntil('walsender of the source', async () => {
			const r = await one(poller, 'SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [SLOT[c]]);
			wsPid = r ? r.active_pid : null;
			return !!wsPid;
		}, 5, 60);
	}
	/*
	 * The files a process maps may no longer be the files on disk (make
	 * install replaces the library while the server runs), and perf finds
	 * no build id for a "(deleted)" mapping.  Give perf report a symfs with
	 * the very files the processes map.
	 */
	const symfs = path.join(WORK, 'symfs');
	for (const p of [pid, wsPid])
		pinMappedFiles(p, symfs);
	/* separate debug symbols (libc6-dbg, *-dbgsym) are looked up under the symfs too */
	if (fs.existsSync('/usr/lib/debug') && !fs.existsSync(path.join(symfs, 'usr/lib/debug')))
	{
		fs.mkdirSync(path.join(symfs, 'usr/lib'), { recursive: true });
		fs.symlinkSync('/usr/lib/debug', path.join(symfs, 'usr/lib/debug'));
	}
	/* one recording per process, so that percentages are of that process */
	const procs = {};
	for (const [who, p] of [['worker', pid], ['walsender', wsPid]])
	{
		const file = path.join(WORK, `perf-${who}.data`);
		const proc = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '997', '-g', '--no-buildid-cache', '-o', file, '-p', String(p)],
						   { stdio: ['ignore', 'ignore', 'pipe'] });
		proc.errText = '';
		proc.stderr.on('data', (d) => { proc.errText += d; });
		proc.exited = new Promise((r) => proc.on('close', (code) => r(code)));
		procs[who] = { proc, file, pid: p };
	}
	await sleep(200);
	procs.symfs = symfs;
	return procs;
}

function pinMappedFiles(pid, symfs)
{
	let maps;
	try
	{
		maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
	}
	catch (e)
	{
		return;
	}
	for (const line of maps)
	{
		const m = /^(\S+) \S+ \S+ \S+ \S+\s+(\/.*)$/.exec(line);
		if (!m || m[2].startsWith('/dev/') || m[2].startsWith('/SYSV') || m[2].startsWith('/memfd:'))
			continue;
		const deleted = m[2].endsWith(' (deleted)');
		const file = deleted ? m[2].slice(0, -' (deleted)'.length) : m[2];
		for (const name of deleted ? [file, m[2]] : [file])
		{
			const target = path.join(symfs, name);
			if (fs.existsSync(target))
				continue;
			try
			{
				fs.mkdirSync(path.dirname(target), { recursive: true });
				if (deleted)
					fs.copyFileSync(`/proc/${pid}/map_files/${m[1]}`, target);
				else
					fs.symlinkSync(file, target);
			}
			catch (e)
			{
				log(`  (perf: could not pin ${name}: ${e.message})`);
			}
		}
	}
}

async function stopPerf(perf)
{
	const out = {};
	const whos = ['worker', 'walsender'];
	for (const who of whos)
		perf[who].proc.kill('SIGINT');
	for (const who of whos)
	{
		const { proc, file, pid } = perf[who];
		await proc.exited;
		const common = ['report', '-i', file, '--stdio', '-g', 'none', `--symfs=${perf.symfs}`, '--kallsyms=/proc/kallsyms'];
		const self = await run('perf', [...common, '--no-children', '--sort', 'dso,symbol', '--percent-limit', '0.5']);
		const children = await run('perf', [...common, '--children', '--sort', 'symbol', '--percent-limit', '3']);
		out[who] = { pid, self: self.out, inclusive: children.out };
	}
	return out;
}

/* ------------------------------------------------------------------ */
/* the run                                                              */
/* ------------------------------------------------------------------ */

async function oneRun(i, results)
{
	const r = { run: i, drain: {}, concurrent: {}, latency: {} };
	results.runs.push(r);
	const t0 = now();
	r.load_start = fs.readFileSync('/proc/loadavg', 'utf8').trim();

	await resetOrders();
	for (const w of ['W1', 'W2', 'W3'])
	{
		r.drain[w] = {};
		await drain(w, r.drain[w], { memory: w === 'W1' });
	}

	const cw = CONCURRENT_W2 ? ['W1', 'W3', 'W2'] : ['W1', 'W3'];
	for (const w of cw)
	{
		r.concurrent[w] = {};
		/* a baseline right before each consumer: slowdowns are paired, so drifting load cancels out */
		for (const c of CONSUMERS)
		{
			await concurrent(w, 'none', r.concurrent[w]);
			r.concurrent[w][`none_before_${c}`] = r.concurrent[w].none;
			await concurrent(w, c, r.concurrent[w], { memory: w === 'W1' });
		}
		/* W1 runs empty both tables first: give W2/W3 a subscriber table with every row */
		if (w === 'W1')
			await syncTarget();
	}

	await latency(r.latency);
	r.seconds = now() - t0;
	r.load_end = fs.readFileSync('/proc/loadavg', 'utf8').trim();
	log(`run ${i} took ${(r.seconds / 60).toFixed(1)} min`);
}

async function main()
{
	if (process.argv[2] === '--report')
	{
		const results = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
		process.stdout.write(report(results));
		return;
	}
	for (const v of ['BENCH_SOCKDIR', 'BENCH_WORK'])
		if (!env[v])
			throw new Error(`${v} is not set: run bench/run.sh`);

	const results = {
		started: new Date().toISOString(),
		machine: env.BENCH_MACHINE || '',
		config: { RUNS, SCALE, N1, N2, N3, CONCURRENT_W2, LATENCY_TPS, LATENCY_SECONDS, PERF, PERF_WORKLOAD, PHASES },
		runs: [],
	};
	await setupSchema();
	results.server_version = (await one(src, 'SELECT version() AS v')).v;
	if (Number((await one(src, "SELECT current_setting('server_version_num') AS v")).v) >= 160000)
		SUB_STREAMING = 'parallel';
	results.config.subscription_streaming = SUB_STREAMING;
	if ((await one(src, "SELECT to_regclass('pgcdc_drasi.queue_events') IS NULL AS old")).old)
		QUEUE_TRUNCATE = 'TRUNCATE pgcdc_drasi.events';
	results.settings = (await src.query(
		`SELECT name, setting, unit FROM pg_settings
		 WHERE name IN ('shared_buffers', 'wal_level', 'synchronous_commit', 'max_wal_size', 'checkpoint_timeout',
						'logical_decoding_work_mem', 'max_wal_senders', 'max_replication_slots', 'max_worker_processes',
						'wal_compression', 'full_page_writes', 'pgcdc_drasi.batch_size', 'pgcdc_drasi.group_timeout',
						'pgcdc_drasi.notify_max_pending')
		 ORDER BY name`)).rows;
	results.load_before = fs.readFileSync('/proc/loadavg', 'utf8').trim();

	try
	{
		for (let i = 1; i <= RUNS; i++)
		{
			log(`==== run ${i} of ${RUNS} (SCALE=${SCALE}: W1 ${fmtInt(N1)}, W2 ${fmtInt(N2)}, W3 ${fmtInt(N3)})`);
			await oneRun(i, results);
			writeResults(results);
		}
		if (PERF)
		{
			log(`==== profile: ${PERF_WORKLOAD} drain of the queue sink under perf`);
			await resetOrders();
			results.profile = { workload: PERF_WORKLOAD };
			if (PERF_WORKLOAD !== 'W1')		/* W2 and W3 change W1's rows */
				await drain('W1', {}, { only: ['pgcdc_queue'] });
			await drain(PERF_WORKLOAD, results.profile, { only: ['pgcdc_queue'], perf: true });
		}
		if (PHASES)
		{
			log('==== phases: when the first change of W1 arrives');
			results.phases = {};
			await phases(results.phases);
		}
	}
	catch (e)
	{
		results.error = e.stack || String(e);
		writeResults(results);
		await dropAllConsumers().catch(() => {});
		throw e;
	}
	results.load_after = fs.readFileSync('/proc/loadavg', 'utf8').trim();
	results.finished = new Date().toISOString();
	const md = writeResults(results);
	process.stdout.write('\n' + md);
	await src.end();
	await dst.end();
	await poller.end();
}

function writeResults(results)
{
	fs.mkdirSync(RESULTS, { recursive: true });
	fs.writeFileSync(path.join(RESULTS, 'latest.json'), JSON.stringify(results, null, 1) + '\n');
	const md = report(results);
	fs.writeFileSync(path.join(RESULTS, 'latest.md'), md);
	return md;
}

/* ------------------------------------------------------------------ */
/* report                                                               */
/* ------------------------------------------------------------------ */

function report(results)
{
	const runs = results.runs;
	const n = runs.length;
	const cfg = results.config;
	const fx = (v, d = 2) => (v === null || v === undefined ? 'n/a' : v.toFixed(d));
	const fr = (v) => (v === null || v === undefined ? 'n/a' : fmtInt(v));
	const fmb = (v) => (v === null || v === undefined ? 'n/a' : (v / 1048576).toFixed(1));
	const med = (f) => median(runs.map((r) => { try { return f(r); } catch (e) { return null; } }));
	/* writer time without a consumer: the baseline run right before that consumer's run */
	const baseline = (r, w, c) => (r.concurrent[w][`none_before_${c}`] || r.concurrent[w].none).writer_seconds;
	const slowdown = (r, w, c) => (r.concurrent[w][c].writer_seconds / baseline(r, w, c) - 1) * 100;
	const L = [];

	L.push('# pgcdc_drasi benchmark');
	L.push('');
	L.push(`Medians of ${n} run${n === 1 ? '' : 's'} (\`RUNS=${cfg.RUNS} SCALE=${cfg.SCALE}\`). Produced by \`sudo bash bench/run.sh\`; every sample is in \`latest.json\`.`);
	L.push('Timings are measurements, never pass/fail.');
	L.push('');
	L.push('## Machine');
	L.push('');
	for (const line of (results.machine || '').split('\n').filter(Boolean))
		L.push(`- ${line}`);
	L.push(`- server: ${results.server_version || 'n/a'}`);
	L.push(`- load average before / after: ${results.load_before || 'n/a'} / ${results.load_after || 'n/a'}`);
	L.push(`- started ${results.started}, finished ${results.finished || '(unfinished)'}`);
	if (results.settings)
		L.push(`- settings: ${results.settings.map((s) => `${s.name}=${s.setting}${s.unit ? s.unit : ''}`).join(', ')}`);
	L.push('');
	if (results.error)
	{
		L.push('**The run stopped with an error:**');
		L.push('');
		L.push('```');
		L.push(results.error);
		L.push('```');
		L.push('');
	}

	L.push('## Drain mode: changed rows per second');
	L.push('');
	L.push('Every consumer\'s slot exists before the workload; nothing consumes while it runs. Then each consumer alone is started and timed until it has consumed the whole workload, its start included: pgcdc_drasi from `resume_source` until the source\'s `published_lsn` passes a fence position taken right after the workload (what `wait_for_catchup` waits for; `wait_for_catchup` itself would also wait for the WAL that the consumers measured before wrote, since its marker is written when it is called); the subscription from `ALTER SUBSCRIPTION ... ENABLE` until its replication origin has applied a fence transaction committed after the workload; pg_recvlogical from its start until it exits at `--endpos`. Ratios are medians of the per-run ratios, so a run slowed down by other load on the machine affects both sides of its ratios.');
	L.push('');
	L.push(`| workload | changed rows | pgcdc queue | pgcdc notify | subscription (streaming = ${cfg.subscription_streaming || 'off'}) | pg_recvlogical proto 1 | pg_recvlogical proto 2, streaming | queue ÷ subscription | queue ÷ recvlogical 1 | queue ÷ recvlogical streaming | notify ÷ subscription | notify ÷ recvlogical 1 | queue WAL per event (bytes) |`);
	L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
	for (const w of ['W1', 'W2', 'W3'])
	{
		const rps = (c) => med((r) => r.drain[w][c].rows_per_s);
		const ratio = (a, b) => med((r) => r.drain[w][a].rows_per_s / r.drain[w][b].rows_per_s);
		L.push(`| ${WORKLOADS[w].title} | ${fmtInt(WORKLOADS[w].rows)} | ${fr(rps('pgcdc_queue'))} | ${fr(rps('pgcdc_notify'))} | ${fr(rps('subscription'))} | ${fr(rps('recvlogical'))} | ${fr(rps('recvlogical_stream'))} | ${fx(ratio('pgcdc_queue', 'subscription'))} | ${fx(ratio('pgcdc_queue', 'recvlogical'))} | ${fx(ratio('pgcdc_queue', 'recvlogical_stream'))} | ${fx(ratio('pgcdc_notify', 'subscription'))} | ${fx(ratio('pgcdc_notify', 'recvlogical'))} | ${fr(med((r) => r.drain[w].queue_wal_per_event))} |`);
	}
	L.push('');
	L.push('Drain seconds (median):');
	L.push('');
	L.push(`| workload | writer (${DRAIN_CONSUMERS.length} idle slots) | WAL to decode (MB) | pgcdc queue | pgcdc notify | subscription | pg_recvlogical | pg_recvlogical, streaming |`);
	L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
	for (const w of ['W1', 'W2', 'W3'])
	{
		const s = (c) => fx(med((r) => r.drain[w][c].seconds));
		L.push(`| ${w} | ${fx(med((r) => r.drain[w].writer_seconds_with_idle_slots))} | ${fmb(med((r) => r.drain[w].wal_bytes))} | ${s('pgcdc_queue')} | ${s('pgcdc_notify')} | ${s('subscription')} | ${s('recvlogical')} | ${s('recvlogical_stream')} |`);
	}
	L.push('');
	L.push('pg_recvlogical with `proto_version 2` and `streaming on` is the streaming peer: the walsender sends a transaction larger than `logical_decoding_work_mem` while it decodes it, instead of spilling it to disk and sending it only after its commit. *Queue WAL per event* = WAL written while the queue sink drained (its queue rows, index entries and commits; nothing else writes meanwhile) ÷ changed rows.');
	L.push('');
	if (runs.length && runs[0].drain.W1 && runs[0].drain.W1.pgcdc_notify)
		L.push(`Notify sink, what the listener got (run 1): W1 ${runs[0].drain.W1.pgcdc_notify.note}; W2 ${runs[0].drain.W2?.pgcdc_notify?.note}; W3 ${runs[0].drain.W3?.pgcdc_notify?.note}.`);
	L.push('');

	const cws = ['W1', 'W3', 'W2'].filter((w) => runs.some((r) => r.concurrent && r.concurrent[w]));
	if (cws.length)
	{
		L.push('## Concurrent mode: writer slowdown, lag, catch-up');
		L.push('');
		L.push('The consumer streams while the writer runs. Slowdown = writer time with the consumer ÷ writer time with no consumer measured right before it, − 1: median of the per-run values, which are listed so that their spread can be judged (on a busy machine it can exceed the effect). Lag = `pg_current_wal_lsn()` − the slot\'s `confirmed_flush_lsn` when the writer returned. Catch-up = from the writer\'s return until the consumer has consumed everything the writer did.');
		L.push('');
		L.push('| workload | consumer | writer alone, right before (s) | writer with the consumer (s) | slowdown % | per run | lag at writer end (MB) | catch-up (s) |');
		L.push('|---|---|---:|---:|---:|---|---:|---:|');
		for (const w of cws)
		{
			for (const c of CONSUMERS)
			{
				const perRun = runs.map((r) => { try { return fx(slowdown(r, w, c), 0); } catch (e) { return 'n/a'; } }).join(' / ');
				L.push(`| ${w} | ${CONSUMER_TITLE[c]} | ${fx(med((r) => baseline(r, w, c)))} | ${fx(med((r) => r.concurrent[w][c].writer_seconds))} | ${fx(med((r) => slowdown(r, w, c)), 1)} | ${perRun} | ${fmb(med((r) => r.concurrent[w][c].lag_bytes))} | ${fx(med((r) => r.concurrent[w][c].catchup_seconds))} |`);
			}
		}
		L.push('');
	}

	L.push('## LISTEN latency (notify sink, full payload)');
	L.push('');
	L.push(`${cfg.LATENCY_TPS} single-row transactions per second for ${cfg.LATENCY_SECONDS} s. Commit-to-receipt: the writer\'s COMMIT returned → a LISTEN client on the source\'s channel received the notification (matched by id; both clients in one process, one clock). A negative minimum means the notification was read before the writer\'s COMMIT reply, in the same turn of the event loop.`);
	L.push('');
	L.push('| min (ms) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | received / sent | achieved txn/s |');
	L.push('|---:|---:|---:|---:|---:|---:|---:|');
	L.push(`| ${fx(med((r) => r.latency.min_ms))} | ${fx(med((r) => r.latency.p50_ms))} | ${fx(med((r) => r.latency.p90_ms))} | ${fx(med((r) => r.latency.p99_ms))} | ${fx(med((r) => r.latency.max_ms))} | ${fr(med((r) => r.latency.received))} / ${fr(med((r) => r.latency.sent))} | ${fx(med((r) => r.latency.achieved_tps), 0)} |`);
	L.push('');

	L.push('## Memory of the pgcdc_drasi source worker (queue sink)');
	L.push('');
	L.push('Sampled every 100 ms. *smaps_rollup private* = Private_Clean + Private_Dirty of `/proc/<pid>/smaps_rollup`; it also counts shared_buffers pages that only the worker has touched so far (the queue pages it extends), so it grows with the data written, not with the worker\'s own allocations. *Own memory* = the same sum over private mappings only (heap, stack, anonymous memory). *Contexts* = Grand total of `pg_log_backend_memory_contexts()`, every second.');
	L.push('');
	L.push('| | smaps_rollup private (MB) | own memory (MB) | contexts, Grand total (MB) |');
	L.push('|---|---:|---:|---:|');
	const idleRss = med((r) => r.concurrent.W1.idle_private_rss);
	const idleOwn = med((r) => r.concurrent.W1.idle_own);
	const idleGt = med((r) => r.concurrent.W1.idle_grand_total);
	const firstRss = med((r) => r.drain.W1.memory.first);
	const firstOwn = med((r) => r.drain.W1.memory.first_own);
	const peakRss = med((r) => r.drain.W1.memory.peak);
	const peakOwn = med((r) => r.drain.W1.memory.peak_own);
	const peakGt = med((r) => (r.drain.W1.memory.grand_totals.length ? Math.max(...r.drain.W1.memory.grand_totals) : null));
	const firstGt = med((r) => (r.drain.W1.memory.grand_totals.length ? r.drain.W1.memory.grand_totals[0] : null));
	const diff = (a, b) => (a !== null && b !== null ? a - b : null);
	L.push(`| idle: streaming, no changes (before W1, concurrent mode) | ${fmb(idleRss)} | ${fmb(idleOwn)} | ${fmb(idleGt)} |`);
	L.push(`| W1 drain, first sample (worker just started) | ${fmb(firstRss)} | ${fmb(firstOwn)} | ${fmb(firstGt)} |`);
	L.push(`| W1 drain, peak | ${fmb(peakRss)} | ${fmb(peakOwn)} | ${fmb(peakGt)} |`);
	L.push(`| W1 drain peak − idle | ${fmb(diff(peakRss, idleRss))} | ${fmb(diff(peakOwn, idleOwn))} | ${fmb(diff(peakGt, idleGt))} |`);
	L.push('');

	L.push('## Per run');
	L.push('');
	L.push('Drain rows/s of each run, and the load average (1, 5, 15 min) when it started: other work on the machine shows up here first.');
	L.push('');
	L.push(`| | ${runs.map((r) => `run ${r.run}`).join(' | ')} |`);
	L.push(`|---|${runs.map(() => '---:').join('|')}|`);
	L.push(`| load average at start | ${runs.map((r) => (r.load_start ? r.load_start.split(' ').slice(0, 3).join(' ') : 'n/a')).join(' | ')} |`);
	for (const w of ['W1', 'W2', 'W3'])
		for (const c of DRAIN_CONSUMERS)
			L.push(`| ${w} ${c} | ${runs.map((r) => { try { return fr(r.drain[w][c].rows_per_s); } catch (e) { return 'n/a'; } }).join(' | ')} |`);
	L.push(`| W2 pgbench tps (drain mode, ${DRAIN_CONSUMERS.length} idle slots) | ${runs.map((r) => { try { return fr(r.drain.W2.pgbench_tps); } catch (e) { return 'n/a'; } }).join(' | ')} |`);
	L.push(`| latency p50 / p99 (ms) | ${runs.map((r) => { try { return `${fx(r.latency.p50_ms)} / ${fx(r.latency.p99_ms)}`; } catch (e) { return 'n/a'; } }).join(' | ')} |`);
	L.push(`| wall time (min) | ${runs.map((r) => (r.seconds ? fx(r.seconds / 60, 1) : 'n/a')).join(' | ')} |`);
	L.push('');

	L.push('## Targets (informational)');
	L.push('');
	L.push('| target | measured (median) | within |');
	L.push('|---|---:|---|');
	const within = (v, ok) => (v === null ? 'n/a' : ok ? 'yes' : 'no');
	for (const w of ['W1', 'W2', 'W3'])
	{
		const v = med((r) => r.drain[w].pgcdc_queue.rows_per_s / r.drain[w].subscription.rows_per_s);
		const goal = w === 'W1' ? 1.2 : 1.5;
		L.push(`| queue sink ≥ ${goal} × subscription, ${w} | ${fx(v)} × | ${within(v, v >= goal)} |`);
	}
	{
		const v = med((r) => r.drain.W1.pgcdc_queue.rows_per_s / r.drain.W1.recvlogical.rows_per_s);
		L.push(`| queue sink ≥ 1.0 × pg_recvlogical protocol 1, W1 | ${fx(v)} × | ${within(v, v >= 1.0)} |`);
	}
	{
		const p50 = med((r) => r.latency.p50_ms);
		const p99 = med((r) => r.latency.p99_ms);
		L.push(`| LISTEN latency p50 ≤ 1.5 ms at ${cfg.LATENCY_TPS} txn/s | ${fx(p50)} ms | ${within(p50, p50 <= 1.5)} |`);
		L.push(`| LISTEN latency p99 ≤ 5 ms at ${cfg.LATENCY_TPS} txn/s | ${fx(p99)} ms | ${within(p99, p99 <= 5)} |`);
	}
	if (runs.some((r) => r.concurrent && r.concurrent.W1))
	{
		const cu = med((r) => r.concurrent.W1.pgcdc_queue.catchup_seconds / r.concurrent.W1.subscription.catchup_seconds);
		L.push(`| concurrent W1: queue sink catch-up ≤ 0.5 × the subscription's | ${fx(cu)} × | ${within(cu, cu <= 0.5)} |`);
		const q = med((r) => slowdown(r, 'W1', 'pgcdc_queue'));
		const sub = med((r) => slowdown(r, 'W1', 'subscription'));
		L.push(`| concurrent W1: writer slowdown, queue sink ≤ subscription's (${fx(sub, 1)} %) | ${fx(q, 1)} % | ${within(q, q !== null && sub !== null && q <= sub)} |`);
	}
	{
		const q1 = med((r) => r.drain.W1.queue_wal_per_event);
		L.push(`| queue WAL per event, W1 (771 bytes before the compact queue, this benchmark at ae5908e; goal: at most half) | ${fr(q1)} bytes | ${within(q1, q1 !== null && q1 <= 385)} |`);
	}
	{
		const v = diff(peakRss, idleRss) === null ? null : diff(peakRss, idleRss) / 1048576;
		L.push(`| worker memory < 64 MB above idle during W1 (smaps_rollup private) | ${fx(v, 1)} MB | ${within(v, v < 64)} |`);
		const o = diff(peakOwn, idleOwn) === null ? null : diff(peakOwn, idleOwn) / 1048576;
		L.push(`| worker memory < 64 MB above idle during W1 (own memory) | ${fx(o, 1)} MB | ${within(o, o < 64)} |`);
	}
	L.push('');

	if (results.phases && results.phases.streaming)
	{
		const ph = results.phases;
		L.push('## When the first change of W1 arrives (PHASES=1, not part of the timings)');
		L.push('');
		L.push('pg_recvlogical on a slot created right before W1, writing into a pipe of the benchmark whose first byte is timed. The totals include reading the pipe, so compare them with each other, not with the drain table.');
		L.push('');
		L.push('| pgoutput | first change after (s) | all changes after (s) |');
		L.push('|---|---:|---:|');
		L.push(`| protocol 1 (decode and spill, send after the commit) | ${fx(ph.proto1.first_change_seconds)} | ${fx(ph.proto1.all_seconds)} |`);
		L.push(`| protocol 2, streaming = on (send while decoding) | ${fx(ph.streaming.first_change_seconds)} | ${fx(ph.streaming.all_seconds)} |`);
		L.push('');
	}

	if (results.profile && results.profile.profile)
	{
		const p = results.profile.profile;
		L.push(`## Profile: ${results.profile.workload || 'W1'} drain of the queue sink under perf (not part of the timings)`);
		L.push('');
		L.push(`Drain time under perf: ${fx(results.profile.pgcdc_queue?.seconds)} s. Percentages are of each process\'s own samples (cpu-clock, 997 Hz, frame-pointer call graphs). Addresses without a name are static functions of the stripped postgres binary.`);
		L.push('');
		for (const who of ['worker', 'walsender'])
		{
			const lines = (t, k) => t.split('\n').filter((l) => l.trim() && !l.startsWith('#')).slice(0, k).map((l) => l.replace(/\s+$/, '')).join('\n');
			L.push(`### ${who === 'worker' ? 'source worker' : 'its walsender'} (pid ${p[who].pid}): self time`);
			L.push('');
			L.push('```');
			L.push(lines(p[who].self, 30));
			L.push('```');
			L.push('');
			L.push(`### ${who === 'worker' ? 'source worker' : 'its walsender'}: inclusive time (callers included)`);
			L.push('');
			L.push('```');
			L.push(lines(p[who].inclusive, 40));
			L.push('```');
			L.push('');
		}
	}
	return L.join('\n');
}

main().catch((e) => {
	console.error(e.stack || e);
	process.exit(1);
});
