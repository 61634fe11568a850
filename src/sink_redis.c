/*-------------------------------------------------------------------------
 *
 * sink_redis.c
 *		The redis sink of a source: the worker writes each event straight
 *		from the stream to a Redis stream, exactly once, and writes no
 *		queue row (docs/design.md, "Direct mode for Redis").
 *
 * IDS
 *
 * The entry of an event has the id "<commit LSN>-<index>": the commit LSN
 * of its source transaction as a 64-bit number and the event's index in
 * the transaction (txIndex).  Transactions arrive in commit order, so ids
 * rise strictly along the stream, and Redis refuses an XADD whose id is
 * not above the stream's last one.  After a restart the worker streams
 * again from its replication origin, which may be behind what Redis
 * holds; the entries at or below the stream's last id (read at every
 * connection) are not sent again, and a refusal as a duplicate counts as
 * delivered.  So Redis holds every event once, in commit order.
 *
 * BATCHES
 *
 * Entries wait in memory until the worker closes its group of source
 * transactions or until batch_size of them are waiting, and are then
 * written in one round trip (MULTI, XADD..., EXEC, see redis.c).  Only
 * whole transactions arrive (the source does not ask for streaming), so
 * a batch never holds changes of a transaction that may still abort, and
 * memory stays within batch_size entries however large a transaction.
 * worker.c moves the origin only after the flush that holds a group's
 * last entry returned.
 *
 * FAILURES
 *
 * A Redis error is shown in source_status (state "error", last_error)
 * and retried with the workers' backoff, forever, on the latch, with
 * keepalives to the walsender; nothing is confirmed meanwhile.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sink_redis.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "redis.h"
#include "shmem.h"
#include "sink_redis.h"
#include "target.h"
#include "worker_internal.h"

#define SINK_REDIS_MAX_BATCH	10000
#define SINK_REDIS_POLL_MS		200

/* The configuration, read when the worker starts. */
static PgcdcSinkRedisOptions options;
static PgcdcRedisUrl url;
static PgcdcRedis *redis = NULL;
static bool ever_connected = false;
static int	failures = 0;

/* The last id the stream holds, as far as we know (valid once connected). */
static bool top_known = false;
static uint64 top_ms = 0;
static uint64 top_seq = 0;

/* Entries waiting to be written. */
static MemoryContext batch_mcxt = NULL;
static int	nwaiting = 0;
static uint64 *batch_ms = NULL;
static uint64 *batch_seq = NULL;
static char **batch_data = NULL;
static PgcdcXaddResult *batch_results = NULL;

/*
 * Parse and check the options of a source's redis sink (a JSON object:
 * stream, maxlen, batch_size, timeout_ms); unknown keys are refused.
 */
void
pgcdc_sink_redis_parse_options(const char *source_id, const char *options_json,
							   PgcdcSinkRedisOptions *out)
{
	Jsonb	   *jb;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken r;
	char	   *owner = psprintf("the redis sink of source \"%s\"", source_id);

	out->stream = pstrdup(source_id);
	out->maxlen = 0;
	out->batch_size = 500;
	out->timeout_ms = 5000;

	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(options_json)));
	if (JB_ROOT_IS_SCALAR(jb) || !JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options of the redis sink of source \"%s\" must be a JSON object",
						source_id)));
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
			out->batch_size = (int) pgcdc_target_option_int(owner, key, &val, 1, SINK_REDIS_MAX_BATCH);
		else if (strcmp(key, "timeout_ms") == 0)
			out->timeout_ms = (int) pgcdc_target_option_int(owner, key, &val, 10, 3600 * 1000);
		else if (strcmp(key, "maxlen") == 0)
			out->maxlen = pgcdc_target_option_int(owner, key, &val, 0, PG_INT64_MAX);
		else if (strcmp(key, "stream") == 0)
		{
			if (val.type != jbvString || val.val.string.len == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid option \"stream\" of the redis sink of source \"%s\"",
								source_id),
						 errdetail("\"stream\" must be a non-empty string.")));
			out->stream = pnstrdup(val.val.string.val, val.val.string.len);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" of the redis sink of source \"%s\"",
							key, source_id),
					 errhint("Options of the redis sink are \"stream\", \"maxlen\", \"batch_size\" and \"timeout_ms\".")));
	}
}

/* Check a Redis URL; the error never repeats it (it may hold a password). */
void
pgcdc_sink_redis_check_url(const char *source_id, const char *redis_url)
{
	PgcdcRedisUrl parsed;
	char	   *error;

	if (!pgcdc_redis_parse_url(redis_url, &parsed, &error))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Redis URL for source \"%s\"", source_id),
				 errdetail("%s.", error),
				 errhint("Use redis://[user:password@]host[:port][/db] or unix://[user:password@]/path[?db=N].")));
}

/*
 * Read the sink's URL and options (in the worker's memory), inside a
 * transaction.  A source with the redis sink but no URL cannot run.
 */
void
pgcdc_sink_redis_start(const char *source_id)
{
	char	   *redis_url;
	char	   *options_json;
	char	   *error;

	Assert(IsTransactionState());
	if (!pgcdc_catalog_get_source_redis(source_id, &redis_url, &options_json))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" has the redis sink but no Redis URL", source_id),
				 errhint("Set it with pgcdc_drasi.set_source_redis('%s', url => ...).", source_id)));
	pgcdc_sink_redis_parse_options(source_id, options_json, &options);
	if (!pgcdc_redis_parse_url(redis_url, &url, &error))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Redis URL for source \"%s\"", source_id),
				 errdetail("%s.", error)));
	batch_mcxt = AllocSetContextCreate(PgcdcWorkerContext, "pgcdc_drasi redis sink",
									   ALLOCSET_DEFAULT_SIZES);
	batch_ms = MemoryContextAlloc(PgcdcWorkerContext, sizeof(uint64) * options.batch_size);
	batch_seq = MemoryContextAlloc(PgcdcWorkerContext, sizeof(uint64) * options.batch_size);
	batch_data = MemoryContextAlloc(PgcdcWorkerContext, sizeof(char *) * options.batch_size);
	batch_results = MemoryContextAlloc(PgcdcWorkerContext,
									   sizeof(PgcdcXaddResult) * options.batch_size);
}

/* Drop the connection, if any. */
static void
disconnect(void)
{
	if (redis != NULL)
		pgcdc_redis_close(redis);
	redis = NULL;
}

/*
 * A write failed: show it in source_status and the log, and wait with the
 * workers' backoff, interruptibly, telling the walsender we are alive.
 * The message never holds the URL's password.
 */
static void
wait_to_retry(const char *message)
{
	char	   *detail;
	TimestampTz until;

	disconnect();
	failures++;

	/*
	 * The group's local transaction stays open while Redis is away, maybe for
	 * hours: let go of its catalog snapshot, so that it holds back no xmin
	 * horizon (vacuum everywhere in the database would wait for it). What it
	 * needs again it reads with a new one.
	 */
	InvalidateCatalogSnapshot();
	detail = psprintf("Redis at %s, stream \"%s\".", pgcdc_redis_describe(&url), options.stream);
	pgcdc_shmem_record_error(MySource, message, detail,
							 "The worker retries until Redis accepts the events; nothing is confirmed meanwhile.",
							 NULL);
	ereport(LOG,
			(errmsg("pgcdc_drasi source \"%s\" could not write to Redis: %s",
					MySourceConfig->source_id, message),
			 errdetail_internal("%s", detail)));
	pgstat_report_activity(STATE_RUNNING, "waiting to retry Redis");
	until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										pgcdc_shmem_backoff_delay(failures));
	for (;;)
	{
		long		ms = (long) ((until - GetCurrentTimestamp()) / 1000);

		CHECK_FOR_INTERRUPTS();
		pgcdc_worker_exit_if_not_wanted();
		pgcdc_worker_keepalive();
		if (ms <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(ms, SINK_REDIS_POLL_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * The stream's last id is below one Redis acknowledged before: Redis lost
 * entries (restarted without its append-only file or with appendfsync
 * other than always, or the stream was deleted).  The source has moved
 * past them and cannot send them again: say so, in the log and in status,
 * and go on with the next events.
 */
static void
stream_went_back(uint64 last_ms, uint64 last_seq)
{
	char	   *message;
	char	   *detail;
	const char *hint = "Run Redis with appendonly yes and appendfsync always; bootstrap the Drasi sources that read the stream to recover what it lost.";

	message = psprintf("Redis stream \"%s\" of source \"%s\" went back from id " UINT64_FORMAT "-" UINT64_FORMAT " to " UINT64_FORMAT "-" UINT64_FORMAT,
					   options.stream, MySourceConfig->source_id, top_ms, top_seq, last_ms, last_seq);
	detail = psprintf("Redis at %s no longer holds entries it acknowledged; the source has moved past them and does not send them again.",
					  pgcdc_redis_describe(&url));
	ereport(WARNING,
			(errmsg_internal("%s", message),
			 errdetail_internal("%s", detail),
			 errhint("%s", hint)));
	pgcdc_shmem_record_error(MySource, message, detail, hint, NULL);
	/* streaming again after the next write */
	failures = Max(failures, 1);
}

/*
 * Connect and read the stream's last id.  A last id beyond the server's
 * WAL cannot be ours (the stream was written by someone else): refused,
 * since every event would be taken for a duplicate.  False on failure,
 * after wait_to_retry.
 */
static bool
ensure_connected(void)
{
	char	   *error = NULL;
	XLogRecPtr	insert = GetXLogInsertRecPtr();
	MemoryContext old;
	uint64		last_ms;
	uint64		last_seq;

	if (redis != NULL)
		return true;
	/* the connection outlives the message being decoded */
	old = MemoryContextSwitchTo(PgcdcWorkerContext);
	redis = pgcdc_redis_connect(&url, options.timeout_ms, &error);
	MemoryContextSwitchTo(old);
	if (redis == NULL)
	{
		wait_to_retry(error);
		return false;
	}
	if (ever_connected)
		MySource->reconnects++;
	ever_connected = true;
	if (!pgcdc_redis_stream_last_id(redis, options.stream, &last_ms, &last_seq, &error))
	{
		wait_to_retry(error);
		return false;
	}
	if (top_known && (last_ms < top_ms || (last_ms == top_ms && last_seq < top_seq)))
		stream_went_back(last_ms, last_seq);
	top_ms = last_ms;
	top_seq = last_seq;
	top_known = true;
	if (top_ms > (uint64) insert)
	{
		wait_to_retry(psprintf("stream \"%s\" holds ids up to " UINT64_FORMAT "-" UINT64_FORMAT ", beyond this server's WAL (%X/%X); it was written by someone else: delete it or choose another stream with set_source_redis",
							   options.stream, top_ms, top_seq, LSN_FORMAT_ARGS(insert)));
		return false;
	}
	return true;
}

/* Is id (ms, seq) at or below the stream's last id? */
static inline bool
at_or_below_top(uint64 ms, uint64 seq)
{
	return ms < top_ms || (ms == top_ms && seq <= top_seq);
}

/*
 * Write every waiting entry to Redis, retrying until Redis holds them
 * all; the entries at or below the stream's last id are not sent (a
 * replay after a restart).  Returns only when all are acknowledged.
 */
void
pgcdc_sink_redis_flush(void)
{
	while (nwaiting > 0)
	{
		char	   *error = NULL;
		int			first = 0;
		int			n;
		int			i;

		CHECK_FOR_INTERRUPTS();
		if (!ensure_connected())
			continue;
		while (first < nwaiting && at_or_below_top(batch_ms[first], batch_seq[first]))
			first++;
		if (first == nwaiting)
			break;
		n = nwaiting - first;
		if (!pgcdc_redis_xadd_ids(redis, options.stream, options.maxlen, n, batch_ms + first,
								  batch_seq + first, batch_data + first, batch_results, &error))
		{
			wait_to_retry(error);
			continue;
		}
		for (i = 0; i < n; i++)
		{
			if (batch_results[i] == PGCDC_XADD_FAILED)
				break;
			/* added, or refused as a duplicate: Redis holds it */
			top_ms = batch_ms[first + i];
			top_seq = batch_seq[first + i];
		}
		if (i < n)
		{
			wait_to_retry(error ? error : "Redis refused an event");
			continue;
		}
		break;
	}
	if (failures > 0)
	{
		failures = 0;
		pgcdc_shmem_set_state(MySource, PGCDC_STATE_STREAMING);
		ereport(LOG,
				(errmsg("pgcdc_drasi source \"%s\" writes to Redis again",
						MySourceConfig->source_id)));
	}
	nwaiting = 0;
	MemoryContextReset(batch_mcxt);
}

/*
 * Emit an event to Redis: its entry waits in memory until the group
 * closes or batch_size entries wait.
 */
void
pgcdc_sink_redis_add(PgcdcTxContext *tx, PgcdcEvent *event)
{
	MemoryContext old;
	const char *payload;
	char		event_id[48];
	int			len;

	Assert(batch_mcxt != NULL && event->tx_index >= 0);
	if (nwaiting >= options.batch_size)
		pgcdc_sink_redis_flush();
	payload = pgcdc_map_event_text(event, &len);
	snprintf(event_id, sizeof(event_id), UINT64_FORMAT "-%d", (uint64) tx->commit_lsn,
			 event->tx_index);
	old = MemoryContextSwitchTo(batch_mcxt);
	batch_ms[nwaiting] = (uint64) tx->commit_lsn;
	batch_seq[nwaiting] = (uint64) event->tx_index;
	batch_data[nwaiting] = pgcdc_target_redis_entry(tx->source_id, event_id, payload);
	MemoryContextSwitchTo(old);
	nwaiting++;
}
