/*-------------------------------------------------------------------------
 *
 * sink_queue.c
 *		The queue sink and the queue table pgcdc_drasi.events: batched
 *		inserts, retention, and reading events back for the SQL functions
 *		and the delivery workers of targets.
 *
 * Events are buffered and written with the heap's multi-insert, as COPY
 * does, then indexed.  The buffer holds at most pgcdc_drasi.batch_size
 * events, so memory stays flat however large a source transaction is:
 * the rows go to the table (inside the still open local transaction),
 * not to memory.  Triggers and rules on the queue table are not fired.
 *
 * This file is the only C code that touches pgcdc_drasi.events; the
 * configuration tables belong to catalog.c, whose access rules (bootstrap
 * superuser, pinned search_path) the statements here follow too.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sink_queue.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

#include "catalog.h"
#include "compat.h"
#include "mapping.h"
#include "pgcdc_drasi.h"
#include "sink_queue.h"

#define QUEUE_NATTS 11

/*
 * The buffer is also written once its payloads reach this many bytes, so
 * that events of many megabytes are not held a batch_size at a time.
 */
#define QUEUE_FLUSH_BYTES (4 * 1024 * 1024)

/* State of the queue for the current local transaction. */
typedef struct PgcdcQueue
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	BulkInsertState bistate;
	TupleDesc	desc;			/* private copy: slots outlive no pin */
	TupleTableSlot **slots;
	int			capacity;		/* length of slots */
	int			nslots;			/* allocated */
	int			nused;			/* filled, waiting for flush */
	Size		nbytes;			/* payload bytes of the filled slots */
	MemoryContext batch_mcxt;	/* values of the buffered rows */
} PgcdcQueue;

static PgcdcQueue queue;
static Oid	events_relid = InvalidOid;

/* Look up our relations once per process. */
static void
lookup_queue_relations(void)
{
	Oid			nsp;

	if (OidIsValid(events_relid))
		return;
	nsp = get_namespace_oid(PGCDC_SCHEMA_NAME, false);
	events_relid = get_relname_relid("events", nsp);
	if (!OidIsValid(events_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("queue table pgcdc_drasi.events does not exist"),
				 errhint("Re-create the extension pgcdc_drasi in this database.")));
}

static void queue_flush(void);

/*
 * Open the queue for a new local transaction.  The batch size is taken
 * once here: a reload of pgcdc_drasi.batch_size applies to the next
 * local transaction, never to the slots already allocated.
 */
static void
queue_begin(void)
{
	RangeTblEntry *rte;
	MemoryContext old;

	if (queue.rel != NULL)
		return;
	lookup_queue_relations();

	queue.batch_mcxt = AllocSetContextCreate(CurTransactionContext, "pgcdc_drasi queue batch",
											 ALLOCSET_DEFAULT_SIZES);

	queue.rel = table_open(events_relid, RowExclusiveLock);
	if (RelationGetDescr(queue.rel)->natts != QUEUE_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table pgcdc_drasi.events does not have the expected columns")));

	old = MemoryContextSwitchTo(CurTransactionContext);
	queue.estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = events_relid;
	rte->relkind = queue.rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	pgcdc_init_range_table(queue.estate, rte);
	queue.rri = makeNode(ResultRelInfo);
	InitResultRelInfo(queue.rri, queue.rel, 1, NULL, 0);
	ExecOpenIndices(queue.rri, false);
	queue.bistate = GetBulkInsertState();
	queue.desc = CreateTupleDescCopy(RelationGetDescr(queue.rel));
	queue.nslots = 0;
	queue.nused = 0;
	queue.capacity = pgcdc_batch_size;
	queue.slots = palloc0(sizeof(TupleTableSlot *) * queue.capacity);
	MemoryContextSwitchTo(old);
}

/*
 * Buffer one event of the open local transaction (opening the queue at
 * its first event); the buffer is written once it is full, in rows or in
 * bytes.
 */
void
pgcdc_queue_append(PgcdcTxContext *tx, PgcdcEvent *event)
{
	TupleTableSlot *slot;
	MemoryContext old;
	char		opstr[2] = {event->op, '\0'};

	Assert(IsTransactionState());
	if (queue.rel == NULL)
		queue_begin();
	if (queue.nused >= queue.capacity)
		queue_flush();
	Assert(queue.nused < queue.capacity);

	if (queue.nused >= queue.nslots)
	{
		old = MemoryContextSwitchTo(CurTransactionContext);
		queue.slots[queue.nslots++] = MakeSingleTupleTableSlot(queue.desc, &TTSOpsBufferHeapTuple);
		MemoryContextSwitchTo(old);
	}
	slot = queue.slots[queue.nused++];
	ExecClearTuple(slot);

	old = MemoryContextSwitchTo(queue.batch_mcxt);
	slot->tts_values[0] = Int64GetDatum(event->seq);
	slot->tts_values[1] = CStringGetTextDatum(tx->source_id);
	slot->tts_values[2] = LSNGetDatum(tx->commit_lsn);
	slot->tts_values[3] = FullTransactionIdGetDatum(FullTransactionIdFromU64(tx->full_xid));
	slot->tts_values[4] = Int32GetDatum(event->tx_index);
	slot->tts_values[5] = TimestampTzGetDatum(tx->commit_time);
	slot->tts_values[6] = CStringGetTextDatum(opstr);
	slot->tts_values[7] = CStringGetTextDatum(event->label);
	slot->tts_values[8] = event->element_id ? CStringGetTextDatum(event->element_id) : (Datum) 0;
	slot->tts_values[9] = PointerGetDatum(memcpy(palloc(VARSIZE(event->jsonb)), event->jsonb,
												 VARSIZE(event->jsonb)));
	slot->tts_values[10] = tx->snapshot ? tx->snapshot_datum : (Datum) 0;
	memset(slot->tts_isnull, 0, sizeof(bool) * QUEUE_NATTS);
	slot->tts_isnull[8] = (event->element_id == NULL);
	slot->tts_isnull[10] = !tx->snapshot;
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);

	queue.nbytes += VARSIZE(event->jsonb);
	if (queue.nbytes >= QUEUE_FLUSH_BYTES)
		queue_flush();
}

/* Write the buffered events to the heap and their index entries. */
static void
queue_flush(void)
{
	int			i;
	CommandId	cid;

	if (queue.rel == NULL || queue.nused == 0)
		return;

	PushActiveSnapshot(GetTransactionSnapshot());
	cid = GetCurrentCommandId(true);
	table_multi_insert(queue.rel, queue.slots, queue.nused, cid, 0, queue.bistate);
	for (i = 0; i < queue.nused; i++)
	{
		List	   *recheck;

		ResetPerTupleExprContext(queue.estate);
		recheck = pgcdc_insert_index_tuples(queue.rri, queue.slots[i], queue.estate);
		list_free(recheck);
		ExecClearTuple(queue.slots[i]);
	}
	PopActiveSnapshot();
	queue.nused = 0;
	queue.nbytes = 0;
	MemoryContextReset(queue.batch_mcxt);
}

/* Flush and close the queue before the local transaction commits. */
void
pgcdc_queue_end(void)
{
	int			i;

	if (queue.rel == NULL)
		return;
	queue_flush();
	for (i = 0; i < queue.nslots; i++)
		ExecDropSingleTupleTableSlot(queue.slots[i]);
	FreeBulkInsertState(queue.bistate);
	ExecCloseIndices(queue.rri);
	FreeExecutorState(queue.estate);
	table_close(queue.rel, NoLock);
	memset(&queue, 0, sizeof(queue));
}

/*
 * Remove up to batch queue rows of a source that nobody needs any more:
 * those every consumer has acknowledged or, for a source without
 * consumers, those older than retention_secs (-1: keep them).  Returns
 * true when there may be more to remove.
 *
 * Only rows every running transaction sees are removed (written before
 * the oldest xmin of the database): a consumer being created in a
 * transaction still open is invisible here, and with bootstrap it needs
 * every event its snapshot does not show, whatever the others
 * acknowledged meanwhile (docs/design.md, "Retention").
 */
bool
pgcdc_queue_trim(const char *source_id, int retention_secs, int batch)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[5] = {TEXTOID, INT8OID, INT4OID, INT4OID, XIDOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int64		min_acked;
	uint64		removed;
	Relation	rel;
	TransactionId horizon;

	if (!pgcdc_catalog_min_acked_seq(source_id, &min_acked))
	{
		if (retention_secs < 0)
			return false;
		nulls[1] = 'n';
	}
	values[0] = CStringGetTextDatum(source_id);
	values[1] = Int64GetDatum(min_acked);
	values[2] = Int32GetDatum(batch);
	values[3] = Int32GetDatum(retention_secs);

	lookup_queue_relations();
	rel = table_open(events_relid, AccessShareLock);
	horizon = GetOldestNonRemovableTransactionId(rel);
	table_close(rel, AccessShareLock);
	values[4] = TransactionIdGetDatum(horizon);

	pgcdc_catalog_begin(&access);
	if (SPI_execute_with_args(
							  "WITH first AS (SELECT seq FROM pgcdc_drasi.events WHERE source_id = $1 "
							  "               ORDER BY seq LIMIT $3), "
							  "cut AS (SELECT CASE WHEN $2 IS NOT NULL THEN $2 "
							  "               ELSE (SELECT max(e.seq) FROM pgcdc_drasi.events e "
							  "                     WHERE e.source_id = $1 AND e.seq <= (SELECT max(seq) FROM first) "
							  "                     AND e.commit_time < now() - make_interval(secs => $4)) "
							  "               END AS seq) "
							  "DELETE FROM pgcdc_drasi.events e USING cut "
							  "WHERE e.source_id = $1 AND e.seq <= cut.seq "
							  "AND e.seq <= (SELECT max(seq) FROM first) "
							  "AND pg_catalog.age(e.xmin) > pg_catalog.age($5)",
							  5, argtypes, values, nulls, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not remove old events");
	removed = SPI_processed;
	pgcdc_catalog_end(&access);
	return removed >= (uint64) batch;
}

/* The oldest queued seq of a source; false when its queue is empty. */
bool
pgcdc_queue_first_seq(const char *source_id, int64 *first_seq)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	Datum		d;

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	if (SPI_execute_with_args("SELECT min(seq) FROM pgcdc_drasi.events WHERE source_id = $1",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pgcdc_drasi.events");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	*first_seq = isnull ? 0 : DatumGetInt64(d);
	pgcdc_catalog_end(&access);
	return !isnull;
}

/* Remove every queued event of a (dropped) source. */
void
pgcdc_queue_purge(const char *source_id)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	if (SPI_execute_with_args("DELETE FROM pgcdc_drasi.events WHERE source_id = $1",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not remove the events of source \"%s\"", source_id);
	pgcdc_catalog_end(&access);
}

/*
 * An open read of the queue: a cursor, found again by its portal's name
 * for each batch (the portal lives until the transaction ends or it is
 * closed), so a reader never holds more than one batch in memory.
 */
struct PgcdcQueueCursor
{
	char		portal_name[NAMEDATALEN];
};

/* Open a cursor on a query of the queue, as the superuser like every access. */
static PgcdcQueueCursor *
open_cursor(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls)
{
	PgcdcQueueCursor *cursor = palloc0(sizeof(PgcdcQueueCursor));
	PgcdcCatalogAccess access;
	Portal		portal;

	pgcdc_catalog_begin(&access);
	portal = SPI_cursor_open_with_args(NULL, sql, nargs, argtypes, values, nulls, true,
									   CURSOR_OPT_FAST_PLAN | CURSOR_OPT_NO_SCROLL);
	if (portal == NULL)
		elog(ERROR, "could not read pgcdc_drasi.events");
	strlcpy(cursor->portal_name, portal->name, NAMEDATALEN);
	pgcdc_catalog_end(&access);
	return cursor;
}

/* The events of a source from first_seq to last_seq, in seq order. */
PgcdcQueueCursor *
pgcdc_queue_open_range(const char *source_id, int64 first_seq, int64 last_seq)
{
	Oid			argtypes[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(source_id);
	values[1] = Int64GetDatum(first_seq);
	values[2] = Int64GetDatum(last_seq);
	return open_cursor("SELECT e.* FROM pgcdc_drasi.events e "
					   "WHERE e.source_id = $1 AND e.seq >= $2 AND e.seq <= $3 ORDER BY e.seq",
					   3, argtypes, values, NULL);
}

/*
 * At most max_events events of a source after after_seq, in seq order.
 * With a snapshot (a late-joining consumer's), events that snapshot
 * already shows are left out: stream events of transactions visible in
 * it, and snapshot events of snapshots it contains.
 */
PgcdcQueueCursor *
pgcdc_queue_open_after(const char *source_id, int64 after_seq, int max_events,
					   const char *snapshot)
{
	Oid			argtypes[4] = {TEXTOID, INT8OID, INT4OID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	values[0] = CStringGetTextDatum(source_id);
	values[1] = Int64GetDatum(after_seq);
	values[2] = Int32GetDatum(max_events);
	if (snapshot != NULL)
		values[3] = CStringGetTextDatum(snapshot);
	else
		nulls[3] = 'n';
	return open_cursor("SELECT e.* FROM pgcdc_drasi.events e "
					   "WHERE e.source_id = $1 AND e.seq > $2 "
					   "AND ($4 IS NULL OR CASE WHEN e.snapshot IS NULL "
					   "     THEN NOT pg_visible_in_snapshot(e.xid, $4::pg_snapshot) "
					   "     ELSE NOT pgcdc_drasi._snapshot_within(e.snapshot, $4::pg_snapshot) END) "
					   "ORDER BY e.seq LIMIT $3",
					   4, argtypes, values, nulls);
}

/*
 * The next rows of a cursor, at most max, formed with desc (the row type
 * the SQL function returns) in mcxt.  Returns how many; fewer than max
 * means the cursor is exhausted.
 */
int
pgcdc_queue_fetch(PgcdcQueueCursor *cursor, TupleDesc desc, MemoryContext mcxt,
				  HeapTuple *rows, int max)
{
	PgcdcCatalogAccess access;
	Portal		portal = SPI_cursor_find(cursor->portal_name);
	MemoryContext old;
	Datum	   *values;
	bool	   *nulls;
	uint64		n;
	uint64		i;

	Assert(max > 0);
	if (portal == NULL)
		return 0;
	pgcdc_catalog_begin(&access);
	SPI_cursor_fetch(portal, true, max);
	n = SPI_processed;
	if (n > 0 && SPI_tuptable->tupdesc->natts != desc->natts)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table pgcdc_drasi.events does not have the expected columns"),
				 errhint("Update the extension with ALTER EXTENSION pgcdc_drasi UPDATE.")));
	old = MemoryContextSwitchTo(mcxt);
	values = palloc(sizeof(Datum) * Max(1, desc->natts));
	nulls = palloc(sizeof(bool) * Max(1, desc->natts));
	for (i = 0; i < n; i++)
	{
		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, nulls);
		rows[i] = heap_form_tuple(desc, values, nulls);
	}
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
	pgcdc_catalog_end(&access);
	return (int) n;
}

/*
 * At most max_events events of a source after after_seq, in seq order, as
 * (seq, payload text): what a delivery worker sends (target.c).
 */
PgcdcQueueCursor *
pgcdc_queue_open_payloads(const char *source_id, int64 after_seq, int max_events)
{
	Oid			argtypes[3] = {TEXTOID, INT8OID, INT4OID};
	Datum		values[3];

	Assert(max_events > 0);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = Int64GetDatum(after_seq);
	values[2] = Int32GetDatum(max_events);
	return open_cursor("SELECT e.seq, e.payload::pg_catalog.text FROM pgcdc_drasi.events e "
					   "WHERE e.source_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3",
					   3, argtypes, values, NULL);
}

/*
 * The next rows of a cursor of pgcdc_queue_open_payloads, at most max:
 * their seqs and payload texts, allocated in mcxt.  Returns how many.
 */
int
pgcdc_queue_fetch_payloads(PgcdcQueueCursor *cursor, MemoryContext mcxt, int64 *seqs,
						   char **payloads, int max)
{
	PgcdcCatalogAccess access;
	Portal		portal = SPI_cursor_find(cursor->portal_name);
	uint64		n;
	uint64		i;

	Assert(max > 0);
	if (portal == NULL)
		return 0;
	pgcdc_catalog_begin(&access);
	SPI_cursor_fetch(portal, true, max);
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		Datum		d;
		MemoryContext old;

		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull);
		Assert(!isnull);
		seqs[i] = DatumGetInt64(d);
		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull);
		Assert(!isnull);
		old = MemoryContextSwitchTo(mcxt);
		payloads[i] = TextDatumGetCString(d);
		MemoryContextSwitchTo(old);
	}
	SPI_freetuptable(SPI_tuptable);
	pgcdc_catalog_end(&access);
	return (int) n;
}

/* Close a cursor, unless the transaction's end already did. */
void
pgcdc_queue_close(PgcdcQueueCursor *cursor)
{
	Portal		portal = SPI_cursor_find(cursor->portal_name);

	if (portal != NULL)
		SPI_cursor_close(portal);
}
