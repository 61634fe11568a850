/*-------------------------------------------------------------------------
 *
 * snapshot_sync.c
 *		The snapshots a source worker takes of its tables: the initial
 *		snapshot with its exact hand-over to the stream, re-snapshots
 *		merged into the stream, and resyncs.
 *
 * INITIAL SNAPSHOT
 *
 * The worker creates the slot itself, exporting the snapshot of its
 * consistent point, reads every table of the publication in exactly that
 * snapshot as insert events, and commits them with the origin at the
 * consistent point.  Streaming then starts there, so every change is
 * either in the snapshot or in the stream, never both and never neither.
 *
 * RE-SNAPSHOTS
 *
 * resnapshot() and resync_source() leave a request that the worker takes
 * between two source transactions, in a snapshot of its own.  Stream
 * changes that snapshot already shows (transactions visible in it) are
 * skipped for its tables until the stream has passed every transaction
 * it could show; that skip state is kept with the source's progress, so
 * a restart in between skips the same.  docs/design.md ("Snapshots")
 * explains why visibility, not an LSN, decides.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/snapshot_sync.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "pgstat.h"
#include "replication/origin.h"
#include "replication/slot.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "compat.h"
#include "fault.h"
#include "mapping.h"
#include "proto.h"
#include "relation.h"
#include "shmem.h"
#include "snapshot.h"
#include "snapshot_sync.h"
#include "walstream.h"
#include "worker_internal.h"

/*
 * The last source transactions we published (their xids), to keep a
 * re-snapshot from starting while one of them still runs for snapshots.
 */
#define RECENT_XIDS 4096
static TransactionId recent_xids[RECENT_XIDS];
static int	recent_pos = 0;

/*
 * How long one attempt at a re-snapshot waits for the transactions that
 * keep it from starting, before the worker streams again for a while.
 */
#define RESNAPSHOT_WAIT_MS	30000
#define RESNAPSHOT_POLL_MS	100

/* Where a resync restarted the stream, until its snapshot commits. */
static XLogRecPtr resync_startpos = InvalidXLogRecPtr;

/* Look for snapshot requests at the next quiet moment. */
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

/* The transaction context of the snapshot being written. */
static PgcdcTxContext *snap_tx = NULL;

/* Publish one snapshot row as the insert event of that row. */
static void
snapshot_row(PgcdcRelCache *cache, Oid relid, LogicalRepTupleData *tup, void *arg)
{
	PgcdcMessage change;

	memset(&change, 0, sizeof(change));
	change.action = LOGICAL_REP_MSG_INSERT;
	change.relid = relid;
	change.newtup = *tup;
	pgcdc_map_change(cache, snap_tx, &change, pgcdc_worker_publish, NULL);
}

/* Emit a clearing event for a table before its re-snapshot rows. */
static void
snapshot_clear_table(PgcdcRelCache *cache, Oid relid)
{
	PgcdcMessage change;

	memset(&change, 0, sizeof(change));
	change.action = LOGICAL_REP_MSG_TRUNCATE;
	change.truncated = list_make1_oid(relid);
	pgcdc_map_change(cache, snap_tx, &change, pgcdc_worker_publish, NULL);
}

/* Show snapshot progress in the status view and pg_stat_activity. */
static void
report_snapshot_progress(PgcdcSnapshotScan *scan, const char *phase)
{
	Oid			relid;
	uint64		done;
	double		estimate;
	char	   *relname;

	pgcdc_snapshot_progress(scan, &relid, &done, &estimate);
	relname = OidIsValid(relid) ? get_rel_name(relid) : NULL;
	pgcdc_shmem_set_snapshot_progress(MySource, relname, done,
									  (uint64) Max(estimate, (double) done));
	pgcdc_worker_set_error_phase(phase, relname);
	if (relname)
		pgstat_report_activity(STATE_RUNNING,
							   psprintf("snapshot of table %s: " UINT64_FORMAT " of about %.0f rows",
										relname, done, Max(estimate, (double) done)));
}

/*
 * Write a snapshot of the source's tables (all, or those in relids) as
 * insert events of the open local transaction, in its snapshot; with
 * clear_first, a 't' event per table comes before its rows (re-snapshots
 * replace a table's state).  The rows stream through a cursor.  Returns
 * the tables it read (allocated in the worker's context).
 */
static List *
write_snapshot(const char *phase, List *relids, bool clear_first)
{
	List	   *tables;
	MemoryContext old;
	PgcdcRelCache *snapcache;
	PgcdcSnapshotScan *scan;
	int			nestlevel;
	ListCell   *lc;

	Assert(snap_tx != NULL && snap_tx->snapshot);
	pgcdc_worker_set_error_phase(phase, NULL);
	snap_tx->snapshot_datum = DirectFunctionCall1(pg_current_snapshot, (Datum) 0);
	snapcache = pgcdc_relcache_create(MySourceConfig->source_id, MySourceConfig->owner,
									  PgcdcWorkerContext);
	pgcdc_relcache_set_numeric_as_string(snapcache, MySourceConfig->numeric_as_string);
	scan = pgcdc_snapshot_begin(snapcache, MySourceConfig->publication, NIL, relids);
	old = MemoryContextSwitchTo(PgcdcWorkerContext);
	tables = list_copy(pgcdc_snapshot_relids(scan));
	MemoryContextSwitchTo(old);
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
		report_snapshot_progress(scan, phase);
		if (n == 0)
			break;
		/* The stream waits meanwhile: keep its server from timing out. */
		pgcdc_worker_keepalive();
	}
	pgcdc_snapshot_end(scan);
	pgcdc_worker_keepalive();
	AtEOXact_GUC(true, nestlevel);
	/* Events hold copies of everything they need: the cache can go. */
	MemoryContextDelete(pgcdc_relcache_context(snapcache));
	return tables;
}

/* The snapshot is written: nothing to report any more. */
static void
end_snapshot_report(void)
{
	pgcdc_shmem_set_snapshot_progress(MySource, NULL, 0, 0);
	pgcdc_worker_set_error_phase(NULL, NULL);
}

/*
 * The initial snapshot: create the slot, exporting the snapshot of its
 * consistent point; read every table of the publication in exactly that
 * snapshot, as insert events; commit them with the origin at the
 * consistent point.  If the worker dies before the commit, the slot (of
 * which nothing was consumed) is dropped and the whole snapshot taken
 * again.  Returns where streaming starts.
 */
static XLogRecPtr
take_initial_snapshot(void)
{
	XLogRecPtr	lsn = InvalidXLogRecPtr;
	XLogRecPtr	recorded;
	char	   *snapshot_name;
	bool		slot_exists;
	bool		ours;
	int64		nevents;
	MemoryContext mcxt = CurrentMemoryContext;

	pgcdc_shmem_set_state(MySource, PGCDC_STATE_SNAPSHOT);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	recorded = pgcdc_catalog_get_slot_lsn(MySourceConfig->source_id);
	CommitTransactionCommand();
	MemoryContextSwitchTo(mcxt);
	ours = pgcdc_stream_slot_is_ours(MySourceConfig->slot_name, recorded, &slot_exists);
	if (slot_exists && !ours)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("replication slot \"%s\" is used by another consumer",
						MySourceConfig->slot_name),
				 errdetail("Source \"%s\" did not create the slot of that name, and needs a new slot for its initial snapshot.",
						   MySourceConfig->source_id),
				 errhint("Drop the source and create it again with another slot_name.")));
	if (slot_exists)
	{
		ereport(LOG,
				(errmsg("pgcdc_drasi source \"%s\" drops slot \"%s\" of an unfinished initial snapshot",
						MySourceConfig->source_id, MySourceConfig->slot_name)));
		pgcdc_stream_drop_slot(MyStream, MySourceConfig->slot_name);
	}

	/*
	 * Record the slot as ours before making it, in a transaction of its own,
	 * so that a next attempt may drop it if this one fails: the slot's
	 * confirmed position will not be below the current end of WAL.  (After
	 * the slot is made would be too late: the snapshot it exports could not
	 * update the row again.)  The snapshot's commit records the exact
	 * position.
	 */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgcdc_catalog_save_slot_lsn(MySourceConfig->source_id, GetXLogInsertRecPtr());
	CommitTransactionCommand();
	MemoryContextSwitchTo(mcxt);

	pgstat_report_activity(STATE_RUNNING, "creating replication slot");
	snapshot_name = pgcdc_stream_create_slot(MyStream, MySourceConfig->slot_name,
											 MySourceConfig->failover, &lsn);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	XactIsoLevel = XACT_REPEATABLE_READ;
	ImportSnapshot(snapshot_name);
	snap_tx = pgcdc_worker_begin_snapshot_group(lsn);

	PushActiveSnapshot(GetTransactionSnapshot());
	(void) write_snapshot("its initial snapshot", NIL, false);
	pgcdc_catalog_save_snapshot_lsn(MySourceConfig->source_id, lsn);
	pgcdc_catalog_save_slot_lsn(MySourceConfig->source_id, lsn);
	PopActiveSnapshot();

	nevents = pgcdc_worker_end_snapshot_group(lsn);
	snap_tx = NULL;
	end_snapshot_report();
	ereport(LOG,
			(errmsg("pgcdc_drasi source \"%s\" took its initial snapshot at %X/%X: " INT64_FORMAT " events",
					MySourceConfig->source_id, LSN_FORMAT_ARGS(lsn), nevents)));
	return lsn;
}

/*
 * Decide where streaming starts, from the origin's position: after the
 * initial snapshot, when the source still needs one; at the current end
 * of WAL for a resync (resync_source), past whatever cannot be decoded,
 * the re-snapshot queued with the request carrying the effect of what is
 * skipped; otherwise at the origin.
 */
XLogRecPtr
pgcdc_sync_prepare_start(XLogRecPtr origin_lsn, bool needs_snapshot, bool needs_resync)
{
	XLogRecPtr	startpos = origin_lsn;

	if (needs_snapshot)
	{
		startpos = take_initial_snapshot();
		pgcdc_shmem_set_state(MySource, PGCDC_STATE_CONNECTING);
	}
	else if (needs_resync)
	{
		startpos = GetXLogInsertRecPtr();
		XLogFlush(startpos);
		resync_startpos = startpos;
		ereport(LOG,
				(errmsg("pgcdc_drasi source \"%s\" resyncs: skipping WAL from %X/%X to %X/%X",
						MySourceConfig->source_id, LSN_FORMAT_ARGS(origin_lsn),
						LSN_FORMAT_ARGS(startpos))));
	}
	return startpos;
}

/* Take in a snapshot in pg_snapshot's text form, xmin:xmax:xip,... */
static void
set_skip_snapshot(const char *text, List *relids, XLogRecPtr until)
{
	const char *p = text;
	char	   *end;
	MemoryContext old = MemoryContextSwitchTo(PgcdcWorkerContext);

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

/* Take up a re-snapshot's skip state recorded before a restart. */
void
pgcdc_sync_restore(const PgcdcSourceProgress *progress)
{
	if (progress->resnapshot != NULL)
		set_skip_snapshot(progress->resnapshot, progress->resnapshot_relids,
						  progress->resnapshot_until);
}

/* Remember a source transaction we published events of. */
void
pgcdc_sync_note_published(TransactionId xid)
{
	recent_xids[recent_pos] = xid;
	recent_pos = (recent_pos + 1) % RECENT_XIDS;
}

/*
 * Does the re-snapshot being merged with the stream already show the
 * changes of source transaction full_xid to relid?  Decided by the
 * transaction's visibility in the snapshot, never by an LSN: a
 * transaction is visible if it committed before the snapshot was taken.
 */
bool
pgcdc_sync_shows_change(Oid relid, uint64 full_xid)
{
	int			i;

	if (!skip.active)
		return false;
	if (skip.relids != NIL && !list_member_oid(skip.relids, relid))
		return false;
	if (full_xid < skip.xmin)
		return true;
	if (full_xid >= skip.xmax)
		return false;
	for (i = 0; i < skip.nxip; i++)
		if (skip.xip[i] == full_xid)
			return false;
	return true;
}

/* The configuration changed: look for snapshot requests again. */
void
pgcdc_sync_request_check(void)
{
	check_requests = true;
}

/*
 * Once the stream has passed every transaction a re-snapshot could show,
 * stop checking and forget it (in the same table as our progress).
 */
static void
maybe_finish_resnapshot(void)
{
	XLogRecPtr	published = pgcdc_worker_published_lsn();

	if (!skip.active || !pgcdc_worker_is_idle() || published <= skip.until)
		return;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgcdc_catalog_save_resnapshot(MySourceConfig->source_id, NULL, NIL, InvalidXLogRecPtr);

	/*
	 * Transactions skipped for the snapshot wrote nothing, so the origin may
	 * still be before them; without the skip state a restart from there would
	 * publish them again.  Everything up to the published position is done:
	 * record it in the same commit that forgets the state.
	 */
	replorigin_session_origin_lsn = published;
	replorigin_session_origin_timestamp = GetCurrentTimestamp();
	pgcdc_worker_require_durable_commit();
	CommitTransactionCommand();
	replorigin_session_origin_lsn = InvalidXLogRecPtr;
	replorigin_session_origin_timestamp = 0;
	MemoryContextSwitchTo(PgcdcWorkerContext);
	skip.active = false;
}

/*
 * A transaction can be committed (and already published by us) while
 * still running for snapshots, between its commit record and leaving the
 * ProcArray.  A re-snapshot must show everything already published, so
 * it is not taken while its snapshot still lists such a transaction as
 * running: committed in clog, or among the transactions we published
 * lately (clog is set a moment after the commit record the walsender may
 * already have sent).  Returns the first such transaction the snapshot
 * lists, or InvalidTransactionId when it can be used.
 */
static TransactionId
resnapshot_blocker(Snapshot snap)
{
	uint32		i;

	for (i = 0; i < snap->xcnt; i++)
	{
		int			j;

		for (j = 0; j < RECENT_XIDS; j++)
			if (recent_xids[j] == snap->xip[i])
				return snap->xip[i];
		if (TransactionIdDidCommit(snap->xip[i]))
			return snap->xip[i];
	}
	return InvalidTransactionId;
}

/*
 * Wait until transaction xid has ended (left the proc array: its lock is
 * released only then), for at most RESNAPSHOT_WAIT_MS, showing what we
 * wait for in the status view.  The stream is not read meanwhile, so the
 * worker publishes nothing new: once the transactions a snapshot showed
 * as running are gone, the next snapshot cannot list one the worker has
 * already published.  Returns false when the time is up.
 */
static bool
wait_for_blocker(TransactionId xid)
{
	TimestampTz start = GetCurrentTimestamp();
	char		what[128];
	bool		done;

	snprintf(what, sizeof(what),
			 "transaction %u to end (committed, still running) before a re-snapshot", xid);
	pgcdc_shmem_set_waiting(MySource, what);
	pgstat_report_activity(STATE_RUNNING, what);
	for (;;)
	{
		int			rc;

		CHECK_FOR_INTERRUPTS();
		StartTransactionCommand();
		done = pgcdc_xact_ended(xid);
		CommitTransactionCommand();
		MemoryContextSwitchTo(PgcdcWorkerContext);
		if (done ||
			TimestampDifferenceExceeds(start, GetCurrentTimestamp(), RESNAPSHOT_WAIT_MS))
			break;
		pgcdc_worker_exit_if_not_wanted();
		pgcdc_worker_keepalive();
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   RESNAPSHOT_POLL_MS, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
	}
	if (done)
		pgcdc_shmem_set_waiting(MySource, NULL);
	pgstat_report_activity(STATE_IDLE, NULL);
	return done;
}

/*
 * Take a re-snapshot asked for with resnapshot() or resync_source(),
 * between two source transactions.  For each table: a "t" event
 * (consumers clear the label), then an insert event per row, all marked
 * as snapshot events; then the skip state is recorded with the events.
 */
static void
maybe_run_resnapshot(void)
{
	List	   *relids = NIL;
	List	   *tables;
	char	   *snaptext;
	XLogRecPtr	until;
	int64		nevents;
	TransactionId blocker;

	if (!check_requests || !pgcdc_worker_is_idle() || skip.active)
		return;
	check_requests = false;

	for (;;)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		XactIsoLevel = XACT_REPEATABLE_READ;
		PushActiveSnapshot(GetTransactionSnapshot());
		blocker = resnapshot_blocker(GetActiveSnapshot());
		if (!TransactionIdIsValid(blocker))
			break;

		/*
		 * Wait for it to end rather than take snapshots until one happens to
		 * list none (which may never happen while a synchronous standby holds
		 * commits); after a while go back to the stream and retry.
		 */
		PopActiveSnapshot();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(PgcdcWorkerContext);
		if (!wait_for_blocker(blocker))
		{
			check_requests = true;
			return;
		}
	}
	pgcdc_shmem_set_waiting(MySource, NULL);

	if (!pgcdc_catalog_claim_snapshot_requests(MySourceConfig->source_id, &relids))
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(PgcdcWorkerContext);
		return;
	}
	snaptext = MemoryContextStrdup(PgcdcWorkerContext,
								   DatumGetCString(DirectFunctionCall1(pg_snapshot_out,
																	   DirectFunctionCall1(pg_current_snapshot, (Datum) 0))));
	until = GetXLogInsertRecPtr();

	pgcdc_shmem_set_state(MySource, PGCDC_STATE_SNAPSHOT);
	snap_tx = pgcdc_worker_begin_snapshot_group(pgcdc_worker_received_lsn());
	tables = write_snapshot("a re-snapshot", relids, true);

	/*
	 * The skip state names the tables the snapshot read, even when all were
	 * asked for: a table that left the publication before the snapshot is not
	 * in it, so the stream's earlier changes to it must still go out.
	 */
	if (tables != NIL)
	{
		pgcdc_catalog_save_resnapshot(MySourceConfig->source_id, snaptext, tables, until);
		set_skip_snapshot(snaptext, tables, until);
	}
	PopActiveSnapshot();
	list_free(tables);
	pfree(snaptext);

	/*
	 * The origin stays where the stream is, except after a resync: the
	 * snapshot's commit must also record that the stream restarted past the
	 * WAL that could not be decoded (the origin never moves backwards).
	 */
	nevents = pgcdc_worker_end_snapshot_group(resync_startpos);
	snap_tx = NULL;
	resync_startpos = InvalidXLogRecPtr;
	/* Tests: the re-snapshot and its skip state are committed. */
	PGCDC_FAULT("resnapshot_taken");
	end_snapshot_report();
	pgcdc_shmem_set_state(MySource, PGCDC_STATE_STREAMING);
	ereport(LOG,
			(errmsg("pgcdc_drasi source \"%s\" took a re-snapshot: " INT64_FORMAT " events",
					MySourceConfig->source_id, nevents)));
}

/* What to do between source transactions: finish or start re-snapshots. */
void
pgcdc_sync_between_transactions(void)
{
	maybe_finish_resnapshot();
	maybe_run_resnapshot();
}
