/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The source worker: stream, decode, map and publish one source's
 *		changes, exactly once.
 *
 * EXACTLY ONCE
 *
 * Each source owns a replication origin.  Queue rows are written in a
 * local transaction, and before it commits the origin's position is set
 * to the end LSN of the last source transaction it contains; PostgreSQL
 * writes that position into the commit record itself, so the rows and
 * the position become durable (or are lost in a crash) together.  After
 * any restart the worker asks the server to stream from the origin's
 * position; the server skips every transaction whose commit lies before
 * it, so nothing is repeated, and everything after it is sent again, so
 * nothing is lost.  The slot's own confirmed position is not trusted for
 * this: it is persisted lazily and can go backwards after a crash.
 *
 * Local commits are flushed before they become visible (the worker
 * never commits with synchronous_commit = off), so a consumer can never
 * read a queue row that a crash would take back and later publish again
 * under another seq.  Only then is the slot told the position is
 * flushed, so the server never discards WAL we might still need.  While
 * idle, the worker confirms the walsender's keepalive position, so
 * writes to unpublished tables do not pin WAL.
 *
 * GROUPING
 *
 * Small source transactions arriving back to back are written in one
 * local transaction, closed when the stream has nothing more to read,
 * after pgcdc_drasi.group_timeout, or after a large source transaction.
 * The origin then holds the last one's end, which is still exact.
 *
 * FEEDBACK LOOP
 *
 * Changes to our own tables (schema pgcdc_drasi) are dropped on
 * arrival; a source transaction made only of them writes nothing and
 * commits nothing, so even a FOR ALL TABLES publication cannot loop.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/origin.h"
#include "replication/slot.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "pgcdc_drasi.h"

#define FEEDBACK_INTERVAL_MS	10000	/* status update even when nothing moved */
#define FEEDBACK_MIN_MS			200		/* at most this often when things move */
#define MAX_GROUP_XACTS			1000
#define RETENTION_INTERVAL_MS	1000
#define RETENTION_BATCH			10000

/* Configuration of this worker's source. */
typedef struct SourceConfig
{
	char	   *source_id;
	char	   *publication;
	char	   *slot_name;
	char	   *origin_name;
	char	   *conninfo;
	Oid			owner;
	PgcdcSink	sink;
	char		channel[NAMEDATALEN];
	bool		wakeup;			/* notify_payload = 'wakeup' */
	bool		numeric_as_string;
	bool		needs_snapshot; /* bootstrap requested and not taken yet */
	bool		needs_resync;	/* resync_source: skip to the current WAL */
} SourceConfig;

static PgcdcSource *MySource = NULL;
static PgcdcRelCache *relcache = NULL;
static SourceConfig config;
static PgcdcStream *stream = NULL;

/* Progress of the stream. */
static XLogRecPtr last_received = InvalidXLogRecPtr;
static XLogRecPtr last_published = InvalidXLogRecPtr;
static XLogRecPtr last_flushed = InvalidXLogRecPtr;
static XLogRecPtr last_sent_flush = InvalidXLogRecPtr;
static TimestampTz last_feedback = 0;

/* The source transaction being decoded, and the local one being written. */
static bool in_remote_xact = false;
static PgcdcTxContext tx;
static bool local_xact_open = false;
static int	group_xacts = 0;
static int	group_events = 0;
static XLogRecPtr group_end = InvalidXLogRecPtr;
static TimestampTz group_commit_time = 0;
static TimestampTz group_started = 0;

static uint32 seen_config_generation = 0;
static int64 group_first_seq = 0;
static uint64 reported_sent = 0;	/* notification counters already in shmem */
static uint64 reported_skipped = 0;
static TimestampTz last_retention = 0;
static bool retention_more = false;
static MemoryContext message_mcxt = NULL;
static bool config_dirty = false;

/*
 * The last source transactions we published (their xids), to keep a
 * re-snapshot from starting while one of them still runs for snapshots.
 */
#define RECENT_XIDS 4096
static TransactionId recent_xids[RECENT_XIDS];
static int	recent_pos = 0;
static XLogRecPtr resync_startpos = InvalidXLogRecPtr;	/* until the resync snapshot commits */
static bool check_requests = true;

/* A re-snapshot whose overlap with the stream is being skipped. */
static struct
{
	bool		active;
	uint64		xmin;
	uint64		xmax;
	uint64	   *xip;
	int			nxip;
	List	   *relids;			/* NIL: all tables */
	XLogRecPtr	until;			/* past this, no transaction can be visible */
}			skip;

static void maybe_run_retention(void);
static void poll_config_generation(void);
static bool snapshot_shows_change(Oid relid);
static void set_skip_snapshot(const char *text, List *relids, XLogRecPtr until);
static void maybe_finish_resnapshot(void);
static void maybe_run_resnapshot(void);
static void snapshot_clear_table(PgcdcRelCache *cache, Oid relid);

/* Publish our state to shared memory. */
static void
set_state(PgcdcSourceState state)
{
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	MySource->state = state;
	LWLockRelease(pgcdc_shared->lock);
}

/*
 * Detach from shared memory at exit, and schedule the next start: soon
 * after a clean stop, with doubling delays after consecutive failures.
 */
static void
source_on_exit(int code, Datum arg)
{
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	if (MySource->pid == MyProcPid)
	{
		int64		delay = pgcdc_retry_min_interval;
		int			i;

		/* A run that lasted longer than the longest delay starts afresh. */
		if (MySource->started_at != 0 &&
			TimestampDifferenceExceeds(MySource->started_at, now, pgcdc_retry_max_interval))
			MySource->failures = 0;
		if (MySource->failed)
		{
			MySource->failures++;
			for (i = 1; i < MySource->failures && delay < pgcdc_retry_max_interval; i++)
				delay *= 2;
			delay = Min(delay, pgcdc_retry_max_interval);
			MySource->state = PGCDC_STATE_ERROR;
		}
		else
			MySource->state = PGCDC_STATE_STOPPED;
		MySource->next_start = TimestampTzPlusMilliseconds(now, delay);
		MySource->pid = 0;
		MySource->pgprocno = -1;
		MySource->starting = false;
		if (MySource->dropped)
			MySource->in_use = false;
	}
	LWLockRelease(pgcdc_shared->lock);
	ConditionVariableBroadcast(&MySource->progress_cv);
	pgcdc_wake_launcher();
}

/* Record an error for the status view; the log gets it as usual. */
static void
record_error(const char *message)
{
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	MySource->failed = true;
	MySource->state = PGCDC_STATE_ERROR;
	strlcpy(MySource->last_error, message ? message : "unknown error", PGCDC_ERROR_MAXLEN);
	MySource->last_error_time = GetCurrentTimestamp();
	LWLockRelease(pgcdc_shared->lock);
}

/* Stop cleanly when the source was paused or dropped. */
static void
exit_if_not_wanted(void)
{
	bool		desired;

	LWLockAcquire(pgcdc_shared->lock, LW_SHARED);
	desired = MySource->desired;
	LWLockRelease(pgcdc_shared->lock);
	if (!desired)
	{
		if (IsTransactionState())
			AbortCurrentTransaction();
		pgcdc_stream_disconnect(stream);
		proc_exit(0);
	}
}

/*
 * Read how events leave the worker.  Called at start and, when
 * alter_source changed it, at the start of the next local transaction,
 * so all events of one local transaction go the same way.
 */
static void
load_sink_config(void)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(config.source_id);
	if (SPI_execute_with_args("SELECT sink, channel, notify_payload = 'wakeup', numeric_as_string "
							  "FROM pgcdc_drasi.sources WHERE source_id = $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pgcdc_drasi.sources");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		config.sink = pgcdc_sink_from_name(SPI_getvalue(tup, desc, 1));
		strlcpy(config.channel, SPI_getvalue(tup, desc, 2), NAMEDATALEN);
		config.wakeup = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		config.numeric_as_string = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		if (relcache != NULL)
			pgcdc_relcache_set_numeric_as_string(relcache, config.numeric_as_string);
	}
	SPI_finish();
	PopActiveSnapshot();
}

/*
 * Read our configuration and take our replication origin.  The row is
 * locked FOR KEY SHARE while we do so, so a concurrent drop_source
 * either finishes first (and we find no row) or waits for us.
 */
static bool
load_config(const char *source_id, XLogRecPtr *startpos)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		found = false;
	RepOriginId origin;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	if (!OidIsValid(get_extension_oid(PGCDC_EXTENSION_NAME, true)))
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		return false;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(source_id);
	if (SPI_execute_with_args("SELECT publication, slot_name, origin_name, "
							  "coalesce(conninfo, ''), enabled, owner, p.last_seq, "
							  "s.bootstrap AND p.snapshot_lsn IS NULL, "
							  "p.resnapshot::text, p.resnapshot_tables, p.resnapshot_until, "
							  "p.source_id IS NOT NULL, "
							  "EXISTS (SELECT 1 FROM pgcdc_drasi.snapshot_requests r "
							  "        WHERE r.source_id = s.source_id AND r.resync) "
							  "FROM pgcdc_drasi.sources s "
							  "LEFT JOIN pgcdc_drasi.source_progress p USING (source_id) "
							  "WHERE source_id = $1 FOR KEY SHARE OF s",
							  1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pgcdc_drasi.sources");

	if (SPI_processed > 0)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		config.source_id = pstrdup(source_id);
		config.publication = SPI_getvalue(tup, desc, 1);
		config.slot_name = SPI_getvalue(tup, desc, 2);
		config.origin_name = SPI_getvalue(tup, desc, 3);
		config.conninfo = SPI_getvalue(tup, desc, 4);
		found = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		config.owner = DatumGetObjectId(SPI_getbinval(tup, desc, 6, &isnull));
		tx.last_seq = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
		/* A restore can bring back a source before its progress row. */
		if (!DatumGetBool(SPI_getbinval(tup, desc, 12, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("source \"%s\" has no row in pgcdc_drasi.source_progress", source_id),
					 errhint("Restore pgcdc_drasi.source_progress, or drop and create the source again.")));
		config.needs_resync = DatumGetBool(SPI_getbinval(tup, desc, 13, &isnull));
		config.needs_snapshot = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
		if (SPI_getvalue(tup, desc, 9) != NULL)
		{
			Datum		tables = SPI_getbinval(tup, desc, 10, &isnull);
			List	   *relids = NIL;

			if (!isnull)
			{
				Datum	   *elems;
				int			n;
				int			j;

				deconstruct_array(DatumGetArrayTypeP(tables), OIDOID, sizeof(Oid), true,
								  TYPALIGN_INT, &elems, NULL, &n);
				for (j = 0; j < n; j++)
					relids = lappend_oid(relids, DatumGetObjectId(elems[j]));
			}
			set_skip_snapshot(SPI_getvalue(tup, desc, 9), relids,
							  DatumGetLSN(SPI_getbinval(tup, desc, 11, &isnull)));
		}
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	if (found)
		load_sink_config();

	if (found)
	{
		origin = replorigin_by_name(config.origin_name, true);
		if (origin == InvalidRepOriginId)
			origin = replorigin_create(config.origin_name);
		pgcdc_replorigin_session_setup(origin);
		replorigin_session_origin = origin;
		*startpos = replorigin_session_get_progress(false);
	}

	PopActiveSnapshot();
	CommitTransactionCommand();
	return found;
}

/* Send a status update if due, or at once when asked to. */
static void
send_feedback(bool force, bool request_reply)
{
	TimestampTz now = GetCurrentTimestamp();
	XLogRecPtr	flush = last_flushed;

	/* Idle: what we received is confirmed too. */
	if (!in_remote_xact && !local_xact_open && last_received > flush)
		flush = last_received;

	if (!force &&
		!(flush != last_sent_flush &&
		  TimestampDifferenceExceeds(last_feedback, now, FEEDBACK_MIN_MS)) &&
		!TimestampDifferenceExceeds(last_feedback, now, FEEDBACK_INTERVAL_MS))
		return;

	pgcdc_stream_send_feedback(stream, last_received, flush, request_reply);
	last_feedback = now;
	last_sent_flush = flush;
	MySource->received_lsn = last_received;
	MySource->flushed_lsn = flush;
}

/* Make a position visible to wait_for_catchup. */
static void
publish_position(XLogRecPtr lsn)
{
	if (lsn <= last_published)
		return;
	last_published = lsn;
	MySource->published_lsn = lsn;
	MySource->received_lsn = last_received;
	ConditionVariableBroadcast(&MySource->progress_cv);
}

/* Open the local transaction that receives events, if not open yet. */
static void
ensure_local_xact(void)
{
	if (local_xact_open)
		return;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	local_xact_open = true;
	group_started = GetCurrentTimestamp();
	group_xacts = 0;
	group_events = 0;
	group_first_seq = tx.last_seq + 1;
	pgcdc_notify_begin_group();

	/* Keys or sinks were reconfigured: take the new settings now. */
	poll_config_generation();
	if (config_dirty)
	{
		config_dirty = false;
		pgcdc_relcache_invalidate_keys(relcache);
		load_sink_config();
	}
}

/*
 * Commit the local transaction: queue rows and origin position together.
 * The commit is flushed before it returns, so its source position can be
 * confirmed at once.  A transaction that wrote nothing commits nothing.
 */
static void
commit_group(void)
{
	bool		wrote;

	if (!local_xact_open)
		return;

	if (tx.last_seq >= group_first_seq)
	{
		if (config.sink & PGCDC_SINK_NOTIFY)
			pgcdc_notify_end_group(config.channel, config.source_id,
								   group_first_seq, tx.last_seq, config.wakeup);
		pgcdc_progress_save(config.source_id, tx.last_seq);
	}
	pgcdc_queue_end();
	wrote = TransactionIdIsValid(GetTopTransactionIdIfAny());
	if (wrote)
	{
		replorigin_session_origin_lsn = group_end;
		replorigin_session_origin_timestamp = group_commit_time;
	}
	CommitTransactionCommand();
	MemoryContextSwitchTo(TopMemoryContext);
	local_xact_open = false;
	replorigin_session_origin_lsn = InvalidXLogRecPtr;
	replorigin_session_origin_timestamp = 0;

	if (group_end != InvalidXLogRecPtr)
	{
		/* Belt and braces: never confirm what is not on disk. */
		if (wrote && XactLastCommitEnd > pgcdc_flush_ptr())
			XLogFlush(XactLastCommitEnd);
		last_flushed = Max(last_flushed, group_end);
		MySource->xacts += group_xacts;
		MySource->events += group_events;
		MySource->notifications += pgcdc_notify_sent - reported_sent;
		MySource->notifications_skipped += pgcdc_notify_skipped - reported_skipped;
		reported_sent = pgcdc_notify_sent;
		reported_skipped = pgcdc_notify_skipped;
		if (group_commit_time != 0)
			MySource->last_commit_time = group_commit_time;
		publish_position(group_end);
	}
	/* A keepalive that came while the group was open is ours now too. */
	if (!in_remote_xact)
		publish_position(last_received);
	group_xacts = 0;
	group_events = 0;
	pgstat_report_activity(STATE_IDLE, NULL);
	/* Table statistics drive autovacuum of the queue; the call is cheap. */
	pgstat_report_stat(false);
	exit_if_not_wanted();
	maybe_run_retention();
}

/*
 * Emit callback of the mapping layer: send the event to the sinks.  The
 * queue also keeps the events that a notification can only refer to.
 */
static void
publish_event(PgcdcTxContext *txc, PgcdcEvent *event, void *arg)
{
	bool		to_queue = (config.sink & PGCDC_SINK_QUEUE) != 0;

	if ((config.sink & PGCDC_SINK_NOTIFY) && !config.wakeup)
	{
		if (pgcdc_notify_event(config.channel, txc, event, to_queue))
			to_queue = true;
	}
	if (to_queue)
	{
		pgcdc_queue_begin();
		pgcdc_queue_append(txc, event);
	}
	group_events++;
}

/*
 * Remove queue rows nobody needs any more: those every consumer has
 * acknowledged or, for a source without consumers, those older than
 * pgcdc_drasi.retention.  Small batches in short transactions between
 * groups, so readers and the stream are never held up.
 */
static void
maybe_run_retention(void)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, INT4OID};
	Datum		values[3];
	TimestampTz now = GetCurrentTimestamp();

	if (local_xact_open || in_remote_xact)
		return;
	if (!retention_more &&
		!TimestampDifferenceExceeds(last_retention, now, RETENTION_INTERVAL_MS))
		return;
	last_retention = now;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(config.source_id);
	values[1] = Int32GetDatum(RETENTION_BATCH);
	values[2] = Int32GetDatum(pgcdc_retention);
	if (SPI_execute_with_args(
			"WITH first AS (SELECT seq FROM pgcdc_drasi.events WHERE source_id = $1 "
			"               ORDER BY seq LIMIT $2), "
			"c AS (SELECT min(acked_seq) AS min_ack, count(*) AS n "
			"      FROM pgcdc_drasi.consumers WHERE source_id = $1), "
			"cut AS (SELECT CASE WHEN c.n > 0 THEN c.min_ack "
			"                    WHEN $3 < 0 THEN 0 "
			"                    ELSE (SELECT max(e.seq) FROM pgcdc_drasi.events e "
			"                          WHERE e.source_id = $1 AND e.seq <= (SELECT max(seq) FROM first) "
			"                          AND e.commit_time < pg_catalog.now() - pg_catalog.make_interval(secs => $3)) "
			"               END AS seq FROM c) "
			"DELETE FROM pgcdc_drasi.events e USING cut "
			"WHERE e.source_id = $1 AND e.seq <= cut.seq "
			"AND e.seq <= (SELECT max(seq) FROM first)",
			3, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not remove old events");
	retention_more = (SPI_processed >= RETENTION_BATCH);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(TopMemoryContext);
	pgstat_report_stat(false);
}

/* The full (epoch-qualified) form of a recent transaction id. */
static uint64
full_xid(TransactionId xid)
{
	FullTransactionId next = ReadNextFullTransactionId();
	uint32		epoch = EpochFromFullTransactionId(next);

	if (xid > XidFromFullTransactionId(next))
		epoch--;
	return ((uint64) epoch << 32) | xid;
}

/* Handle one pgoutput message. */
static void
handle_change(StringInfo msg)
{
	PgcdcChange change;

	pgcdc_decode_change(msg, &change);

	switch (change.action)
	{
		case LOGICAL_REP_MSG_BEGIN:
			in_remote_xact = true;
			tx.xid = change.begin.xid;
			tx.full_xid = full_xid(change.begin.xid);
			tx.commit_lsn = change.begin.final_lsn;
			tx.commit_time = change.begin.committime;
			tx.tx_index = 0;
			break;

		case LOGICAL_REP_MSG_COMMIT:
			if (!in_remote_xact)
				ereport(ERROR,
						(errcode(ERRCODE_PROTOCOL_VIOLATION),
						 errmsg_internal("COMMIT without BEGIN at %X/%X",
										 LSN_FORMAT_ARGS(change.commit.commit_lsn))));
			in_remote_xact = false;
			if (tx.tx_index > 0)
			{
				recent_xids[recent_pos] = tx.xid;
				recent_pos = (recent_pos + 1) % RECENT_XIDS;
			}
			group_end = change.commit.end_lsn;
			group_commit_time = change.commit.committime;
			last_received = Max(last_received, change.commit.end_lsn);
			if (local_xact_open)
			{
				group_xacts++;
				if (group_xacts >= MAX_GROUP_XACTS ||
					group_events >= pgcdc_batch_size * 10 ||
					TimestampDifferenceExceeds(group_started, GetCurrentTimestamp(),
											   pgcdc_group_timeout))
					commit_group();
			}
			else
			{
				/* Nothing of ours in it: no local transaction needed. */
				last_flushed = Max(last_flushed, group_end);
				MySource->xacts++;
				publish_position(group_end);
			}
			break;

		case LOGICAL_REP_MSG_RELATION:
			ensure_local_xact();
			pgcdc_relcache_update(relcache, change.relation);
			break;

		case LOGICAL_REP_MSG_INSERT:
		case LOGICAL_REP_MSG_UPDATE:
		case LOGICAL_REP_MSG_DELETE:
		case LOGICAL_REP_MSG_TRUNCATE:
			if (!in_remote_xact)
				ereport(ERROR,
						(errcode(ERRCODE_PROTOCOL_VIOLATION),
						 errmsg_internal("change outside a transaction")));
			if (change.action == LOGICAL_REP_MSG_TRUNCATE)
			{
				ListCell   *lc;

				foreach(lc, change.truncated)
					if (snapshot_shows_change(lfirst_oid(lc)))
						change.truncated = foreach_delete_current(change.truncated, lc);
				if (change.truncated == NIL)
					break;
			}
			else if (snapshot_shows_change(change.relid))
				break;
			ensure_local_xact();
			if (group_events == 0)
				pgstat_report_activity(STATE_RUNNING, "publishing changes");
			tx.received_at = GetCurrentTimestamp();
			pgcdc_map_change(relcache, &tx, &change, publish_event, NULL);
			break;

		default:
			/* Type, Origin and Message carry nothing we publish. */
			break;
	}
}

/* Handle one CopyData message of the stream. */
static void
handle_copydata(char *buf, int len)
{
	StringInfoData msg;
	PgcdcWalHeader hdr;

	msg.data = buf;
	msg.len = len;
	msg.maxlen = -1;
	msg.cursor = 0;

	pgcdc_decode_header(&msg, &hdr);
	/* The server accepted the stream: only now do we call it streaming. */
	if (MySource->state == PGCDC_STATE_CONNECTING)
		set_state(PGCDC_STATE_STREAMING);
	if (hdr.kind == 'w')
	{
		handle_change(&msg);
	}
	else
	{
		/* Keepalive: between transactions its position is ours too. */
		if (!in_remote_xact)
		{
			last_received = Max(last_received, hdr.wal_end);
			if (!local_xact_open)
				publish_position(last_received);
		}
		if (hdr.reply_requested)
			send_feedback(true, false);
	}
}

/* The main loop: read, publish, confirm, wait. */
static void
stream_loop(void)
{
	for (;;)
	{
		char	   *buf;
		pgsocket	fd = PGINVALID_SOCKET;
		int			len;
		int			rc;

		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		len = pgcdc_stream_receive(stream, &buf, &fd);
		if (len > 0)
		{
			MemoryContext old = MemoryContextSwitchTo(message_mcxt);

			handle_copydata(buf, len);
			MemoryContextSwitchTo(old);
			MemoryContextReset(message_mcxt);
			send_feedback(false, false);
			continue;
		}
		if (len < 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("replication stream of source \"%s\" ended unexpectedly",
							config.source_id)));

		/* Nothing more to read now: close the group and confirm. */
		if (local_xact_open && !in_remote_xact)
			commit_group();
		exit_if_not_wanted();
		send_feedback(false, false);
		maybe_run_retention();
		poll_config_generation();
		maybe_finish_resnapshot();
		maybe_run_resnapshot();

		rc = WaitLatchOrSocket(MyLatch,
							   WL_SOCKET_READABLE | WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							   fd, 1000, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
	}
}

/* Publish one snapshot row as the insert event of that row. */
static void
snapshot_row(PgcdcRelCache *cache, Oid relid, LogicalRepTupleData *tup, void *arg)
{
	PgcdcChange change;

	memset(&change, 0, sizeof(change));
	change.action = LOGICAL_REP_MSG_INSERT;
	change.relid = relid;
	change.newtup = *tup;
	pgcdc_map_change(cache, &tx, &change, publish_event, NULL);
}

/* Show snapshot progress in the status view and pg_stat_activity. */
static void
report_snapshot_progress(PgcdcSnapshotScan *scan)
{
	Oid			relid;
	uint64		done;
	double		estimate;
	char	   *relname;

	pgcdc_snapshot_progress(scan, &relid, &done, &estimate);
	relname = OidIsValid(relid) ? get_rel_name(relid) : NULL;
	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	strlcpy(MySource->snapshot_table, relname ? relname : "", sizeof(MySource->snapshot_table));
	MySource->snapshot_rows_done = done;
	MySource->snapshot_rows_total = (uint64) Max(estimate, (double) done);
	LWLockRelease(pgcdc_shared->lock);
	if (relname)
		pgstat_report_activity(STATE_RUNNING,
							   psprintf("snapshot of table %s: " UINT64_FORMAT " of about %.0f rows",
										relname, done, Max(estimate, (double) done)));
}

/*
 * Make the open local transaction (the caller's, in REPEATABLE READ) the
 * group of a snapshot: its events carry this transaction's xid and lsn as
 * their position, and are marked as snapshot events.
 */
static void
begin_snapshot_group(XLogRecPtr lsn)
{
	FullTransactionId fxid = GetTopFullTransactionId();

	local_xact_open = true;
	group_started = GetCurrentTimestamp();
	group_xacts = 0;
	group_events = 0;
	group_first_seq = tx.last_seq + 1;
	pgcdc_notify_begin_group();
	tx.snapshot = true;
	tx.xid = XidFromFullTransactionId(fxid);
	tx.full_xid = U64FromFullTransactionId(fxid);
	tx.commit_lsn = lsn;
	tx.commit_time = GetCurrentTimestamp();
	tx.received_at = tx.commit_time;
	tx.tx_index = 0;
}

/*
 * Write a snapshot of the source's tables (all, or those in relids) as
 * insert events of the open local transaction, in its snapshot; with
 * clear_first, a 't' event per table comes before its rows (re-snapshots
 * replace a table's state).  The rows stream through a cursor.
 */
static void
write_snapshot(List *relids, bool clear_first)
{
	PgcdcRelCache *snapcache;
	PgcdcSnapshotScan *scan;
	int			nestlevel;
	ListCell   *lc;

	tx.snapshot_datum = DirectFunctionCall1(pg_current_snapshot, (Datum) 0);
	snapcache = pgcdc_relcache_create(config.source_id, config.owner, TopMemoryContext);
	pgcdc_relcache_set_numeric_as_string(snapcache, config.numeric_as_string);
	scan = pgcdc_snapshot_begin(snapcache, config.publication, NIL, relids);
	if (clear_first)
		foreach(lc, pgcdc_snapshot_relids(scan))
			snapshot_clear_table(snapcache, lfirst_oid(lc));
	nestlevel = pgcdc_snapshot_settings();
	for (;;)
	{
		uint64		n;

		CHECK_FOR_INTERRUPTS();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		n = pgcdc_snapshot_fetch(scan, snapshot_row, NULL);
		SPI_finish();
		report_snapshot_progress(scan);
		if (n == 0)
			break;
	}
	pgcdc_snapshot_end(scan);
	AtEOXact_GUC(true, nestlevel);
	/* Events hold copies of everything they need: the cache can go. */
	MemoryContextDelete(pgcdc_relcache_context(snapcache));
}

/*
 * The initial snapshot: create the slot, exporting the snapshot of its
 * consistent point; read every table of the publication in exactly that
 * snapshot, as insert events; commit them with the origin at the
 * consistent point.  Streaming then starts there, so every change is
 * either in the snapshot or in the stream, never both and never neither.
 * If the worker dies before the commit, the slot (of which nothing was
 * consumed) is dropped and the whole snapshot taken again.
 */
static XLogRecPtr
take_initial_snapshot(void)
{
	XLogRecPtr	lsn = InvalidXLogRecPtr;
	char	   *snapshot_name;
	bool		slot_exists;
	Oid			argtypes[2] = {TEXTOID, LSNOID};
	Datum		values[2];

	set_state(PGCDC_STATE_SNAPSHOT);
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot_exists = SearchNamedReplicationSlot(config.slot_name, false) != NULL;
	LWLockRelease(ReplicationSlotControlLock);
	if (slot_exists)
	{
		ereport(LOG,
				(errmsg("pgcdc_drasi source \"%s\" drops slot \"%s\" of an unfinished initial snapshot",
						config.source_id, config.slot_name)));
		pgcdc_stream_drop_slot(stream, config.slot_name);
	}
	pgstat_report_activity(STATE_RUNNING, "creating replication slot");
	snapshot_name = pgcdc_stream_create_slot(stream, config.slot_name, &lsn);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	XactIsoLevel = XACT_REPEATABLE_READ;
	ImportSnapshot(snapshot_name);
	begin_snapshot_group(lsn);

	PushActiveSnapshot(GetTransactionSnapshot());
	write_snapshot(NIL, false);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(config.source_id);
	values[1] = LSNGetDatum(lsn);
	if (SPI_execute_with_args("UPDATE pgcdc_drasi.source_progress SET snapshot_lsn = $2 "
							  "WHERE source_id = $1",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the snapshot position");
	SPI_finish();
	PopActiveSnapshot();

	group_end = lsn;
	group_commit_time = tx.commit_time;
	commit_group();
	tx.snapshot = false;

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	MySource->snapshot_table[0] = '\0';
	LWLockRelease(pgcdc_shared->lock);
	ereport(LOG,
			(errmsg("pgcdc_drasi source \"%s\" took its initial snapshot at %X/%X: " INT64_FORMAT " events",
					config.source_id, LSN_FORMAT_ARGS(lsn), tx.last_seq - group_first_seq + 1)));
	return lsn;
}

/*
 * Does the re-snapshot being merged with the stream already show the
 * changes of the current source transaction to relid?  Decided by the
 * transaction's visibility in the snapshot, never by an LSN: a
 * transaction is visible if it committed before the snapshot was taken.
 */
static bool
snapshot_shows_change(Oid relid)
{
	int			i;

	if (!skip.active)
		return false;
	if (skip.relids != NIL && !list_member_oid(skip.relids, relid))
		return false;
	if (tx.full_xid < skip.xmin)
		return true;
	if (tx.full_xid >= skip.xmax)
		return false;
	for (i = 0; i < skip.nxip; i++)
		if (skip.xip[i] == tx.full_xid)
			return false;
	return true;
}

/* Take in a snapshot in pg_snapshot's text form, xmin:xmax:xip,... */
static void
set_skip_snapshot(const char *text, List *relids, XLogRecPtr until)
{
	const char *p = text;
	char	   *end;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	if (skip.xip)
		pfree(skip.xip);
	list_free(skip.relids);
	memset(&skip, 0, sizeof(skip));
	skip.xmin = strtou64(p, &end, 10);
	p = end + 1;
	skip.xmax = strtou64(p, &end, 10);
	p = end + 1;
	skip.xip = palloc(sizeof(uint64) * (strlen(p) / 2 + 1));
	while (*p)
	{
		skip.xip[skip.nxip++] = strtou64(p, &end, 10);
		p = (*end == ',') ? end + 1 : end;
	}
	skip.relids = list_copy(relids);
	skip.until = until;
	skip.active = true;
	MemoryContextSwitchTo(old);
}

/* Notice configuration changes made by SQL functions since we last looked. */
static void
poll_config_generation(void)
{
	if (MySource->config_generation != seen_config_generation)
	{
		seen_config_generation = MySource->config_generation;
		config_dirty = true;
		check_requests = true;
	}
}

/*
 * Once the stream has passed every transaction a re-snapshot could show,
 * stop checking and forget it (in the same table as our progress).
 */
static void
maybe_finish_resnapshot(void)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	if (!skip.active || local_xact_open || in_remote_xact || last_published <= skip.until)
		return;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(config.source_id);
	if (SPI_execute_with_args("UPDATE pgcdc_drasi.source_progress SET resnapshot = NULL, "
							  "resnapshot_tables = NULL, resnapshot_until = NULL WHERE source_id = $1",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not clear the re-snapshot state");
	SPI_finish();
	PopActiveSnapshot();

	/*
	 * Transactions skipped for the snapshot wrote nothing, so the origin may
	 * still be before them; without the skip state a restart from there
	 * would publish them again.  Everything up to last_published is done:
	 * record it in the same commit that forgets the state.
	 */
	replorigin_session_origin_lsn = last_published;
	replorigin_session_origin_timestamp = GetCurrentTimestamp();
	CommitTransactionCommand();
	replorigin_session_origin_lsn = InvalidXLogRecPtr;
	replorigin_session_origin_timestamp = 0;
	MemoryContextSwitchTo(TopMemoryContext);
	skip.active = false;
}

/* Emit a clearing event for a table before its re-snapshot rows. */
static void
snapshot_clear_table(PgcdcRelCache *cache, Oid relid)
{
	PgcdcChange change;

	memset(&change, 0, sizeof(change));
	change.action = LOGICAL_REP_MSG_TRUNCATE;
	change.truncated = list_make1_oid(relid);
	pgcdc_map_change(cache, &tx, &change, publish_event, NULL);
}

/*
 * Take a re-snapshot asked for with resnapshot(), between two source
 * transactions.  For each table: a "t" event (consumers clear the label),
 * then an insert event per row, all marked as snapshot events.  The
 * stream goes on afterwards; its changes that the snapshot already shows
 * (transactions visible in it) are skipped for those tables, so there is
 * no overlap and no gap.  The snapshot is kept with our progress until
 * the stream has passed it, so a restart in between skips the same.
 */
static void
maybe_run_resnapshot(void)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, OIDARRAYOID, LSNOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	List	   *relids = NIL;
	bool		all = false;
	char	   *snaptext;
	XLogRecPtr	until;
	uint64		i;
	ListCell   *lc;
	bool		isnull;
	MemoryContext spi_mcxt;

	if (!check_requests || local_xact_open || in_remote_xact || skip.active)
		return;
	check_requests = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	XactIsoLevel = XACT_REPEATABLE_READ;
	PushActiveSnapshot(GetTransactionSnapshot());

	/*
	 * A transaction can be committed (and already published by us) while
	 * still running for snapshots, between its commit record and leaving
	 * the ProcArray.  A re-snapshot must show everything already published,
	 * so it is not taken while its snapshot still lists such a transaction
	 * as running: committed in clog, or among the transactions we published
	 * lately (clog is set a moment after the commit record the walsender
	 * may already have sent).  Try again a moment later.
	 */
	{
		Snapshot	snap = GetActiveSnapshot();
		uint32		i;

		for (i = 0; i < snap->xcnt; i++)
		{
			bool		published = false;
			int			j;

			for (j = 0; j < RECENT_XIDS && !published; j++)
				published = (recent_xids[j] == snap->xip[i]);
			if (published || TransactionIdDidCommit(snap->xip[i]))
			{
				PopActiveSnapshot();
				AbortCurrentTransaction();
				MemoryContextSwitchTo(TopMemoryContext);
				check_requests = true;
				return;
			}
		}
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(config.source_id);
	if (SPI_execute_with_args("DELETE FROM pgcdc_drasi.snapshot_requests WHERE source_id = $1 "
							  "RETURNING tables",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "could not read snapshot requests");
	/* What must outlive SPI goes to the transaction's context. */
	spi_mcxt = MemoryContextSwitchTo(TopTransactionContext);
	for (i = 0; i < SPI_processed; i++)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		Datum	   *elems;
		int			n;
		int			j;

		if (isnull)
		{
			all = true;
			continue;
		}
		deconstruct_array(DatumGetArrayTypeP(d), OIDOID, sizeof(Oid), true, TYPALIGN_INT,
						  &elems, NULL, &n);
		for (j = 0; j < n; j++)
			relids = list_append_unique_oid(relids, DatumGetObjectId(elems[j]));
	}
	MemoryContextSwitchTo(spi_mcxt);
	if (SPI_processed == 0)
	{
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(TopMemoryContext);
		return;
	}
	if (all)
		relids = NIL;
	if (SPI_execute("SELECT pg_catalog.pg_current_snapshot()::text, pg_catalog.pg_current_wal_insert_lsn()",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the snapshot");
	snaptext = MemoryContextStrdup(TopMemoryContext,
								   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	until = DatumGetLSN(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();

	set_state(PGCDC_STATE_SNAPSHOT);
	begin_snapshot_group(last_received);

	write_snapshot(relids, true);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(config.source_id);
	values[1] = CStringGetTextDatum(snaptext);
	if (relids == NIL)
		nulls[2] = 'n';
	else
	{
		Datum	   *elems = palloc(sizeof(Datum) * list_length(relids));
		int			j = 0;

		foreach(lc, relids)
			elems[j++] = ObjectIdGetDatum(lfirst_oid(lc));
		values[2] = PointerGetDatum(construct_array(elems, j, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	}
	values[3] = LSNGetDatum(until);
	if (SPI_execute_with_args("UPDATE pgcdc_drasi.source_progress SET resnapshot = $2::pg_snapshot, "
							  "resnapshot_tables = $3, resnapshot_until = $4 WHERE source_id = $1",
							  4, argtypes, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the re-snapshot");
	SPI_finish();
	PopActiveSnapshot();

	set_skip_snapshot(snaptext, relids, until);
	pfree(snaptext);
	/*
	 * The origin stays where the stream is, except after a resync: the
	 * snapshot's commit must also record that the stream restarted past the
	 * WAL that could not be decoded (the origin never moves backwards).
	 */
	group_end = resync_startpos;
	commit_group();
	resync_startpos = InvalidXLogRecPtr;
	tx.snapshot = false;

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	MySource->snapshot_table[0] = '\0';
	MySource->state = PGCDC_STATE_STREAMING;
	LWLockRelease(pgcdc_shared->lock);
	ereport(LOG,
			(errmsg("pgcdc_drasi source \"%s\" took a re-snapshot: " INT64_FORMAT " events",
					config.source_id, tx.last_seq - group_first_seq + 1)));
}

/* Connect, take the slot and stream until an error or a stop. */
static void
run_source(Oid dboid, const char *source_id)
{
	XLogRecPtr	startpos = InvalidXLogRecPtr;
	char	   *dbname;
	char	   *username;
	char	   *conninfo;
	char		appname[NAMEDATALEN + 16];

	if (!load_config(source_id, &startpos))
	{
		/* Dropped, paused, or the extension is gone: nothing to run. */
		LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
		MySource->desired = false;
		LWLockRelease(pgcdc_shared->lock);
		proc_exit(0);
	}

	StartTransactionCommand();
	dbname = MemoryContextStrdup(TopMemoryContext, get_database_name(dboid));
	username = MemoryContextStrdup(TopMemoryContext,
								   GetUserNameFromId(BOOTSTRAP_SUPERUSERID, false));
	CommitTransactionCommand();
	MemoryContextSwitchTo(TopMemoryContext);

	conninfo = pgcdc_build_conninfo(config.conninfo[0] ? config.conninfo : pgcdc_conninfo,
									dbname, username);
	relcache = pgcdc_relcache_create(config.source_id, config.owner, TopMemoryContext);
	pgcdc_relcache_set_numeric_as_string(relcache, config.numeric_as_string);
	tx.source_id = config.source_id;
	tx.owner = config.owner;
	message_mcxt = AllocSetContextCreate(TopMemoryContext, "pgcdc_drasi message",
										 ALLOCSET_DEFAULT_SIZES);

	set_state(PGCDC_STATE_CONNECTING);
	snprintf(appname, sizeof(appname), "pgcdc_drasi:%s", source_id);
	stream = pgcdc_stream_connect(conninfo, appname);
	if (config.needs_snapshot)
	{
		startpos = take_initial_snapshot();
		set_state(PGCDC_STATE_CONNECTING);
	}
	else if (config.needs_resync)
	{
		/*
		 * resync_source: start at the current end of WAL, past whatever
		 * cannot be decoded; the re-snapshot queued with the request (taken
		 * at the first quiet moment) carries the effect of what is skipped.
		 */
		startpos = GetXLogInsertRecPtr();
		XLogFlush(startpos);
		resync_startpos = startpos;
		ereport(LOG,
				(errmsg("pgcdc_drasi source \"%s\" resyncs: skipping WAL from %X/%X to %X/%X",
						source_id, LSN_FORMAT_ARGS(replorigin_session_get_progress(false)),
						LSN_FORMAT_ARGS(startpos))));
	}
	pgcdc_stream_start(stream, config.slot_name, config.publication, startpos);

	last_received = startpos;
	last_flushed = startpos;
	last_published = InvalidXLogRecPtr;
	publish_position(startpos);
	ereport(LOG,
			(errmsg("pgcdc_drasi source \"%s\" streaming publication \"%s\" from slot \"%s\" at %X/%X",
					source_id, config.publication, config.slot_name, LSN_FORMAT_ARGS(startpos))));

	stream_loop();
}

/* Main of a source worker. */
void
pgcdc_source_main(Datum main_arg)
{
	int			index = DatumGetInt32(main_arg);
	Oid			dboid;
	char		source_id[NAMEDATALEN];

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (index < 0 || index >= pgcdc_max_sources)
		elog(ERROR, "invalid source index %d", index);

	LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
	MySource = &pgcdc_shared->sources[index];
	if (!MySource->in_use || !MySource->desired || MySource->pid != 0)
	{
		MySource->starting = false;
		LWLockRelease(pgcdc_shared->lock);
		proc_exit(0);
	}
	MySource->pid = MyProcPid;
	MySource->pgprocno = MyProc->pgprocno;
	MySource->starting = false;
	MySource->failed = false;
	MySource->state = PGCDC_STATE_STARTING;
	if (MySource->started_at != 0)
		MySource->reconnects++;
	MySource->started_at = GetCurrentTimestamp();
	dboid = MySource->dboid;
	strlcpy(source_id, MySource->source_id, NAMEDATALEN);
	seen_config_generation = MySource->config_generation;
	LWLockRelease(pgcdc_shared->lock);
	before_shmem_exit(source_on_exit, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	/* Queue rows must be on disk before anyone can read them. */
	if (synchronous_commit < SYNCHRONOUS_COMMIT_LOCAL_FLUSH)
		SetConfigOption("synchronous_commit", "local", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("search_path", "", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("application_name", "pgcdc_drasi source", PGC_USERSET, PGC_S_OVERRIDE);
	pgstat_report_appname("pgcdc_drasi source");

	PG_TRY();
	{
		run_source(dboid, source_id);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		record_error(edata->message);
		FlushErrorState();
		RESUME_INTERRUPTS();
		/* Let the bgworker machinery report it and exit with status 1. */
		ReThrowError(edata);
	}
	PG_END_TRY();
}
