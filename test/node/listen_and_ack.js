#!/usr/bin/env node
// listen_and_ack.js: a Node.js client of pgcdc_drasi.
//
// It does what an application does with a source that has sink 'both':
//
//   - LISTEN on the source's channel and turn every notification into
//     events: a full event is the payload itself; a reference
//     ({"ref":true, "seq":N}) is fetched with pgcdc_drasi.get_events(source, N);
//     a range ({"firstSeq":a, "lastSeq":b}, wake-up or overflow) with
//     pgcdc_drasi.get_events(source, a, b);
//   - read the queue through a durable consumer: pgcdc_drasi.read(consumer),
//     then pgcdc_drasi.ack(consumer, last seq), in a loop.
//
// It stops once both paths have seen --events distinct events (or after
// --timeout ms) and prints one JSON summary line on stdout.  "READY" is
// printed on stdout once the LISTEN is in place.
//
// Connection: the usual libpq environment variables, read by node-postgres:
// PGHOST (a directory means a unix socket), PGPORT, PGDATABASE, PGUSER.
//
//   node listen_and_ack.js --source orders-db --channel pgcdc_orders_db \
//        --consumer my-app --events 10 [--batch 100] [--timeout 60000]
'use strict';

const { Client } = require('pg');

function parseArgs(argv) {
  const opts = { batch: 100, timeout: 60000 };
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`missing value for ${argv[i]}`);
    opts[key] = ['events', 'batch', 'timeout'].includes(key) ? Number(value) : value;
  }
  for (const k of ['source', 'channel', 'consumer', 'events']) {
    if (opts[k] === undefined) throw new Error(`--${k} is required`);
  }
  return opts;
}

// The element of a Drasi node event: "after", or "before" for deletes.
function element(event) {
  return event.payload.after || event.payload.before || {};
}

function describe(event, via) {
  let maxValueLength = 0;
  for (const v of Object.values(element(event).properties || {})) {
    if (typeof v === 'string') maxValueLength = Math.max(maxValueLength, v.length);
  }
  return { seq: Number(event.metadata.seq), op: event.op, id: element(event).id || null, via, maxValueLength };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const opts = parseArgs(process.argv);
  const summary = {
    source: opts.source,
    channel: opts.channel,
    consumer: opts.consumer,
    notifications: [],   // raw payloads, in arrival order
    notified: [],        // events from notifications, in arrival order
    duplicates: [],      // seqs notified more than once
    consumed: [],        // events read through the consumer, in read order
    acked: null,
    error: null,
  };
  const seen = new Set();

  const listener = new Client({ application_name: 'listen_and_ack listener' });
  const fetcher = new Client({ application_name: 'listen_and_ack fetcher' });
  const reader = new Client({ application_name: 'listen_and_ack reader' });
  await Promise.all([listener.connect(), fetcher.connect(), reader.connect()]);

  const getEvents = async (first, last) => {
    const res = await fetcher.query(
      'SELECT seq, payload FROM pgcdc_drasi.get_events($1, $2, $3) ORDER BY seq',
      [opts.source, first, last]);
    return res.rows.map((r) => r.payload);
  };

  // Notifications are handled one at a time, in arrival order.
  let chain = Promise.resolve();
  let notifyDone;
  const notifyFinished = new Promise((resolve) => { notifyDone = resolve; });
  const record = (event, via) => {
    const d = describe(event, via);
    if (seen.has(d.seq)) summary.duplicates.push(d.seq);
    seen.add(d.seq);
    summary.notified.push(d);
    if (seen.size >= opts.events) notifyDone();
  };
  listener.on('notification', (msg) => {
    chain = chain.then(async () => {
      summary.notifications.push(msg.payload);
      const n = JSON.parse(msg.payload);
      if (n.ref) {
        for (const e of await getEvents(n.seq, n.seq)) record(e, 'ref');
      } else if (n.firstSeq !== undefined) {
        for (const e of await getEvents(n.firstSeq, n.lastSeq)) record(e, n.overflow ? 'overflow' : 'range');
      } else {
        record(n, 'event');
      }
    }).catch((err) => { summary.error = String(err); notifyDone(); });
  });
  await listener.query(`LISTEN ${listener.escapeIdentifier(opts.channel)}`);
  process.stdout.write('READY\n');

  // The consumer loop: read a batch, ack its last seq, repeat.
  const consume = async () => {
    while (summary.consumed.length < opts.events) {
      const res = await reader.query('SELECT seq, payload FROM pgcdc_drasi.read($1, $2)', [opts.consumer, opts.batch]);
      if (res.rows.length === 0) {
        await sleep(50);
        continue;
      }
      for (const row of res.rows) summary.consumed.push(describe(row.payload, 'read'));
      const last = res.rows[res.rows.length - 1].seq;
      await reader.query('SELECT pgcdc_drasi.ack($1, $2)', [opts.consumer, last]);
      summary.acked = Number(last);
    }
  };

  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => { summary.error = `timed out after ${opts.timeout} ms`; resolve(); }, opts.timeout);
  });
  try {
    await Promise.race([Promise.all([notifyFinished.then(() => chain), consume()]), timeout]);
  } catch (err) {
    summary.error = String(err);
  }
  clearTimeout(timer);
  await Promise.allSettled([listener.end(), fetcher.end(), reader.end()]);
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exitCode = summary.error ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`listen_and_ack: ${err.stack || err}\n`);
  process.exit(2);
});
