// http_receiver.js: an HTTP receiver for the HTTP target tests
// (test/t/071_http_target.pl) and the delivery benchmark (bench/targets.sh).
//
//   node http_receiver.js <port> <source_id> [--quiet] [--tls <key.pem> <cert.pem>]
//
// (--quiet: keep counts only, not the events; --tls: serve HTTPS with that
// key and certificate.)
//
// It implements the contract of Drasi's HTTP source (drasi-core
// components/sources/http):
//
//   POST /sources/<source_id>/events        one event
//   POST /sources/<source_id>/events/batch  {"events": [...]}
//
// each event {"operation": "insert"|"update", "element": {"type": "node"|
// "relation", "id", "labels", "properties"}, "timestamp"} or {"operation":
// "delete", "id", "labels", "timestamp"}; the answer is 200 {"success":
// true, "message": "All N events processed successfully"}, 200 with
// "Processed N events successfully, M failed" and "error" when some (not
// all) events failed, 400 {"success": false} when all failed or the source
// id is not ours, 503 when its durability log is full.  And, for the
// webhook format, POST /webhook with a JSON array of events.
//
// Only standard modules: no npm install needed.
//
// Control (for the tests, never by the target):
//   POST /_control/faults  [{"mode": M, "count": n, "ms": t}, ...] queues
//        faults for the next requests, in order:
//          503      answer 503 "WAL capacity exhausted" (nothing accepted)
//          429      answer 429 with Retry-After: 1
//          500      answer 500
//          timeout  read the request, never answer
//          reset    read the request, then reset the connection (RST)
//          400      answer 400 {"success": false, "error": "test-refusal-<k>"}
//          partial  fail the first event of a batch (200, or 400 if alone)
//          delay    accept the events, answer after ms milliseconds
//   POST /_control/clear   forget the faults and the log
//   GET  /_log             the accepted requests, in order of arrival:
//        [{"path", "key", "auth", "events": [...], "failed": n}, ...]
//   GET  /_stats           {"requests", "faults", "accepted_events", "delaying"}
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');

const port = parseInt(process.argv[2], 10);
const sourceId = process.argv[3] || 'src';
const quiet = process.argv.includes('--quiet');	// bench: no log of events
const tlsAt = process.argv.indexOf('--tls');

let faults = [];
let log = [];
let stats = { requests: 0, faults: 0, accepted_events: 0, delaying: 0 };

function reply(res, status, body, headers) {
	const text = JSON.stringify(body);
	res.writeHead(status, Object.assign({ 'Content-Type': 'application/json',
		'Content-Length': Buffer.byteLength(text) }, headers || {}));
	res.end(text);
}

function nextFault() {
	while (faults.length > 0 && faults[0].count <= 0)
		faults.shift();
	if (faults.length === 0)
		return null;
	faults[0].count--;
	stats.faults++;
	return faults[0];
}

// Drasi's HttpSourceChange, checked as its serde model would.
function validEvent(e) {
	if (e === null || typeof e !== 'object')
		return false;
	if (e.operation === 'delete')
		return typeof e.id === 'string' && (e.labels === undefined || Array.isArray(e.labels));
	if (e.operation !== 'insert' && e.operation !== 'update')
		return false;
	const el = e.element;
	if (el === null || typeof el !== 'object' || typeof el.id !== 'string' || !Array.isArray(el.labels))
		return false;
	if (el.type === 'relation')
		return typeof el.from === 'string' && typeof el.to === 'string';
	return el.type === 'node' && (el.properties === undefined ||
		(el.properties !== null && typeof el.properties === 'object'));
}

// Accept a request's events (those not failed) and answer as Drasi does.
function accept(req, res, events, batch, fault) {
	let failed = 0;
	const kept = [];
	let lastError = null;
	events.forEach((e, i) => {
		if (!validEvent(e) || (fault && fault.mode === 'partial' && i === 0)) {
			failed++;
			lastError = `event ${i} failed`;
		} else
			kept.push(e);
	});
	const entry = { path: req.url, key: req.headers['idempotency-key'] || null,
		auth: req.headers['authorization'] || null, events: quiet ? [] : kept, count: kept.length, failed };
	if (kept.length > 0)
		log.push(entry);
	stats.accepted_events += kept.length;
	const send = () => {
		if (kept.length === 0)
			reply(res, 400, { success: false, message: 'All events failed', error: lastError });
		else if (failed > 0)
			reply(res, 200, { success: true,
				message: `Processed ${kept.length} events successfully, ${failed} failed`, error: lastError });
		else
			reply(res, 200, { success: true, message: batch ?
				`All ${kept.length} events processed successfully` : 'Event processed successfully' });
	};
	if (fault && fault.mode === 'delay') {
		stats.delaying++;
		setTimeout(() => { stats.delaying--; send(); }, fault.ms || 5000);
	} else
		send();
}

function handler(req, res) {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const raw = Buffer.concat(chunks).toString('utf8');
		if (req.url === '/_control/faults' && req.method === 'POST') {
			faults = faults.concat(JSON.parse(raw));
			return reply(res, 200, { ok: true });
		}
		if (req.url === '/_control/clear' && req.method === 'POST') {
			faults = [];
			log = [];
			stats = { requests: 0, faults: 0, accepted_events: 0, delaying: 0 };
			return reply(res, 200, { ok: true });
		}
		if (req.url === '/_log')
			return reply(res, 200, log);
		if (req.url === '/_stats')
			return reply(res, 200, Object.assign({ pending_faults: faults.reduce((n, f) => n + f.count, 0) }, stats));

		stats.requests++;
		const fault = nextFault();
		if (fault) {
			switch (fault.mode) {
			case '503':
				return reply(res, 503, { success: false, message: 'WAL capacity exhausted',
					error: 'WAL capacity exhausted' });
			case '429':
				return reply(res, 429, { success: false, message: 'Too many requests' }, { 'Retry-After': '1' });
			case '500':
				return reply(res, 500, { success: false, message: 'Internal error' });
			case 'timeout':
				return;			// never answer
			case 'reset':
				return req.socket.resetAndDestroy();
			case '400':
				return reply(res, 400, { success: false, message: 'Refused by the test',
					error: `test-refusal-${stats.faults}` });
			default:
				break;			// partial, delay: below
			}
		}

		let body;
		try {
			body = JSON.parse(raw);
		} catch (e) {
			return reply(res, 400, { success: false, message: 'Invalid JSON', error: String(e) });
		}
		if (req.method === 'POST' && req.url === '/webhook') {
			if (!Array.isArray(body))
				return reply(res, 400, { success: false, message: 'expected an array' });
			const entry = { path: req.url, key: req.headers['idempotency-key'] || null,
				auth: req.headers['authorization'] || null, events: quiet ? [] : body, count: body.length, failed: 0 };
			log.push(entry);
			stats.accepted_events += body.length;
			return reply(res, 200, { ok: true });
		}
		const m = /^\/sources\/([^/]+)\/events(\/batch)?$/.exec(req.url);
		if (req.method !== 'POST' || !m)
			return reply(res, 404, { success: false, message: 'Not found' });
		if (m[1] !== sourceId)
			return reply(res, 400, { success: false, message: 'Source name mismatch',
				error: `Expected '${sourceId}', got '${m[1]}'` });
		if (m[2]) {
			if (body === null || !Array.isArray(body.events))
				return reply(res, 422, { success: false, message: 'expected {"events": [...]}' });
			return accept(req, res, body.events, true, fault);
		}
		return accept(req, res, [body], false, fault);
	});
}

const server = tlsAt > 0 ?
	https.createServer({ key: fs.readFileSync(process.argv[tlsAt + 1]),
		cert: fs.readFileSync(process.argv[tlsAt + 2]) }, handler) :
	http.createServer(handler);
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => {
	console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
