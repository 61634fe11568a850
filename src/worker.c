/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The source worker's apply loop: stream, decode, map and publish
 *		one source's changes, exactly once.
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
 * Local commits are flushed before they become visible and before the
 * slot is told they are (docs/design.md, "Exactly once").
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
 * STREAMING
 *
 * A transaction larger than logical_decoding_work_mem arrives in chunks
 * before it commits (protocol 2, streaming on).  Each chunk's events are
 * written in a local transaction of their own, under the transaction's
 * queue key; readers see none of them, because they join event rows to
 * transaction rows and it has none yet.  Stream Commit writes its row,
 * numbering its events from the next seq, in the local transaction that
 * moves the origin past it: exactly once as for any transaction.  Stream
 * Abort removes its rows, or those of an aborted subtransaction (from
 * the subtransaction's first event on, as savepoints nest).  A restart
 * removes the rows of every transaction without a row: the server sends
 * those transactions again, whole (docs/design.md, "Streaming").
 *
 * REDIS SINK
 *
 * A source with the redis sink writes no queue row: its events go from
 * the stream to a Redis stream (sink_redis.c), flushed before the group's
 * local transaction commits, and the origin moves past the group only
 * then, in memory, and on disk at most every ORIGIN_COMMIT_MS (an xid
 * makes the otherwise empty local commit write a commit record).  Redis
 * refuses what a restart sends again (ids rise with the commit LSN), so
 * the origin may lag; such a source receives transactions whole
 * (docs/design.md, "Direct mode for Redis").
 *
 * Each pgoutput message has its handler (handle_begin, handle_commit,
 * ...), as in PostgreSQL's own apply worker; snapshots taken between
 * transactions live in snapshot_sync.c.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/walreceiver.h"
#include "replication/walsender.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"

#include "catalog.h"
#include "compat.h"
#include "fault.h"
#include "mapping.h"
#include "pgcdc_drasi.h"
#include "proto.h"
#include "relation.h"
#include "shmem.h"
#include "sink_notify.h"
#include "sink_queue.h"
#include "sink_redis.h"
#include "snapshot_sync.h"
#include "value.h"
#include "walstream.h"
#include "worker.h"
#include "worker_internal.h"

#define FEEDBACK_INTERVAL_MS	10000	/* status even when nothing moved */
#define FEEDBACK_MIN_MS			200 /* at most this often when things move */
#define KEEPALIVE_MS			200 /* during a re-snapshot */
#define MAX_GROUP_XACTS			1000
#define RETENTION_INTERVAL_MS	1000	/* look for rows to remove this often */
#define RETENTION_PIECE_MS		2	/* what one piece of retention may take */
#define RETENTION_BUSY_GAP_MS	10	/* a stream that never pauses: pieces this
									 * far apart at least */
#define RETENTION_MIN_BATCH		16
#define RETENTION_MAX_BATCH		2000
#define ORIGIN_COMMIT_MS		1000	/* redis sink: origin saved this often */

MemoryContext PgcdcWorkerContext = NULL;
PgcdcSource *MySource = NULL;
PgcdcSourceConfig *MySourceConfig = NULL;
PgcdcStream *MyStream = NULL;

/* Reset after every CopyData message. */
static MemoryContext message_mcxt = NULL;

static PgcdcRelCache *relcache = NULL;

/* Progress of the stream. */
static XLogRecPtr last_received = InvalidXLogRecPtr;
static XLogRecPtr last_published = InvalidXLogRecPtr;
static XLogRecPtr last_flushed = InvalidXLogRecPtr;
static XLogRecPtr last_sent_flush = InvalidXLogRecPtr;
static TimestampTz last_feedback = 0;
static TimestampTz last_recv_time = 0;
static bool ping_sent = false;
static bool streaming_started = false;

/*
 * A failover source confirms a position only once the standbys have the
 * local commits that published up to it (see standby_safe_flush): the
 * position confirmed so far, and the one waiting for the standbys to
 * flush the WAL up to standby_pending_wal.
 */
static XLogRecPtr standby_confirmed = InvalidXLogRecPtr;
static XLogRecPtr standby_pending = InvalidXLogRecPtr;
static XLogRecPtr standby_pending_wal = InvalidXLogRecPtr;

/* The source transaction being decoded, and the local one being written. */
static bool in_remote_xact = false;
static PgcdcTxContext tx;
static bool tx_queued = false;	/* some of tx's events went to the queue */
static int64 last_tx_key = 0;	/* queue keys of transactions given so far */
static XLogRecPtr last_snapshot_lsn = InvalidXLogRecPtr;	/* lsn of the last
															 * snapshot group */

/*
 * Transactions being streamed (protocol 2) and the one whose chunk is
 * being read; the transaction context changes go to (tx, or a streamed
 * one's).
 */
typedef struct PgcdcSubxact
{
	TransactionId xid;
	int			first_index;	/* tx_index of its first event */
} PgcdcSubxact;

typedef struct PgcdcStreamXact
{
	TransactionId xid;
	PgcdcTxContext tx;			/* its key, tx_index: events so far */
	List	   *subxacts;		/* PgcdcSubxact, in order of first change */
} PgcdcStreamXact;

static bool streaming_on = false;
static List *stream_xacts = NIL;
static PgcdcStreamXact *cur_stream = NULL;
static PgcdcTxContext *cur_tx = &tx;
static bool local_xact_open = false;
static int	group_xacts = 0;
static int	group_events = 0;
static int64 group_first_seq = 0;
static XLogRecPtr group_end = InvalidXLogRecPtr;
static TimestampTz group_commit_time = 0;
static TimestampTz group_started = 0;
static TimestampTz last_origin_commit = 0;	/* redis sink */

static uint32 seen_config_generation = 0;
static bool config_dirty = false;
static TimestampTz last_retention = 0;
static bool retention_more = false;
static double retention_events_per_ms = 50.0;	/* measured: sizes a piece */

/* What the worker was doing, for the context of any error it raises. */
static struct
{
	LogicalRepMsgType command;	/* 0: not applying a message */
	LogicalRepRelId relid;		/* the relation of a change, or Invalid */
	char		relname[NAMEDATALEN];	/* a snapshot's table, or "" */
	TransactionId xid;			/* of the source transaction */
	XLogRecPtr	finish_lsn;		/* its commit LSN */
	XLogRecPtr	message_lsn;	/* where the current message starts */
	const char *phase;			/* a snapshot being taken, or NULL */
}			errctx;

static void maybe_run_retention(bool idle);
static void note_subxact(PgcdcMessage *m);
static void check_receive_timeout(void);
static void poll_config_generation(void);

/*
 * Error context callback: every error raised while the worker runs says
 * which source, and while applying a message which message, relation,
 * transaction and LSN (as PostgreSQL's apply_error_callback does).
 */
static void
apply_error_callback(void *arg)
{
	const char *source_id = MySourceConfig ? MySourceConfig->source_id :
	(MySource ? MySource->source_id : "?");
	const char *relname = NULL;

	if (errctx.phase == NULL && errctx.command == 0)
		return;
	if (OidIsValid(errctx.relid))
		relname = pgcdc_relcache_name(relcache, errctx.relid);

	if (errctx.phase != NULL)
	{
		if (errctx.relname[0] != '\0')
			errcontext("pgcdc_drasi source \"%s\" taking %s, table \"%s\"",
					   source_id, errctx.phase, errctx.relname);
		else
			errcontext("pgcdc_drasi source \"%s\" taking %s", source_id, errctx.phase);
	}
	else if (!TransactionIdIsValid(errctx.xid))
		errcontext("pgcdc_drasi source \"%s\" processing message type \"%s\" at %X/%X",
				   source_id, pgcdc_proto_message_name(errctx.command),
				   LSN_FORMAT_ARGS(errctx.message_lsn));
	else if (relname == NULL)
		errcontext("pgcdc_drasi source \"%s\" processing message type \"%s\" in transaction %u, finished at %X/%X",
				   source_id, pgcdc_proto_message_name(errctx.command), errctx.xid,
				   LSN_FORMAT_ARGS(errctx.finish_lsn));
	else
		errcontext("pgcdc_drasi source \"%s\" processing message type \"%s\" for relation \"%s\" in transaction %u, finished at %X/%X",
				   source_id, pgcdc_proto_message_name(errctx.command), relname,
				   errctx.xid, LSN_FORMAT_ARGS(errctx.finish_lsn));
}

/*
 * Name what a snapshot is doing for the error context: phase is e.g.
 * "its initial snapshot" (NULL when it is done; a string that lives as
 * long as the process), relname the table.  The name is copied: the
 * caller's copy goes with the snapshot's transaction, and a message
 * logged after its commit must not read freed memory.
 */
void
pgcdc_worker_set_error_phase(const char *phase, const char *relname)
{
	errctx.phase = phase;
	strlcpy(errctx.relname, relname ? relname : "", sizeof(errctx.relname));
}

/* Stop cleanly when the source was paused or dropped. */
static void
exit_if_not_wanted(void)
{
	if (pgcdc_shmem_source_wanted(MySource))
		return;
	if (IsTransactionState())
		AbortCurrentTransaction();
	pgcdc_stream_disconnect(MyStream);
	proc_exit(0);
}

/* Stop cleanly when the source was paused or dropped (for snapshot_sync.c). */
void
pgcdc_worker_exit_if_not_wanted(void)
{
	exit_if_not_wanted();
}

/*
 * Read how events leave the worker.  Called at start and, when
 * alter_source changed it, at the start of the next local transaction,
 * so all events of one local transaction go the same way.
 */
static void
load_sink_config(void)
{
	PgcdcSourceConfig *fresh;

	Assert(IsTransactionState());
	fresh = pgcdc_catalog_get_source(MySourceConfig->source_id, PGCDC_LOCK_NONE, true);
	if (fresh == NULL)
		return;					/* dropped: the launcher stops us */
	/* REASSIGN OWNED changed our owner: restart under the new one. */
	if (fresh->owner != MySourceConfig->owner)
	{
		ereport(LOG,
				(errmsg("pgcdc_drasi source \"%s\" restarts: its owner changed",
						MySourceConfig->source_id)));
		proc_exit(0);
	}
	MySourceConfig->sink = fresh->sink;
	MySourceConfig->wakeup = fresh->wakeup;
	MySourceConfig->numeric_as_string = fresh->numeric_as_string;
	pfree(MySourceConfig->channel);
	MySourceConfig->channel = MemoryContextStrdup(PgcdcWorkerContext, fresh->channel);
	if (relcache != NULL)
		pgcdc_relcache_set_numeric_as_string(relcache, MySourceConfig->numeric_as_string);
}

/*
 * Read our configuration and progress, and take our replication origin.
 * Our row of pgcdc_drasi.sources is locked FOR KEY SHARE while we do so,
 * so a concurrent drop_source either finishes first (and we find no row)
 * or waits for us.  Returns false when there is nothing to run.
 */
static bool
load_config(const char *source_id, XLogRecPtr *startpos, bool *needs_snapshot,
			bool *needs_resync)
{
	PgcdcSourceConfig *config;
	PgcdcSourceProgress progress;
	RepOriginId origin;
	MemoryContext old;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();

	if (!OidIsValid(get_extension_oid(PGCDC_EXTENSION_NAME, true)))
	{
		CommitTransactionCommand();
		return false;
	}

	old = MemoryContextSwitchTo(PgcdcWorkerContext);
	config = pgcdc_catalog_get_source(source_id, PGCDC_LOCK_KEY_SHARE, true);
	if (config == NULL || !config->enabled)
	{
		MemoryContextSwitchTo(old);
		CommitTransactionCommand();
		return false;
	}
	/* A restore can bring back a source before its progress row. */
	if (!pgcdc_catalog_get_progress(source_id, &progress))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" has no row in pgcdc_drasi.source_progress", source_id),
				 errhint("Restore pgcdc_drasi.source_progress, or drop and create the source again.")));
	MySourceConfig = config;
	tx.last_seq = progress.last_seq;
	if (config->sink == PGCDC_SINK_REDIS)
		pgcdc_sink_redis_start(source_id);
	/* chunks of transactions streamed before a restart: sent again whole */
	last_tx_key = pgcdc_queue_discard(source_id, -1, 0);
	*needs_snapshot = config->bootstrap && XLogRecPtrIsInvalid(progress.snapshot_lsn);
	*needs_resync = pgcdc_catalog_resync_requested(source_id);
	pgcdc_sync_restore(&progress);
	MemoryContextSwitchTo(old);

	origin = replorigin_by_name(config->origin_name, true);
	if (origin == InvalidRepOriginId)
		origin = replorigin_create(config->origin_name);
	pgcdc_shmem_set_origin(MySource, config->origin_name);
	pgcdc_replorigin_session_setup(origin);
	replorigin_session_origin = origin;
	*startpos = replorigin_session_get_progress(false);

	CommitTransactionCommand();
	MemoryContextSwitchTo(PgcdcWorkerContext);
	return true;
}

/*
 * How long the worker may stay silent.  The walsender of our own server
 * ends a connection that sends nothing for wal_sender_timeout, and during
 * a large transaction the position does not move, so only this interval
 * sends status updates; its own keepalive requests can wait behind
 * megabytes of data in the socket buffers while a slow worker catches up.
 */
static int
feedback_interval_ms(void)
{
	if (wal_sender_timeout > 0)
		return Min(FEEDBACK_INTERVAL_MS, Max(wal_sender_timeout / 4, FEEDBACK_MIN_MS));
	return FEEDBACK_INTERVAL_MS;
}

/*
 * What a failover source may confirm of flush.  Its slot is synchronized
 * to the standbys with the position it confirms, while its queue rows and
 * origin reach them with the WAL of its local commits, which comes later.
 * A standby promoted with the slot ahead of the origin would start
 * streaming at the slot's position and lose the changes in between.  So
 * a position is confirmed only once the standbys named in
 * synchronized_standby_slots have flushed all the WAL written when it was
 * reached (every local commit up to it, of this process or an earlier
 * one).  One position waits at a time, so confirmation moves on under a
 * steady load, a replication lag behind.
 */
static XLogRecPtr
standby_safe_flush(XLogRecPtr flush)
{
	if (!MySourceConfig->failover || flush <= standby_confirmed)
		return flush;
	if (XLogRecPtrIsInvalid(standby_pending))
	{
		standby_pending = flush;
		standby_pending_wal = pgcdc_flush_ptr();
	}
	if (pgcdc_standby_slots_flushed(standby_pending_wal))
	{
		standby_confirmed = standby_pending;
		standby_pending = InvalidXLogRecPtr;
	}
	/* (a position confirmed while idle can be ahead of a group now open) */
	return Min(standby_confirmed, flush);
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
	flush = standby_safe_flush(flush);

	if (!force &&
		!(flush != last_sent_flush &&
		  TimestampDifferenceExceeds(last_feedback, now, FEEDBACK_MIN_MS)) &&
		!TimestampDifferenceExceeds(last_feedback, now, feedback_interval_ms()))
		return;

	pgcdc_stream_send_feedback(MyStream, last_received, flush, request_reply);
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

/* Start a group: its first seq, a fresh notification state. */
static void
begin_group(void)
{
	local_xact_open = true;
	group_started = GetCurrentTimestamp();
	group_xacts = 0;
	group_events = 0;
	group_first_seq = tx.last_seq + 1;
	pgcdc_notify_begin_group();
}

/* Open the local transaction that receives events, if not open yet. */
static void
ensure_local_xact(void)
{
	if (local_xact_open)
	{
		Assert(IsTransactionState());
		return;
	}
	Assert(!IsTransactionState());
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	begin_group();

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
	uint64		sent;
	uint64		skipped;

	if (!local_xact_open)
		return;
	Assert(IsTransactionState());

	if (MySourceConfig->sink == PGCDC_SINK_REDIS)
	{
		/*
		 * Redis holds the group's events once this returns.  The origin moves
		 * past them in memory at every group and on disk at most every
		 * ORIGIN_COMMIT_MS, in a local commit that writes nothing else (an
		 * xid forces its commit record, which carries the origin). A crash
		 * loses at most that much of the origin's progress, and the replay is
		 * refused by Redis: nothing is written twice.
		 */
		pgcdc_sink_redis_flush();
		if (group_end != InvalidXLogRecPtr &&
			TimestampDifferenceExceeds(last_origin_commit, GetCurrentTimestamp(),
									   ORIGIN_COMMIT_MS))
		{
			(void) GetTopTransactionId();
			last_origin_commit = GetCurrentTimestamp();
		}
	}
	else if (tx.last_seq >= group_first_seq)
	{
		if (MySourceConfig->sink & PGCDC_SINK_NOTIFY)
			pgcdc_notify_end_group(MySourceConfig->channel, MySourceConfig->source_id,
								   group_first_seq, tx.last_seq, MySourceConfig->wakeup);
		pgcdc_catalog_save_last_seq(MySourceConfig->source_id, tx.last_seq);
	}
	pgcdc_queue_end();
	wrote = TransactionIdIsValid(GetTopTransactionIdIfAny());
	if (wrote)
	{
		replorigin_session_origin_lsn = group_end;
		replorigin_session_origin_timestamp = group_commit_time;
		pgcdc_worker_require_durable_commit();
		/* Tests: a commit that fails with the origin position set. */
		PGCDC_FAULT("source_commit");
	}
	CommitTransactionCommand();
	/* Tests: the commit is visible; is it on disk yet? */
	if (wrote)
		PGCDC_FAULT("source_committed");
	MemoryContextSwitchTo(PgcdcWorkerContext);
	local_xact_open = false;
	/* values of the stream and of snapshots, now published */
	MySource->values_unavailable += pgcdc_value_take_unavailable();
	replorigin_session_origin_lsn = InvalidXLogRecPtr;
	replorigin_session_origin_timestamp = 0;
	if (!wrote && group_end != InvalidXLogRecPtr && MySourceConfig->sink == PGCDC_SINK_REDIS)
		replorigin_session_advance(group_end, InvalidXLogRecPtr);

	if (group_end != InvalidXLogRecPtr)
	{
		/* Belt and braces: never confirm what is not on disk. */
		if (wrote && XactLastCommitEnd > pgcdc_flush_ptr())
			XLogFlush(XactLastCommitEnd);
		last_flushed = Max(last_flushed, group_end);
		MySource->xacts += group_xacts;
		MySource->events += group_events;
		pgcdc_notify_take_counts(&sent, &skipped);
		MySource->notifications += sent;
		MySource->notifications_skipped += skipped;
		MySource->key_fallbacks += pgcdc_relcache_take_key_fallbacks(relcache);
		if (group_commit_time != 0)
			MySource->last_commit_time = group_commit_time;
		publish_position(group_end);
	}
	/* New queue rows: the source's targets deliver them now. */
	if (wrote && tx.last_seq >= group_first_seq && MySourceConfig->sink != PGCDC_SINK_REDIS)
		pgcdc_shmem_wake_targets(MySource->dboid, MySourceConfig->source_id);
	/* A keepalive that came while the group was open is ours now too. */
	if (!in_remote_xact)
		publish_position(last_received);
	group_xacts = 0;
	group_events = 0;
	pgstat_report_activity(STATE_IDLE, NULL);
	/* Table statistics drive autovacuum of the queue; the call is cheap. */
	pgstat_report_stat(false);
	exit_if_not_wanted();
}

/*
 * Emit callback of the mapping layer: send the event to the sinks.  The
 * queue also keeps the events that a notification can only refer to.
 */
void
pgcdc_worker_publish(PgcdcTxContext *txc, PgcdcEvent *event, void *arg)
{
	bool		to_queue = (MySourceConfig->sink & PGCDC_SINK_QUEUE) != 0;

	Assert(local_xact_open);
	if (MySourceConfig->sink == PGCDC_SINK_REDIS)
	{
		Assert(txc == &tx && !tx.snapshot);
		pgcdc_sink_redis_add(txc, event);
		group_events++;
		return;
	}
	if (txc != &tx)
		to_queue = true;		/* streamed: notified, if at all, by seq range */
	else if ((MySourceConfig->sink & PGCDC_SINK_NOTIFY) && !MySourceConfig->wakeup)
	{
		if (pgcdc_notify_event(MySourceConfig->channel, txc, event, to_queue))
			to_queue = true;
	}
	if (to_queue)
	{
		pgcdc_queue_append(txc, event);
		if (txc == &tx)
			tx_queued = true;
	}
	group_events++;
}

/*
 * Remove queue rows nobody needs any more (sink_queue.c decides which),
 * off the path of the stream: in pieces of about RETENTION_PIECE_MS,
 * between local transactions, when the socket has nothing to read (idle;
 * the caller checks the socket again between pieces), or, on a stream
 * that never pauses, at most one piece every RETENTION_BUSY_GAP_MS.  A
 * piece's size follows the rate measured on the last ones.  Its commit
 * does not wait for the disk or a synchronous standby: rows removed by a
 * commit lost in a crash are removed again.  A change that arrives while
 * a piece runs waits for at most that piece (docs/design.md, "Retention
 * off the stream path").
 */
static void
maybe_run_retention(bool idle)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz end;
	uint64		removed;
	int			batch;
	long		secs;
	int			usecs;
	double		ms;

	if (local_xact_open || in_remote_xact)
		return;
	if (!TimestampDifferenceExceeds(last_retention, now,
									!retention_more ? RETENTION_INTERVAL_MS :
									idle ? 0 : RETENTION_BUSY_GAP_MS))
		return;
	batch = (int) Min(Max(retention_events_per_ms * RETENTION_PIECE_MS,
						  RETENTION_MIN_BATCH), RETENTION_MAX_BATCH);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) set_config_option("synchronous_commit", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	removed = pgcdc_queue_trim(MySourceConfig->source_id, pgcdc_retention, batch,
							   &retention_more);
	CommitTransactionCommand();
	MemoryContextSwitchTo(PgcdcWorkerContext);

	end = GetCurrentTimestamp();
	if (removed >= RETENTION_MIN_BATCH)
	{
		TimestampDifference(now, end, &secs, &usecs);
		ms = Max(secs * 1000.0 + usecs / 1000.0, 0.05);
		retention_events_per_ms = (retention_events_per_ms + removed / ms) / 2;
	}
	last_retention = end;
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

/* BEGIN: a source transaction starts. */
static void
handle_begin(PgcdcMessage *m)
{
	in_remote_xact = true;
	tx.tx_key = ++last_tx_key;
	tx_queued = false;
	tx.xid = m->begin.xid;
	tx.full_xid = full_xid(m->begin.xid);
	tx.commit_lsn = m->begin.final_lsn;
	/* a snapshot's position is before every transaction streamed after it */
	Assert(tx.commit_lsn > last_snapshot_lsn);
	tx.commit_time = m->begin.committime;
	tx.tx_index = 0;
	/* redis sink: no queue, metadata.seq numbers the transaction's events */
	if (MySourceConfig->sink == PGCDC_SINK_REDIS)
		tx.last_seq = 0;
	errctx.xid = m->begin.xid;
	errctx.finish_lsn = m->begin.final_lsn;
}

/*
 * COMMIT: the source transaction is complete.  Its events stay in the
 * open group, which is committed when it is large or old enough; a
 * transaction without events needs no local transaction at all.
 */
static void
handle_commit(PgcdcMessage *m)
{
	if (!in_remote_xact)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg_internal("COMMIT without BEGIN at %X/%X",
								 LSN_FORMAT_ARGS(m->commit.commit_lsn))));
	in_remote_xact = false;
	if (tx.tx_index > 0)
		pgcdc_sync_note_published(tx.xid);
	if (tx_queued)
		pgcdc_queue_end_tx(&tx, tx.last_seq - tx.tx_index + 1, tx.tx_index);
	group_end = m->commit.end_lsn;
	group_commit_time = m->commit.committime;
	last_received = Max(last_received, m->commit.end_lsn);
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
	errctx.xid = InvalidTransactionId;
}

/* RELATION: a table's description, before its first change or after ALTER. */
static void
handle_relation(PgcdcMessage *m)
{
	ensure_local_xact();
	pgcdc_relcache_update(relcache, m->relation);
}

/* Error unless a change arrives inside a source transaction. */
static void
require_remote_xact(PgcdcMessage *m)
{
	if (!in_remote_xact)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg_internal("%s message outside a transaction",
								 pgcdc_proto_message_name(m->action))));
}

/* Map a change in the open group and publish its events. */
static void
publish_change(PgcdcMessage *m)
{
	ensure_local_xact();
	if (group_events == 0)
		pgstat_report_activity(STATE_RUNNING, "publishing changes");
	cur_tx->received_at = GetCurrentTimestamp();
	pgcdc_map_change(relcache, cur_tx, m, pgcdc_worker_publish, NULL);
}

/*
 * INSERT, UPDATE, DELETE of one row; skipped when a re-snapshot being
 * merged with the stream already shows it.
 */
static void
handle_row_change(PgcdcMessage *m)
{
	require_remote_xact(m);
	errctx.relid = m->relid;
	note_subxact(m);
	if (pgcdc_sync_shows_change(m->relid, cur_tx->full_xid))
		return;
	publish_change(m);
}

/* TRUNCATE of one or more tables, less those a re-snapshot shows. */
static void
handle_truncate(PgcdcMessage *m)
{
	ListCell   *lc;

	require_remote_xact(m);
	note_subxact(m);
	foreach(lc, m->truncated)
	{
		if (pgcdc_sync_shows_change(lfirst_oid(lc), cur_tx->full_xid))
			m->truncated = foreach_delete_current(m->truncated, lc);
	}
	if (m->truncated == NIL)
		return;
	publish_change(m);
}

/*
 * Can large transactions be streamed to this source's sinks?  Full NOTIFY
 * payloads carry each event's seq, known only at the source commit, and
 * are sent at the local commit that writes the events, and the redis sink
 * writes to Redis directly: those sources receive transactions whole.
 */
static bool
sink_allows_streaming(void)
{
	/* the redis sink writes nothing before the source commit */
	if (MySourceConfig->sink == PGCDC_SINK_REDIS)
		return false;
	return !(MySourceConfig->sink & PGCDC_SINK_NOTIFY) || MySourceConfig->wakeup;
}

/* The streamed transaction xid, or NULL. */
static PgcdcStreamXact *
find_stream_xact(TransactionId xid)
{
	ListCell   *lc;

	foreach(lc, stream_xacts)
	{
		PgcdcStreamXact *sx = lfirst(lc);

		if (sx->xid == xid)
			return sx;
	}
	return NULL;
}

/* Forget a streamed transaction, committed or aborted. */
static void
forget_stream_xact(PgcdcStreamXact *sx)
{
	stream_xacts = list_delete_ptr(stream_xacts, sx);
	list_free_deep(sx->subxacts);
	pfree(sx);
}

/*
 * In a chunk, a change of a subtransaction: remember where its events
 * start, the first time, so that its abort can remove them.
 */
static void
note_subxact(PgcdcMessage *m)
{
	PgcdcSubxact *sub;
	MemoryContext old;
	ListCell   *lc;

	if (cur_stream == NULL || m->xid == cur_stream->xid)
		return;
	/* the last one, or (xids being assigned in order) a new one */
	if (cur_stream->subxacts != NIL)
	{
		sub = llast(cur_stream->subxacts);
		if (sub->xid == m->xid)
			return;
		if (!TransactionIdFollows(m->xid, sub->xid))
		{
			foreach(lc, cur_stream->subxacts)
			{
				if (((PgcdcSubxact *) lfirst(lc))->xid == m->xid)
					return;
			}
		}
	}
	old = MemoryContextSwitchTo(PgcdcWorkerContext);
	sub = palloc(sizeof(PgcdcSubxact));
	sub->xid = m->xid;
	sub->first_index = cur_stream->tx.tx_index;
	cur_stream->subxacts = lappend(cur_stream->subxacts, sub);
	MemoryContextSwitchTo(old);
}

/*
 * STREAM START: a chunk of a transaction in progress.  Its events are
 * written in a local transaction of their own, committed at STREAM STOP.
 */
static void
handle_stream_start(PgcdcMessage *m)
{
	PgcdcStreamXact *sx;

	if (in_remote_xact)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg_internal("STREAM START inside a transaction")));
	/* what was grouped so far commits first: this chunk is not part of it */
	if (local_xact_open)
		commit_group();

	sx = find_stream_xact(m->xid);
	if (sx == NULL)
	{
		MemoryContext old;

		if (!m->first_segment)
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg_internal("STREAM START of transaction %u without its first chunk",
									 m->xid)));
		old = MemoryContextSwitchTo(PgcdcWorkerContext);
		sx = palloc0(sizeof(PgcdcStreamXact));
		sx->xid = m->xid;
		sx->tx.source_id = tx.source_id;
		sx->tx.tx_key = ++last_tx_key;
		sx->tx.xid = m->xid;
		sx->tx.full_xid = full_xid(m->xid);
		stream_xacts = lappend(stream_xacts, sx);
		MemoryContextSwitchTo(old);
	}
	else if (m->first_segment)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg_internal("transaction %u streamed twice", m->xid)));

	ensure_local_xact();
	if (!sink_allows_streaming())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" must reconnect to receive transactions whole",
						MySourceConfig->source_id),
				 errdetail("Its sink now sends full NOTIFY payloads, which need each event's seq before the source transaction commits."),
				 errhint("The worker restarts and reconnects without streaming.")));
	in_remote_xact = true;
	cur_stream = sx;
	cur_tx = &sx->tx;
	errctx.xid = m->xid;
	errctx.finish_lsn = InvalidXLogRecPtr;
	pgstat_report_activity(STATE_RUNNING, "writing a chunk of a streamed transaction");
}

/* STREAM STOP: the chunk is written; its rows wait for the commit. */
static void
handle_stream_stop(PgcdcMessage *m)
{
	if (cur_stream == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg_internal("STREAM STOP without STREAM START")));
	Assert(local_xact_open);
	pgcdc_queue_end();
	/* invisible until the transaction row exists: no origin, no flush wait */
	CommitTransactionCommand();
	MemoryContextSwitchTo(PgcdcWorkerContext);
	local_xact_open = false;
	in_remote_xact = false;
	cur_stream = NULL;
	cur_tx = &tx;
	group_xacts = 0;
	group_events = 0;
	errctx.xid = InvalidTransactionId;
	pgstat_report_activity(STATE_IDLE, NULL);
}

#ifdef USE_ASSERT_CHECKING
/*
 * Tests only (assert-enabled builds): while the file
 * pgcdc_drasi_test_stream_commit_wait exists in the data directory (for
 * at most a minute), wait here, between the source commit of a streamed
 * transaction and its local commit, so a test can kill the worker at this
 * point (039_streaming.pl).
 */
static void
test_wait_before_stream_commit(void)
{
	struct stat st;
	int			i;

	if (stat("pgcdc_drasi_test_stream_commit_wait", &st) != 0)
		return;
	pgstat_report_activity(STATE_RUNNING, "waiting before the local commit of a streamed transaction");
	for (i = 0; i < 600 && stat("pgcdc_drasi_test_stream_commit_wait", &st) == 0; i++)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}
#endif

/*
 * STREAM COMMIT: the streamed transaction committed.  Its row numbers its
 * events from the next seq and is committed with the origin past it.
 */
static void
handle_stream_commit(PgcdcMessage *m)
{
	PgcdcStreamXact *sx;
	int			n;

	if (in_remote_xact)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg_internal("STREAM COMMIT inside a transaction")));
	sx = find_stream_xact(m->xid);
	if (sx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg_internal("STREAM COMMIT of transaction %u that was not streamed",
								 m->xid)));
	errctx.xid = m->xid;
	errctx.finish_lsn = m->commit.commit_lsn;
	n = sx->tx.tx_index;
	sx->tx.commit_lsn = m->commit.commit_lsn;
	Assert(sx->tx.commit_lsn > last_snapshot_lsn);
	sx->tx.commit_time = m->commit.committime;
	ensure_local_xact();
	if (n > 0)
	{
		pgcdc_queue_end_tx(&sx->tx, tx.last_seq + 1, n);
		tx.last_seq += n;
		group_events += n;
		pgcdc_sync_note_published(sx->xid);
	}
	forget_stream_xact(sx);
	group_end = m->commit.end_lsn;
	group_commit_time = m->commit.committime;
	last_received = Max(last_received, m->commit.end_lsn);
	group_xacts++;
#ifdef USE_ASSERT_CHECKING
	test_wait_before_stream_commit();
#endif
	commit_group();
	errctx.xid = InvalidTransactionId;
}

/*
 * STREAM ABORT: a streamed transaction, or one of its subtransactions,
 * rolled back: its events go, from the subtransaction's first on.
 */
static void
handle_stream_abort(PgcdcMessage *m)
{
	PgcdcStreamXact *sx;
	int			from = -1;

	if (in_remote_xact)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg_internal("STREAM ABORT inside a transaction")));
	sx = find_stream_xact(m->xid);
	if (sx == NULL)
		return;					/* nothing of it was streamed to us */
	if (m->subxid == m->xid)
		from = 0;
	else
	{
		ListCell   *lc;

		foreach(lc, sx->subxacts)
		{
			PgcdcSubxact *sub = lfirst(lc);

			if (sub->xid == m->subxid)
			{
				from = sub->first_index;
				/* it and every subtransaction that started after it */
				sx->subxacts = list_truncate(sx->subxacts, foreach_current_index(lc));
				break;
			}
		}
	}
	if (from >= 0 && from < sx->tx.tx_index)
	{
		bool		own = !local_xact_open;

		if (own)
		{
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
		}
		(void) pgcdc_queue_discard(MySourceConfig->source_id, sx->tx.tx_key, from);
		if (own)
		{
			CommitTransactionCommand();
			MemoryContextSwitchTo(PgcdcWorkerContext);
		}
		sx->tx.tx_index = from;
	}
	if (m->subxid == m->xid)
		forget_stream_xact(sx);
}

/* Read one pgoutput message and hand it to its handler. */
static void
apply_dispatch(StringInfo msg)
{
	PgcdcMessage m;

	/* The type first, so that even a malformed message is named. */
	if (msg->cursor < msg->len)
		errctx.command = (LogicalRepMsgType) msg->data[msg->cursor];
	errctx.relid = InvalidOid;
	pgcdc_proto_read_message(msg, &m);

	switch (m.action)
	{
		case LOGICAL_REP_MSG_BEGIN:
			handle_begin(&m);
			break;
		case LOGICAL_REP_MSG_COMMIT:
			handle_commit(&m);
			break;
		case LOGICAL_REP_MSG_RELATION:
			handle_relation(&m);
			break;
		case LOGICAL_REP_MSG_INSERT:
		case LOGICAL_REP_MSG_UPDATE:
		case LOGICAL_REP_MSG_DELETE:
			handle_row_change(&m);
			break;
		case LOGICAL_REP_MSG_TRUNCATE:
			handle_truncate(&m);
			break;
		case LOGICAL_REP_MSG_STREAM_START:
			handle_stream_start(&m);
			break;
		case LOGICAL_REP_MSG_STREAM_STOP:
			handle_stream_stop(&m);
			break;
		case LOGICAL_REP_MSG_STREAM_COMMIT:
			handle_stream_commit(&m);
			break;
		case LOGICAL_REP_MSG_STREAM_ABORT:
			handle_stream_abort(&m);
			break;
		default:
			/* Type, Origin and Message carry nothing we publish. */
			break;
	}
	errctx.command = 0;
	errctx.relid = InvalidOid;
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

	pgcdc_proto_read_header(&msg, &hdr);
	/* The server accepted the stream: only now do we call it streaming. */
	if (MySource->state == PGCDC_STATE_CONNECTING)
		pgcdc_shmem_set_state(MySource, PGCDC_STATE_STREAMING);
	if (hdr.kind == 'w')
	{
		errctx.message_lsn = hdr.data_start;
		apply_dispatch(&msg);
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

/* Notice configuration changes made by SQL functions since we last looked. */
static void
poll_config_generation(void)
{
	if (MySource->config_generation != seen_config_generation)
	{
		seen_config_generation = MySource->config_generation;
		config_dirty = true;
		pgcdc_sync_request_check();
	}
}

/*
 * Nothing arrived for a while: as PostgreSQL's apply worker does, ask the
 * server for a reply after half of wal_receiver_timeout and give up on
 * the connection after all of it (a remote server or network that went
 * away silently would otherwise hold the worker forever).
 */
static void
check_receive_timeout(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (wal_receiver_timeout <= 0 || last_recv_time == 0)
		return;
	if (TimestampDifferenceExceeds(last_recv_time, now, wal_receiver_timeout))
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("terminating replication stream of source \"%s\" due to timeout",
						MySourceConfig->source_id),
				 errdetail("Nothing was received for %d ms (wal_receiver_timeout).",
						   wal_receiver_timeout)));
	if (!ping_sent &&
		TimestampDifferenceExceeds(last_recv_time, now, wal_receiver_timeout / 2))
	{
		send_feedback(true, true);
		ping_sent = true;
	}
}

/*
 * During a long re-snapshot the stream is not read: tell the server we
 * are alive (every KEEPALIVE_MS at most), so its wal_sender_timeout does
 * not end the connection, and do not count the time against our own
 * receive timeout.  Before streaming started there is nobody to tell.
 */
void
pgcdc_worker_keepalive(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (!streaming_started)
		return;
	if (TimestampDifferenceExceeds(last_feedback, now, KEEPALIVE_MS))
		send_feedback(true, false);
	last_recv_time = now;
	ping_sent = false;
}

/*
 * Queue rows and notifications must be on disk before anyone sees them:
 * whatever synchronous_commit a reload set, the commit about to happen
 * runs at "local" at least (for this transaction only, so a later reload
 * that raises it still applies).
 */
void
pgcdc_worker_require_durable_commit(void)
{
	Assert(IsTransactionState());
	if (synchronous_commit < SYNCHRONOUS_COMMIT_LOCAL_FLUSH)
		(void) set_config_option("synchronous_commit", "local", PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
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

		/*
		 * Settings change only between groups: a group (its queue buffer, its
		 * size limits) runs with the settings it started with.
		 */
		if (ConfigReloadPending && !local_xact_open && !in_remote_xact)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		len = pgcdc_stream_receive(MyStream, &buf, &fd);
		if (len > 0)
		{
			MemoryContext old = MemoryContextSwitchTo(message_mcxt);

			last_recv_time = GetCurrentTimestamp();
			ping_sent = false;

			handle_copydata(buf, len);
			MemoryContextSwitchTo(old);
			MemoryContextReset(message_mcxt);
			send_feedback(false, false);
			/* a stream that does not pause: retention between groups */
			maybe_run_retention(false);
			continue;
		}
		if (len < 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("replication stream of source \"%s\" ended unexpectedly",
							MySourceConfig->source_id)));

		/* Nothing more to read now: close the group and confirm. */
		if (local_xact_open && !in_remote_xact)
			commit_group();
		exit_if_not_wanted();
		check_receive_timeout();
		send_feedback(false, false);
		maybe_run_retention(true);
		poll_config_generation();
		pgcdc_sync_between_transactions();

		/* more to remove: only look at the socket before the next piece */
		rc = WaitLatchOrSocket(MyLatch,
							   WL_SOCKET_READABLE | WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							   fd, retention_more ? 0 : 1000, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
	}
}

/* Between source transactions, with no local transaction open? */
bool
pgcdc_worker_is_idle(void)
{
	return !local_xact_open && !in_remote_xact;
}

/* The last stream position received. */
XLogRecPtr
pgcdc_worker_received_lsn(void)
{
	return last_received;
}

/* The last stream position published (every change before it is out). */
XLogRecPtr
pgcdc_worker_published_lsn(void)
{
	return last_published;
}

/*
 * Make the open local transaction (the caller's, in REPEATABLE READ) the
 * group of a snapshot taken at stream position lsn: its events carry this
 * transaction's xid and lsn - 1 as their position, and are marked as
 * snapshot events.  One byte before: every transaction published before
 * the snapshot ended at or before lsn (its commit lsn is a whole commit
 * record earlier), but the next one may commit exactly at lsn, and
 * (lsn, tx_index) must stay unique and in seq order (design §37).
 * Returns the transaction context the snapshot's events are built in.
 */
PgcdcTxContext *
pgcdc_worker_begin_snapshot_group(XLogRecPtr lsn)
{
	FullTransactionId fxid = GetTopFullTransactionId();

	Assert(IsTransactionState() && !local_xact_open && !in_remote_xact);
	begin_group();
	tx.snapshot = true;
	tx.tx_key = ++last_tx_key;
	tx_queued = false;
	tx.xid = XidFromFullTransactionId(fxid);
	tx.full_xid = U64FromFullTransactionId(fxid);
	Assert(lsn > 1);
	tx.commit_lsn = lsn - 1;
	last_snapshot_lsn = tx.commit_lsn;
	tx.commit_time = GetCurrentTimestamp();
	tx.received_at = tx.commit_time;
	tx.tx_index = 0;
	return &tx;
}

/*
 * Commit a snapshot's group, with the origin at origin_lsn (Invalid:
 * the origin stays where it is).  Returns the number of events written.
 */
int64
pgcdc_worker_end_snapshot_group(XLogRecPtr origin_lsn)
{
	int64		first = group_first_seq;

	Assert(local_xact_open && tx.snapshot);
	if (tx_queued)
		pgcdc_queue_end_tx(&tx, first, tx.tx_index);
	group_end = origin_lsn;
	group_commit_time = tx.commit_time;
	commit_group();
	tx.snapshot = false;
	return tx.last_seq - first + 1;
}

/* Connect, take the slot and stream until an error or a stop. */
static void
run_source(Oid dboid, const char *source_id)
{
	XLogRecPtr	startpos = InvalidXLogRecPtr;
	bool		needs_snapshot = false;
	bool		needs_resync = false;
	char	   *dbname;
	char	   *username;
	char	   *conninfo;
	char		appname[NAMEDATALEN + 16];

	if (!load_config(source_id, &startpos, &needs_snapshot, &needs_resync))
	{
		/* Dropped, paused, or the extension is gone: nothing to run. */
		LWLockAcquire(pgcdc_shared->lock, LW_EXCLUSIVE);
		MySource->desired = false;
		LWLockRelease(pgcdc_shared->lock);
		proc_exit(0);
	}

	StartTransactionCommand();
	dbname = MemoryContextStrdup(PgcdcWorkerContext, get_database_name(dboid));
	username = MemoryContextStrdup(PgcdcWorkerContext,
								   GetUserNameFromId(BOOTSTRAP_SUPERUSERID, false));
	CommitTransactionCommand();
	MemoryContextSwitchTo(PgcdcWorkerContext);

	conninfo = pgcdc_stream_conninfo(MySourceConfig->conninfo ? MySourceConfig->conninfo :
									 pgcdc_conninfo, dbname, username);
	relcache = pgcdc_relcache_create(MySourceConfig->source_id, MySourceConfig->owner,
									 PgcdcWorkerContext);
	pgcdc_relcache_set_numeric_as_string(relcache, MySourceConfig->numeric_as_string);
	tx.source_id = MySourceConfig->source_id;
	message_mcxt = AllocSetContextCreate(PgcdcWorkerContext, "pgcdc_drasi message",
										 ALLOCSET_DEFAULT_SIZES);

	pgcdc_shmem_set_state(MySource, PGCDC_STATE_CONNECTING);
	snprintf(appname, sizeof(appname), "pgcdc_drasi:%s", source_id);
	pgcdc_stream_check_failover(MySourceConfig->failover);
	MyStream = pgcdc_stream_connect(conninfo, appname);
	startpos = pgcdc_sync_prepare_start(startpos, needs_snapshot, needs_resync);
	pgcdc_stream_check_slot(MySourceConfig->source_id, MySourceConfig->slot_name);
	pgcdc_stream_set_slot_failover(MyStream, MySourceConfig->slot_name, MySourceConfig->failover);
	streaming_on = sink_allows_streaming();
	pgcdc_stream_start(MyStream, MySourceConfig->slot_name, MySourceConfig->publication,
					   startpos, streaming_on);

	streaming_started = true;
	last_recv_time = GetCurrentTimestamp();
	last_received = startpos;
	last_flushed = startpos;
	last_published = InvalidXLogRecPtr;
	publish_position(startpos);
	ereport(LOG,
			(errmsg("pgcdc_drasi source \"%s\" streaming publication \"%s\" from slot \"%s\" at %X/%X",
					source_id, MySourceConfig->publication, MySourceConfig->slot_name,
					LSN_FORMAT_ARGS(startpos))));

	stream_loop();
}

/* Detach from shared memory at exit, scheduling the next start. */
static void
source_on_exit(int code, Datum arg)
{
	pgcdc_shmem_release_locks();
	pgcdc_shmem_detach_source(MySource);
}

/*
 * At exit, before the open transaction is aborted: forget the source
 * position a commit was about to record.  PostgreSQL writes the session's
 * origin position into abort records too and moves the origin to it, so
 * a local commit that fails after the position was set (an ERROR or a
 * terminate while its commit waits for the NOTIFY lock, for instance)
 * would move the origin past source transactions whose events were
 * rolled back, and the next worker would start after them: lost.
 * Registered after the connection is made, so it runs before
 * PostgreSQL's own exit callback aborts the transaction.
 */
static void
source_forget_origin_position(int code, Datum arg)
{
	replorigin_session_origin = InvalidRepOriginId;
	replorigin_session_origin_lsn = InvalidXLogRecPtr;
	replorigin_session_origin_timestamp = 0;
}

/* Main of a source worker. */
void
pgcdc_source_main(Datum main_arg)
{
	Oid			dboid;
	char		source_id[NAMEDATALEN];
	ErrorContextCallback errcallback;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	PGCDC_FAULT("source_start");
	MySource = pgcdc_shmem_attach_source(DatumGetInt32(main_arg));
	if (MySource == NULL)
		proc_exit(0);
	/* The entry is ours now: only we change its id and database. */
	dboid = MySource->dboid;
	strlcpy(source_id, MySource->source_id, NAMEDATALEN);
	seen_config_generation = MySource->config_generation;
	before_shmem_exit(source_on_exit, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	before_shmem_exit(source_forget_origin_position, (Datum) 0);
	pgcdc_shmem_set_connected(MySource);

	PgcdcWorkerContext = AllocSetContextCreate(TopMemoryContext, "pgcdc_drasi source",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(PgcdcWorkerContext);

	/*
	 * Queue rows must be on disk before anyone can read them: every commit
	 * that publishes raises synchronous_commit to "local" for itself (see
	 * pgcdc_worker_require_durable_commit), so a reload cannot lower it.
	 */
	SetConfigOption("search_path", "", PGC_SUSET, PGC_S_OVERRIDE);
	pgcdc_pin_worker_settings();
	SetConfigOption("application_name", "pgcdc_drasi source", PGC_USERSET, PGC_S_OVERRIDE);
	pgstat_report_appname("pgcdc_drasi source");

	errcallback.callback = apply_error_callback;
	errcallback.arg = NULL;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	PG_TRY();
	{
		run_source(dboid, source_id);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		pgcdc_shmem_release_locks();
		MemoryContextSwitchTo(PgcdcWorkerContext);
		edata = CopyErrorData();
		pgcdc_shmem_record_error(MySource, edata->message, edata->detail, edata->hint,
								 edata->context);
		FlushErrorState();
		RESUME_INTERRUPTS();
		/* Let the bgworker machinery report it and exit with status 1. */
		ReThrowError(edata);
	}
	PG_END_TRY();
}
