/*-------------------------------------------------------------------------
 *
 * target.c
 *		The delivery worker of a target: reads its source's queue after
 *		the delivered position and writes the events to a Redis stream,
 *		exactly once, or POSTs them to an HTTP endpoint, at least once,
 *		in seq order.
 *
 * EXACTLY ONCE
 *
 * A target is a durable consumer of its source's queue: the consumer row
 * 'target:<target_id>' holds, as acked_seq, the last event delivered, and
 * retention keeps every event after it.  The worker reads a batch after
 * that position (one short read-only transaction), writes it to Redis in
 * one round trip (MULTI, one XADD per event, EXEC) and then moves the
 * position in a local transaction.  Each entry's id is derived from its
 * seq, "<seq>-0", so ids rise strictly along the stream, and Redis refuses
 * any XADD whose id is not above the stream's last id.  After a crash
 * between XADD and the local commit, the worker reads the same events
 * again and Redis refuses the ones it has: they are counted as delivered,
 * never written twice.  Because a batch is one Redis transaction, Redis
 * holds a batch whole or not at all, so the refused events always come
 * first in a batch; a refusal after an accepted event means someone else
 * writes the stream, and stops delivery.  A stream whose last id is above
 * the source's last seq was not written by this target (or the source
 * was made again): delivery stops with an error rather than have its
 * events refused as duplicates.
 *
 * FAILURES
 *
 * A Redis error (unreachable, timeout, refused) is recorded in
 * target_status (state "error") and retried in place with the source
 * workers' backoff, forever; a PostgreSQL error ends the worker, which
 * the launcher starts again with the same backoff.
 *
 * HTTP
 *
 * An http target sends a batch per request (target_http.c, http.c), one
 * request at a time, and moves its position only after a 2xx, so a batch
 * is sent again only across a crash.  No answer, 408, 429 and 5xx are
 * retried as above (with jitter), sending the same batch again; any other
 * status, or Drasi's 200 that reports a partial failure (after moving
 * past the batch: Drasi has the rest), stops delivery until
 * resume_target or alter_target (stop_delivery).  See design.md.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/target.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "common/pg_prng.h"
#include "http.h"
#include "pgcdc_drasi.h"
#include "redis.h"
#include "shmem.h"
#include "queue_read.h"
#include "target.h"

#define TARGET_IDLE_POLL_MS		1000	/* fallback when no wake-up comes */
#define TARGET_MAX_BATCH		10000

static PgcdcTarget *MyTarget = NULL;
static MemoryContext TargetContext = NULL;
static MemoryContext batch_mcxt = NULL;
static MemoryContext request_mcxt = NULL;	/* http: one request's memory */

static PgcdcTargetConfig *config = NULL;
static PgcdcTargetOptions options;
static PgcdcRedisUrl url;
static char *consumer_name = NULL;
static int64 delivered_seq = 0;
static uint32 seen_generation = 0;
static PgcdcRedis *redis = NULL;
static PgcdcHttp *http = NULL;
static char *http_where = NULL; /* the url without its secrets */
static bool ever_connected = false;
static bool http_connected_once = false;	/* a first HTTP connection made */
static uint64 http_connections_seen = 0;	/* of the current handle */
static int	failures = 0;
static bool stopped = false;	/* stop_delivery since the last delivery */

/* The batch being delivered. */
static int64 *batch_seqs = NULL;
static char **batch_data = NULL;
static PgcdcXaddResult *batch_results = NULL;
static int	pending_n = 0;		/* http: a batch to send again */

/* What the worker was doing, for the context of any error it raises. */
static struct
{
	int64		first_seq;		/* 0: not delivering a batch */
	int64		last_seq;
}			errctx;

/*
 * Error context callback: every error of the worker names the target,
 * its source and, while a batch is out, its seq range.
 */
static void
target_error_callback(void *arg)
{
	const char *target_id = MyTarget ? MyTarget->target_id : "?";
	const char *source_id = config ? config->source_id : "?";

	if (errctx.first_seq > 0)
		errcontext("pgcdc_drasi target \"%s\" of source \"%s\" delivering seq " INT64_FORMAT
				   " to " INT64_FORMAT,
				   target_id, source_id, errctx.first_seq, errctx.last_seq);
	else
		errcontext("pgcdc_drasi target \"%s\" of source \"%s\"", target_id, source_id);
}

/*
 * An integer option of a JSON options object: a number without a
 * fraction, within bounds.  owner names what the options belong to in
 * the error ("target \"t\"", "the redis sink of source \"s\""); shared
 * with sink_redis.c, whose options follow the same rules.
 */
int64
pgcdc_target_option_int(const char *owner, const char *key, JsonbValue *v, int64 min, int64 max)
{
	char	   *text;
	char	   *end;
	int64		n = 0;

	if (v->type == jbvNumeric)
	{
		text = DatumGetCString(DirectFunctionCall1(numeric_out,
												   NumericGetDatum(v->val.numeric)));

		errno = 0;
		n = strtoll(text, &end, 10);
		if (errno == 0 && *end == '\0' && n >= min && n <= max)
			return n;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid option \"%s\" of %s", key, owner),
			 errdetail("\"%s\" must be an integer between " INT64_FORMAT " and " INT64_FORMAT ".",
					   key, min, max)));
	return 0;					/* keep the compiler quiet */
}

/* A string option. */
static char *
option_string(const char *target_id, const char *key, JsonbValue *v)
{
	if (v->type == jbvString && v->val.string.len > 0)
		return pnstrdup(v->val.string.val, v->val.string.len);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid option \"%s\" of target \"%s\"", key, target_id),
			 errdetail("\"%s\" must be a non-empty string.", key)));
	return NULL;				/* keep the compiler quiet */
}

/* The kind of a target, from its name; unknown kinds are refused. */
PgcdcTargetKind
pgcdc_target_kind(const char *kind)
{
	if (strcmp(kind, "redis") == 0)
		return PGCDC_TARGET_REDIS;
	if (strcmp(kind, "http") == 0)
		return PGCDC_TARGET_HTTP;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown target kind \"%s\"", kind),
			 errhint("The kinds are \"redis\" (Redis Streams) and \"http\" (HTTP POST).")));
	return PGCDC_TARGET_REDIS;	/* keep the compiler quiet */
}

/*
 * Check the url of a target of that kind; the error never repeats it (it
 * may hold a password).
 */
void
pgcdc_target_check_url(const char *target_id, PgcdcTargetKind kind, const char *url)
{
	char	   *error;

	if (kind == PGCDC_TARGET_REDIS)
	{
		PgcdcRedisUrl parsed;

		if (!pgcdc_redis_parse_url(url, &parsed, &error))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid Redis URL for target \"%s\"", target_id),
					 errdetail("%s.", error),
					 errhint("Use redis://[user:password@]host[:port][/db] or unix://[user:password@]/path[?db=N].")));
	}
	else if (!pgcdc_http_check_url(url, &error))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid HTTP URL for target \"%s\"", target_id),
				 errdetail("%s.", error),
				 errhint("Use http://host[:port]/path or https://host[:port]/path.")));
}

/* The "headers" option: an object of strings, checked, as header lines. */
static void
option_headers(const char *target_id, JsonbValue *v, PgcdcTargetOptions *out)
{
	JsonbIterator *it;
	JsonbValue	k;
	JsonbIteratorToken r;
	int			max;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid option \"headers\" of target \"%s\"", target_id),
				 errdetail("\"headers\" must be a JSON object of strings.")));
	max = JsonContainerSize(v->val.binary.data);
	out->headers = palloc0(sizeof(char *) * Max(max, 1));
	out->nheaders = 0;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((r = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		JsonbValue	val;
		char	   *name;
		char	   *value;
		char	   *error;

		if (r != WJB_KEY)
			continue;
		name = pnstrdup(k.val.string.val, k.val.string.len);
		r = JsonbIteratorNext(&it, &val, true);
		Assert(r == WJB_VALUE);
		if (val.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid option \"headers\" of target \"%s\"", target_id),
					 errdetail("The value of header \"%s\" must be a string.", name)));
		value = pnstrdup(val.val.string.val, val.val.string.len);
		if (!pgcdc_http_check_header(name, value, &error))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid option \"headers\" of target \"%s\"", target_id),
					 errdetail("%s.", error)));
		Assert(out->nheaders < max);
		out->headers[out->nheaders++] = psprintf("%s: %s", name, value);
	}
}

/*
 * Parse and check the options of a target of that kind (a JSON object);
 * unknown keys are refused, so a misspelt option never goes unnoticed.
 * Used both by create_target and alter_target and by the worker.  No
 * message repeats a header's value.
 */
void
pgcdc_target_parse_options(const char *target_id, PgcdcTargetKind kind,
						   const char *options_json, PgcdcTargetOptions *out)
{
	Jsonb	   *jb;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken r;
	bool		http = kind == PGCDC_TARGET_HTTP;
	char	   *owner = psprintf("target \"%s\"", target_id);

	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->stream = pstrdup(target_id);
	out->batch_size = 500;
	out->timeout_ms = http ? 10000 : 5000;
	out->format = PGCDC_HTTP_FORMAT_DRASI;

	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(options_json)));
	if (JB_ROOT_IS_SCALAR(jb) || !JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options of target \"%s\" must be a JSON object", target_id)));

	it = JsonbIteratorInit(&jb->root);
	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		JsonbValue	val;

		if (r != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		r = JsonbIteratorNext(&it, &val, true);
		Assert(r == WJB_VALUE);
		if (strcmp(key, "batch_size") == 0)
			out->batch_size = (int) pgcdc_target_option_int(owner, key, &val, 1, TARGET_MAX_BATCH);
		else if (strcmp(key, "timeout_ms") == 0)
			out->timeout_ms = (int) pgcdc_target_option_int(owner, key, &val, 10, 3600 * 1000);
		else if (strcmp(key, "start_at") == 0)
		{
			char	   *start = option_string(target_id, key, &val);

			if (strcmp(start, "earliest") != 0 && strcmp(start, "latest") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid option \"start_at\" of target \"%s\"", target_id),
						 errdetail("\"start_at\" must be \"earliest\" or \"latest\".")));
			out->start_latest = strcmp(start, "latest") == 0;
		}
		else if (!http && strcmp(key, "stream") == 0)
			out->stream = option_string(target_id, key, &val);
		else if (!http && strcmp(key, "maxlen") == 0)
			out->maxlen = pgcdc_target_option_int(owner, key, &val, 0, PG_INT64_MAX);
		else if (http && strcmp(key, "format") == 0)
		{
			char	   *format = option_string(target_id, key, &val);

			if (strcmp(format, "drasi-http") == 0)
				out->format = PGCDC_HTTP_FORMAT_DRASI;
			else if (strcmp(format, "webhook") == 0)
				out->format = PGCDC_HTTP_FORMAT_WEBHOOK;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid option \"format\" of target \"%s\"", target_id),
						 errdetail("\"format\" must be \"drasi-http\" or \"webhook\".")));
		}
		else if (http && strcmp(key, "headers") == 0)
			option_headers(target_id, &val, out);
		else if (http && strcmp(key, "ca_file") == 0)
		{
			out->ca_file = option_string(target_id, key, &val);
			if (!is_absolute_path(out->ca_file))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid option \"ca_file\" of target \"%s\"", target_id),
						 errdetail("\"ca_file\" must be an absolute path.")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" of target \"%s\"", key, target_id),
					 http ?
					 errhint("Options of an http target are \"format\", \"headers\", \"ca_file\", \"batch_size\", \"timeout_ms\" and \"start_at\".") :
					 errhint("Options of a redis target are \"stream\", \"maxlen\", \"batch_size\", \"timeout_ms\" and \"start_at\".")));
	}
}

/* Close the connection to the target, if any. */
static void
disconnect(void)
{
	pgcdc_redis_close(redis);
	redis = NULL;
	pgcdc_http_close(http);
	http = NULL;
}

/* Stop cleanly when the target was paused or dropped. */
static void
exit_if_not_wanted(void)
{
	if (pgcdc_shmem_target_wanted(MyTarget))
		return;
	if (IsTransactionState())
		AbortCurrentTransaction();
	disconnect();
	proc_exit(0);
}

/*
 * Read the target's row, options and delivered position.  Returns false
 * when there is nothing to run (dropped, paused, or no extension).
 */
static bool
load_config(void)
{
	PgcdcTargetConfig *fresh;
	PgcdcConsumer consumer;
	MemoryContext old;
	PgcdcTargetKind kind;
	char	   *error;
	bool		found;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (!OidIsValid(get_extension_oid(PGCDC_EXTENSION_NAME, true)))
	{
		CommitTransactionCommand();
		return false;
	}
	old = MemoryContextSwitchTo(TargetContext);
	fresh = pgcdc_catalog_get_target(MyTarget->target_id, PGCDC_LOCK_NONE, true);
	if (fresh == NULL || !fresh->enabled)
	{
		MemoryContextSwitchTo(old);
		CommitTransactionCommand();
		return false;
	}
	config = fresh;
	consumer_name = pgcdc_catalog_target_consumer(config->target_id);
	kind = pgcdc_target_kind(config->kind);
	if (kind == PGCDC_TARGET_REDIS ? !pgcdc_redis_parse_url(config->url, &url, &error) :
		!pgcdc_http_check_url(config->url, &error))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid URL of target \"%s\"", config->target_id),
				 errdetail("%s", error),
				 errhint("Correct it with pgcdc_drasi.alter_target('%s', url => ...).",
						 config->target_id)));
	if (kind == PGCDC_TARGET_HTTP)
		http_where = pgcdc_http_describe_url(config->url);
	pgcdc_target_parse_options(config->target_id, kind, config->options, &options);
	found = pgcdc_catalog_get_consumer(consumer_name, PGCDC_LOCK_NONE, &consumer);
	MemoryContextSwitchTo(old);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("target \"%s\" has no row in pgcdc_drasi.consumers", config->target_id),
				 errhint("Drop the target and create it again.")));
	delivered_seq = consumer.acked_seq;
	CommitTransactionCommand();
	MemoryContextSwitchTo(TargetContext);

	if (batch_seqs != NULL)
	{
		pfree(batch_seqs);
		pfree(batch_data);
		pfree(batch_results);
	}
	batch_seqs = MemoryContextAlloc(TargetContext, sizeof(int64) * options.batch_size);
	batch_data = MemoryContextAlloc(TargetContext, sizeof(char *) * options.batch_size);
	batch_results = MemoryContextAlloc(TargetContext,
									   sizeof(PgcdcXaddResult) * options.batch_size);
	pending_n = 0;
	return true;
}

/* The last seq the source has published. */
static int64
source_last_seq(void)
{
	PgcdcSourceProgress progress;
	int64		last;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	last = pgcdc_catalog_get_progress(config->source_id, &progress) ? progress.last_seq : 0;
	CommitTransactionCommand();
	MemoryContextSwitchTo(TargetContext);
	return last;
}

/*
 * A delivery failed: show it in target_status and the log, and wait
 * (interruptibly) before the next attempt, with the backoff of source
 * workers; HTTP targets add jitter (half to all of the delay), so that
 * many of them do not hammer a server that comes back all at once.
 * Neither message nor detail holds the url's secrets.
 */
static void
wait_to_retry(const char *message, const char *detail)
{
	TimestampTz until;
	int64		delay;

	failures++;
	MyTarget->retries++;
	pgcdc_shmem_record_target_error(MyTarget, message, detail);
	ereport(LOG,
			(errmsg("pgcdc_drasi target \"%s\" could not deliver: %s", MyTarget->target_id, message),
			 detail ? errdetail("%s", detail) : 0));
	pgstat_report_activity(STATE_IDLE, "waiting to retry");

	delay = pgcdc_shmem_backoff_delay(failures);
	if (options.kind == PGCDC_TARGET_HTTP && delay > 1)
		delay = delay / 2 + (int64) pg_prng_uint64_range(&pg_global_prng_state, 0, delay / 2);
	until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay);
	for (;;)
	{
		long		ms = (long) ((until - GetCurrentTimestamp()) / 1000);

		CHECK_FOR_INTERRUPTS();
		exit_if_not_wanted();
		if (ms <= 0 || MyTarget->config_generation != seen_generation)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(ms, TARGET_IDLE_POLL_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* A Redis delivery failed: drop the connection and retry after a while. */
static void
delivery_failed(const char *message)
{
	char	   *where = pgcdc_redis_describe(&url);

	disconnect();
	wait_to_retry(message, psprintf("Redis at %s, stream \"%s\".", where, options.stream));
}

/*
 * The target refused events for good (an HTTP 4xx, or Drasi refusing
 * part of a batch): show it in target_status and the log, and send
 * nothing until resume_target or alter_target (or a restart) says to
 * try again.  The target is never skipped past events silently.
 */
static void
stop_delivery(const char *message, const char *detail)
{
	pgcdc_shmem_record_target_error(MyTarget, message, detail);
	ereport(WARNING,
			(errmsg("pgcdc_drasi target \"%s\" stopped: %s", MyTarget->target_id, message),
			 detail ? errdetail("The response was: %s", detail) : 0,
			 errhint("Call pgcdc_drasi.resume_target('%s') to send again.", MyTarget->target_id)));
	pgstat_report_activity(STATE_IDLE, "stopped: waiting for resume_target");
	failures = 0;
	stopped = true;
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		exit_if_not_wanted();
		if (MyTarget->config_generation != seen_generation)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 TARGET_IDLE_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Connect to Redis and check that the stream is ours: its last id may be
 * ahead of our position (a batch written before a crash) but never ahead
 * of the source.  False, after delivery_failed, on failure.
 */
static bool
ensure_connected(void)
{
	char	   *error = NULL;
	uint64		top;
	int64		last_seq;

	if (options.kind == PGCDC_TARGET_HTTP)
	{
		if (http != NULL)
			return true;
		/* curl connects (again) by itself on each request as needed */
		http = pgcdc_http_create(options.timeout_ms, options.ca_file, options.nheaders,
								 options.headers, exit_if_not_wanted, &error);
		http_connections_seen = 0;
		if (http == NULL)
		{
			wait_to_retry(error, NULL);
			return false;
		}
		if (!ever_connected)
			pgcdc_shmem_set_target_state(MyTarget, PGCDC_STATE_STREAMING);
		ever_connected = true;
		return true;
	}
	if (redis != NULL)
		return true;
	pgcdc_shmem_set_target_state(MyTarget, PGCDC_STATE_CONNECTING);
	redis = pgcdc_redis_connect(&url, options.timeout_ms, &error);
	if (redis == NULL)
	{
		delivery_failed(error);
		return false;
	}
	if (ever_connected)
		MyTarget->reconnects++;
	ever_connected = true;

	if (!pgcdc_redis_stream_top(redis, options.stream, &top, &error))
	{
		delivery_failed(error);
		return false;
	}
	last_seq = source_last_seq();
	if (top > (uint64) last_seq)
	{
		delivery_failed(psprintf("stream \"%s\" holds ids up to " UINT64_FORMAT "-*, beyond the last event of source \"%s\" (seq " INT64_FORMAT "); it was written by someone else, or the source was created again: delete the stream or set another one with alter_target",
								 options.stream, top, config->source_id, last_seq));
		return false;
	}
	if (top < (uint64) delivered_seq)
		ereport(WARNING,
				(errmsg("Redis stream \"%s\" of target \"%s\" ends at seq " UINT64_FORMAT ", before the delivered seq " INT64_FORMAT,
						options.stream, MyTarget->target_id, top, delivered_seq),
				 errdetail("Redis lost entries it had acknowledged (was it restarted without appendfsync always?); they are not sent again.")));
	pgcdc_shmem_set_target_state(MyTarget, PGCDC_STATE_STREAMING);
	return true;
}

/*
 * Read the next batch after the delivered position, as CloudEvent
 * entries, into batch_mcxt.  Returns the number of events.
 */
static int
read_batch(void)
{
	PgcdcQueueCursor *cursor;
	char	  **payloads;
	MemoryContext old;
	int			n;
	int			i;

	payloads = MemoryContextAlloc(batch_mcxt, sizeof(char *) * options.batch_size);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	cursor = pgcdc_queue_open_after(config->source_id, delivered_seq, options.batch_size, NULL);
	n = pgcdc_queue_fetch_payloads(cursor, batch_mcxt, batch_seqs, payloads, options.batch_size);
	pgcdc_queue_close(cursor);
	CommitTransactionCommand();
	MemoryContextSwitchTo(TargetContext);

	if (n > 0 && batch_seqs[0] != delivered_seq + 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the queue of source \"%s\" has no event " INT64_FORMAT " for target \"%s\"",
						config->source_id, delivered_seq + 1, MyTarget->target_id),
				 errdetail("The next queued event is seq " INT64_FORMAT ".", batch_seqs[0]),
				 errhint("Events were removed by hand; drop the target and create it again.")));

	if (options.kind == PGCDC_TARGET_HTTP)
	{
		memcpy(batch_data, payloads, sizeof(char *) * n);
		return n;
	}

	old = MemoryContextSwitchTo(batch_mcxt);
	for (i = 0; i < n; i++)
	{
		char		event_id[32];

		Assert(i == 0 || batch_seqs[i] == batch_seqs[i - 1] + 1);
		snprintf(event_id, sizeof(event_id), INT64_FORMAT, batch_seqs[i]);
		batch_data[i] = pgcdc_target_redis_entry(config->source_id, event_id, payloads[i]);
	}
	MemoryContextSwitchTo(old);
	return n;
}

/*
 * The data field of a Redis stream entry, in the platform source's layout
 * (shared by targets and the redis sink of sources, sink_redis.c): a
 * CloudEvent whose data is the array of events, here one, and whose id is
 * "<source_id>:<event_id>".  Source ids need no JSON escaping
 * (check_source_id); event_id is made of digits and "-".
 */
char *
pgcdc_target_redis_entry(const char *source_id, const char *event_id, const char *payload)
{
	return psprintf("{\"data\": [%s], \"id\": \"%s:%s\", "
					"\"type\": \"pgcdc_drasi.change\", \"source\": \"pgcdc_drasi/%s\", "
					"\"specversion\": \"1.0\", \"datacontenttype\": \"application/json\"}",
					payload, source_id, event_id, source_id);
}

/* Move the delivered position to seq, in a local transaction. */
static void
save_position(int64 seq)
{
	Assert(seq > delivered_seq);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgcdc_catalog_ack_consumer(consumer_name, seq);
	CommitTransactionCommand();
	MemoryContextSwitchTo(TargetContext);
	delivered_seq = seq;
}

/*
 * Write a batch of n events to Redis and move the position past those
 * Redis holds: the ones it added and the ones it refused as duplicates
 * before any it added (a batch written before a crash, whole or not at
 * all, see redis.c).  False, after delivery_failed, when not all were
 * delivered.
 */
static bool
deliver_batch(int n)
{
	char	   *error = NULL;
	int64		upto = delivered_seq;
	uint64		added = 0;
	uint64		duplicates = 0;
	int			i;

	Assert(n > 0 && n <= options.batch_size);
	errctx.first_seq = batch_seqs[0];
	errctx.last_seq = batch_seqs[n - 1];
	if (!pgcdc_redis_xadd_batch(redis, options.stream, options.maxlen, n, batch_seqs, batch_data,
								batch_results, &error))
	{
		errctx.first_seq = 0;
		delivery_failed(error);
		return false;
	}
	for (i = 0; i < n; i++)
	{
		if (batch_results[i] == PGCDC_XADD_ADDED)
			added++;
		else if (batch_results[i] == PGCDC_XADD_DUPLICATE && added == 0)
			duplicates++;
		else
		{
			if (batch_results[i] == PGCDC_XADD_DUPLICATE)
				error = psprintf("Redis refused seq " INT64_FORMAT " as a duplicate after accepting earlier events of its batch: another client writes stream \"%s\"",
								 batch_seqs[i], options.stream);
			break;
		}
		upto = batch_seqs[i];
	}
	if (upto > delivered_seq)
		save_position(upto);
	errctx.first_seq = 0;
	MyTarget->events_delivered += added + duplicates;
	MyTarget->duplicates_skipped += duplicates;
	MyTarget->last_delivery_time = GetCurrentTimestamp();
	if (i < n)
	{
		delivery_failed(error ? error : "Redis refused an event");
		return false;
	}
	return true;
}

/*
 * Count the connections curl made for the last request in reconnects (all
 * but the worker's first): curl opens them by itself as needed.
 */
static void
count_http_connections(void)
{
	uint64		now = pgcdc_http_connections(http);
	uint64		added = now - http_connections_seen;

	http_connections_seen = now;
	if (added > 0 && !http_connected_once)
	{
		http_connected_once = true;
		added--;
	}
	MyTarget->reconnects += added;
}

/*
 * Send a batch of n events to an HTTP target in one request, and move
 * the position past them only after a 2xx.  A failure to retry keeps the
 * batch (pending_n), so that the retry is the same request with the same
 * Idempotency-Key.  False when not delivered.
 */
static bool
deliver_http(int n)
{
	PgcdcHttpOutcome outcome;
	MemoryContext old;
	char	   *message;
	char	   *detail;
	int			sent;

	Assert(n > 0 && n <= options.batch_size);
	errctx.first_seq = batch_seqs[0];
	errctx.last_seq = batch_seqs[n - 1];
	pending_n = n;
	MemoryContextReset(request_mcxt);
	old = MemoryContextSwitchTo(request_mcxt);
	outcome = pgcdc_target_http_send(http, &options, config->url, config->source_id, n,
									 batch_seqs, batch_data, &sent, &message, &detail);
	MemoryContextSwitchTo(old);
	errctx.first_seq = 0;
	count_http_connections();
	if (outcome == PGCDC_HTTP_RETRY)
	{
		wait_to_retry(message, detail);
		return false;
	}
	if (outcome == PGCDC_HTTP_REFUSED)
	{
		stop_delivery(message, detail);
		return false;
	}

	/*
	 * Delivered, or partly refused by Drasi: the events it took are there,
	 * and it has no idempotency, so sending them again would duplicate them;
	 * move past the batch, and stop on a partial refusal.
	 */
	save_position(batch_seqs[n - 1]);
	pending_n = 0;
	MyTarget->events_delivered += n;
	MyTarget->last_delivery_time = GetCurrentTimestamp();
	if (outcome == PGCDC_HTTP_PARTIAL)
	{
		stop_delivery(message, detail);
		return false;
	}
	return true;
}

/* Reload the configuration after alter_target, reconnecting with it. */
static void
check_config_generation(void)
{
	if (MyTarget->config_generation == seen_generation)
		return;
	seen_generation = MyTarget->config_generation;
	disconnect();
	if (!load_config())
		proc_exit(0);
}

/* The loop: wait for events, deliver them, move the position. */
static void
delivery_loop(void)
{
	for (;;)
	{
		int			n;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		exit_if_not_wanted();
		check_config_generation();

		if (!ensure_connected())
			continue;

		if (pending_n > 0)
			n = pending_n;		/* the same request again */
		else
		{
			MemoryContextReset(batch_mcxt);
			n = read_batch();
		}
		if (n == 0)
		{
			pgstat_report_activity(STATE_IDLE, NULL);
			pgstat_report_stat(false);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 TARGET_IDLE_POLL_MS, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			continue;
		}
		pgstat_report_activity(STATE_RUNNING, "delivering events");
		if ((options.kind == PGCDC_TARGET_HTTP ? deliver_http(n) : deliver_batch(n)) &&
			(failures > 0 || stopped))
		{
			failures = 0;
			stopped = false;
			pgcdc_shmem_set_target_state(MyTarget, PGCDC_STATE_STREAMING);
		}
	}
}

/* Detach from shared memory at exit, scheduling the next start. */
static void
target_on_exit(int code, Datum arg)
{
	pgcdc_shmem_release_locks();
	disconnect();
	pgcdc_shmem_detach_target(MyTarget);
}

/* Main of a delivery worker. */
void
pgcdc_target_main(Datum main_arg)
{
	ErrorContextCallback errcallback;
	Oid			dboid;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	MyTarget = pgcdc_shmem_attach_target(DatumGetInt32(main_arg));
	if (MyTarget == NULL)
		proc_exit(0);
	dboid = MyTarget->dboid;
	seen_generation = MyTarget->config_generation;
	before_shmem_exit(target_on_exit, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgcdc_shmem_set_target_state(MyTarget, PGCDC_STATE_STARTING);

	TargetContext = AllocSetContextCreate(TopMemoryContext, "pgcdc_drasi target",
										  ALLOCSET_DEFAULT_SIZES);
	batch_mcxt = AllocSetContextCreate(TargetContext, "pgcdc_drasi target batch",
									   ALLOCSET_DEFAULT_SIZES);
	request_mcxt = AllocSetContextCreate(TargetContext, "pgcdc_drasi target request",
										 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(TargetContext);

	SetConfigOption("search_path", "", PGC_SUSET, PGC_S_OVERRIDE);
	pgcdc_pin_worker_settings();
	SetConfigOption("application_name", "pgcdc_drasi target", PGC_USERSET, PGC_S_OVERRIDE);
	pgstat_report_appname("pgcdc_drasi target");

	errcallback.callback = target_error_callback;
	errcallback.arg = NULL;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	PG_TRY();
	{
		if (!load_config())
		{
			/* Dropped, paused, or the extension is gone: nothing to run. */
			LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
			MyTarget->desired = false;
			LWLockRelease(pgcdc_shared->lock);
			proc_exit(0);
		}
		if (options.kind == PGCDC_TARGET_HTTP)
			ereport(LOG,
					(errmsg("pgcdc_drasi target \"%s\" delivering source \"%s\" to %s after seq " INT64_FORMAT,
							config->target_id, config->source_id, http_where, delivered_seq)));
		else
			ereport(LOG,
					(errmsg("pgcdc_drasi target \"%s\" delivering source \"%s\" to Redis stream \"%s\" after seq " INT64_FORMAT,
							config->target_id, config->source_id, options.stream, delivered_seq)));
		delivery_loop();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		pgcdc_shmem_release_locks();
		MemoryContextSwitchTo(TargetContext);
		edata = CopyErrorData();
		pgcdc_shmem_record_target_error(MyTarget, edata->message, edata->detail);
		FlushErrorState();
		RESUME_INTERRUPTS();
		ReThrowError(edata);
	}
	PG_END_TRY();
}
