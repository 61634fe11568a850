/*-------------------------------------------------------------------------
 *
 * sink_queue.c
 *		The queue sink and the queue tables behind pgcdc_drasi.events:
 *		batched inserts and retention (queue_read.c reads events back).
 *
 * Consecutive events of a transaction share a row of queue_events,
 * packed into one bytea (queue_row.c), so that a large transaction costs
 * one heap tuple and one index entry per many events; a small one keeps
 * its row of events in its queue_transactions row (design §39).  Rows
 * are buffered and written with the heap's multi-insert, as COPY does,
 * then indexed.  The buffer holds at most pgcdc_drasi.batch_size rows,
 * so memory stays flat however large a source transaction is: the rows go
 * to the table (inside the still open local transaction), not to memory.
 * Triggers and rules on the queue table are not fired.
 *
 * This file is the only C code that writes the queue tables (queue_read.c
 * only reads them); the configuration tables belong to catalog.c, whose
 * access rules (bootstrap superuser, pinned search_path) the statements
 * here follow too.
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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

#include "catalog.h"
#include "compat.h"
#include "mapping.h"
#include "pgcdc_drasi.h"
#include "queue_row.h"
#include "sink_queue.h"

#define QUEUE_NATTS 5			/* of queue_events */
#define QUEUE_TX_NATTS 9		/* of queue_transactions */

/*
 * A row of queue_events holds at most this many events, packed into at
 * most QUEUE_ROW_BYTES: with the row's other columns it stays under the
 * table's toast_tuple_target (4080), so that two rows fill a page and
 * none is compressed or moved to TOAST unless one event alone is larger.
 */
#define QUEUE_ROW_EVENTS 64
#define QUEUE_ROW_BYTES 3800

/*
 * The buffer is also written once its rows reach this many bytes, so that
 * events of many megabytes are not held a batch_size at a time.
 */
#define QUEUE_FLUSH_BYTES (4 * 1024 * 1024)

/*
 * SET list of an UPDATE of queue_events that keeps, of each row, the keep
 * events after its first skip (SQL expressions over the row's columns).
 */
#define QUEUE_SLICE_SET(skip, keep) \
	"tx_index = tx_index + " skip ", n_events = " keep ", " \
	"events = pgcdc_drasi._slice(events, " skip ", " keep ")"

/* A queue table opened for inserts by the worker. */
typedef struct PgcdcQueueRel
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleDesc	desc;			/* private copy: slots outlive no pin */
} PgcdcQueueRel;

/*
 * The row of queue_events being filled: consecutive events of one
 * transaction, packed (queue_row.c) into a bytea in the batch context.
 */
typedef struct PgcdcQueueRow
{
	const char *source_id;
	int64		tx_key;
	int			first_index;	/* tx_index of its first event */
	int			n;				/* events so far */
	StringInfoData buf;			/* varlena header, then the entries */
} PgcdcQueueRow;

/* State of the queue for the current local transaction. */
typedef struct PgcdcQueue
{
	PgcdcQueueRel events;
	PgcdcQueueRel transactions;
	BulkInsertState bistate;	/* of queue_events */
	TupleTableSlot **slots;		/* rows of queue_events */
	TupleTableSlot **tx_slots;	/* rows of queue_transactions */
	int			capacity;		/* length of slots and of tx_slots */
	int			nslots;			/* allocated */
	int			nused;			/* filled, waiting for flush */
	int			tx_nslots;		/* the same for tx_slots */
	int			tx_nused;
	Size		nbytes;			/* bytes of the filled slots */
	Size		tx_nbytes;		/* events held in the filled tx_slots */
	MemoryContext batch_mcxt;	/* values of the buffered rows */
	MemoryContext event_mcxt;	/* one event's values until it is packed */
	PgcdcQueueRow row;			/* the row being filled */
} PgcdcQueue;

static PgcdcQueue queue;
static Oid	events_relid = InvalidOid;
static Oid	transactions_relid = InvalidOid;

/* Look up our relations once per process. */
static void
lookup_queue_relations(void)
{
	Oid			nsp;

	if (OidIsValid(events_relid))
		return;
	nsp = get_namespace_oid(PGCDC_SCHEMA_NAME, false);
	transactions_relid = get_relname_relid("queue_transactions", nsp);
	events_relid = get_relname_relid("queue_events", nsp);
	if (!OidIsValid(events_relid) || !OidIsValid(transactions_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("queue tables pgcdc_drasi.queue_events and pgcdc_drasi.queue_transactions do not exist"),
				 errhint("Update the extension with ALTER EXTENSION pgcdc_drasi UPDATE.")));
}

/* Open one queue table, its indexes and an executor state to insert with. */
static void
open_queue_rel(PgcdcQueueRel *qr, Oid relid, int natts)
{
	RangeTblEntry *rte;

	qr->rel = table_open(relid, RowExclusiveLock);
	if (RelationGetDescr(qr->rel)->natts != natts)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table pgcdc_drasi.%s does not have the expected columns",
						RelationGetRelationName(qr->rel)),
				 errhint("Update the extension with ALTER EXTENSION pgcdc_drasi UPDATE.")));
	qr->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = qr->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	pgcdc_init_range_table(qr->estate, rte);
	qr->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(qr->rri, qr->rel, 1, NULL, 0);
	ExecOpenIndices(qr->rri, false);
	qr->desc = CreateTupleDescCopy(RelationGetDescr(qr->rel));
}

/* Close what open_queue_rel opened. */
static void
close_queue_rel(PgcdcQueueRel *qr)
{
	ExecCloseIndices(qr->rri);
	FreeExecutorState(qr->estate);
	table_close(qr->rel, NoLock);
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
	MemoryContext old;

	if (queue.events.rel != NULL)
		return;
	lookup_queue_relations();

	queue.batch_mcxt = AllocSetContextCreate(CurTransactionContext, "pgcdc_drasi queue batch",
											 ALLOCSET_DEFAULT_SIZES);
	queue.event_mcxt = AllocSetContextCreate(CurTransactionContext, "pgcdc_drasi queue event",
											 ALLOCSET_DEFAULT_SIZES);

	old = MemoryContextSwitchTo(CurTransactionContext);
	open_queue_rel(&queue.events, events_relid, QUEUE_NATTS);
	open_queue_rel(&queue.transactions, transactions_relid, QUEUE_TX_NATTS);
	queue.bistate = GetBulkInsertState();
	queue.nslots = 0;
	queue.nused = 0;
	queue.tx_nslots = 0;
	queue.tx_nused = 0;
	queue.capacity = Max(pgcdc_batch_size, 2);
	queue.slots = palloc0(sizeof(TupleTableSlot *) * queue.capacity);
	queue.tx_slots = palloc0(sizeof(TupleTableSlot *) * queue.capacity);
	queue.row.n = 0;
	MemoryContextSwitchTo(old);
}

/*
 * Form the row being filled into a slot of the buffer (pgcdc_queue_append
 * keeps one free for it).
 */
static void
queue_close_row(void)
{
	PgcdcQueueRow *row = &queue.row;
	TupleTableSlot *slot;
	MemoryContext old;

	if (row->n == 0)
		return;
	Assert(queue.nused < queue.capacity);
	if (queue.nused >= queue.nslots)
	{
		old = MemoryContextSwitchTo(CurTransactionContext);
		queue.slots[queue.nslots++] = MakeSingleTupleTableSlot(queue.events.desc,
															   &TTSOpsBufferHeapTuple);
		MemoryContextSwitchTo(old);
	}
	slot = queue.slots[queue.nused++];
	ExecClearTuple(slot);

	old = MemoryContextSwitchTo(queue.batch_mcxt);
	SET_VARSIZE(row->buf.data, row->buf.len);
	slot->tts_values[0] = Int64GetDatum(row->tx_key);
	slot->tts_values[1] = Int32GetDatum(row->first_index);
	slot->tts_values[2] = Int32GetDatum(row->n);
	slot->tts_values[3] = CStringGetTextDatum(row->source_id);
	slot->tts_values[4] = PointerGetDatum(row->buf.data);
	memset(slot->tts_isnull, 0, sizeof(bool) * QUEUE_NATTS);
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);

	queue.nbytes += row->buf.len;
	row->n = 0;
	row->buf.data = NULL;
}

/*
 * Buffer one event of the open local transaction (opening the queue at
 * its first event) in the row being filled; a new row starts with another
 * transaction, or when the row is full.  The row holds the event's own
 * values only (see pgcdc_map_event_body); its transaction's are written
 * once, by pgcdc_queue_end_tx.
 */
void
pgcdc_queue_append(PgcdcTxContext *tx, PgcdcEvent *event)
{
	PgcdcQueueRow *row = &queue.row;
	MemoryContext old;
	PgcdcPackedEvent ev;
	Size		nbytes;

	Assert(IsTransactionState());
	if (queue.events.rel == NULL)
		queue_begin();
	/* a full buffer is written (the row being filled ends early) */
	if (queue.nused >= queue.capacity - 1 || queue.nbytes >= QUEUE_FLUSH_BYTES)
		queue_flush();
	Assert(queue.nused < queue.capacity - 1);

	/*
	 * The event's body is built in a context of its own, reset at the next
	 * event: a buffer of rows holds many times batch_size events, whose
	 * temporary values must not stay until it is written.
	 */
	MemoryContextReset(queue.event_mcxt);
	old = MemoryContextSwitchTo(queue.event_mcxt);
	ev.op = event->op;
	ev.label = event->label;
	ev.element_id = event->element_id;
	ev.body = pgcdc_map_event_body(event, &ev.unavailable);
	ev.start_ns = event->start_ns;
	ev.end_ns = event->end_ns;
	nbytes = pgcdc_packed_event_size(&ev);

	if (row->n > 0 &&
		(row->tx_key != tx->tx_key || row->first_index + row->n != event->tx_index ||
		 row->n >= QUEUE_ROW_EVENTS || row->buf.len + nbytes > QUEUE_ROW_BYTES))
		queue_close_row();
	if (row->n == 0)
	{
		row->source_id = tx->source_id;
		row->tx_key = tx->tx_key;
		row->first_index = event->tx_index;
		/* the varlena header first; the buffer grows with the row */
		MemoryContextSwitchTo(queue.batch_mcxt);
		initStringInfo(&row->buf);
		appendStringInfoSpaces(&row->buf, VARHDRSZ);
	}
	pgcdc_pack_event(&row->buf, &ev);
	row->n++;
	MemoryContextSwitchTo(old);
}

static void queue_write_tx_rows(void);

/*
 * Buffer the row of a source transaction (or snapshot) whose events are
 * queued under tx->tx_key: n_events events from first_seq on.  This makes
 * them visible to readers once the local transaction commits.  The rows
 * are written with the heap's multi-insert, like the events' rows: a group
 * of one-event transactions would otherwise cost a heap insert (its WAL
 * record, its buffer lock) and a snapshot per event.
 *
 * When all of the transaction's events are in the row being filled (a
 * small transaction, the usual case), that row goes into the transaction
 * row itself (its column events) instead of queue_events: one heap tuple
 * and one index entry per transaction instead of two of each.
 */
void
pgcdc_queue_end_tx(PgcdcTxContext *tx, int64 first_seq, int n_events)
{
	PgcdcQueueRow *row = &queue.row;
	TupleTableSlot *slot;
	MemoryContext old;
	bool		inline_events;

	Assert(IsTransactionState() && n_events > 0);
	if (queue.events.rel == NULL)
		queue_begin();
	if (queue.tx_nused >= queue.capacity || queue.tx_nbytes >= QUEUE_FLUSH_BYTES)
		queue_write_tx_rows();
	if (queue.tx_nused >= queue.tx_nslots)
	{
		old = MemoryContextSwitchTo(CurTransactionContext);
		queue.tx_slots[queue.tx_nslots++] =
			MakeSingleTupleTableSlot(queue.transactions.desc, &TTSOpsHeapTuple);
		MemoryContextSwitchTo(old);
	}

	/*
	 * The row being filled holds every event of the transaction when it
	 * starts at its first and counts all of them: none of its events is in
	 * queue_events then (rows of a subtransaction aborted before are gone,
	 * pgcdc_queue_discard).
	 */
	inline_events = (row->n == n_events && row->tx_key == tx->tx_key && row->first_index == 0);
	Assert(!inline_events || strcmp(row->source_id, tx->source_id) == 0);

	slot = queue.tx_slots[queue.tx_nused++];
	ExecClearTuple(slot);
	slot->tts_values[0] = CStringGetTextDatum(tx->source_id);
	slot->tts_values[1] = Int64GetDatum(first_seq);
	slot->tts_values[2] = Int64GetDatum(tx->tx_key);
	slot->tts_values[3] = Int32GetDatum(n_events);
	slot->tts_values[4] = LSNGetDatum(tx->commit_lsn);
	slot->tts_values[5] = FullTransactionIdGetDatum(FullTransactionIdFromU64(tx->full_xid));
	slot->tts_values[6] = TimestampTzGetDatum(tx->commit_time);
	slot->tts_values[7] = tx->snapshot ? tx->snapshot_datum : (Datum) 0;
	memset(slot->tts_isnull, 0, sizeof(bool) * QUEUE_TX_NATTS);
	slot->tts_isnull[7] = !tx->snapshot;
	if (inline_events)
	{
		SET_VARSIZE(row->buf.data, row->buf.len);
		slot->tts_values[8] = PointerGetDatum(row->buf.data);
		queue.tx_nbytes += row->buf.len;
	}
	else
		slot->tts_isnull[8] = true;
	ExecStoreVirtualTuple(slot);
	/* a copy in the slot's own memory: the values go with the caller's */
	ExecMaterializeSlot(slot);

	if (inline_events)
	{
		/* the row's buffer is copied: it is not filled any further */
		pfree(row->buf.data);
		row->buf.data = NULL;
		row->n = 0;
	}
}

/*
 * Write n filled slots to a queue table with the heap's multi-insert, as
 * COPY does, then their index entries; the slots are cleared.
 */
static void
queue_insert_slots(PgcdcQueueRel *qr, TupleTableSlot **slots, int n,
				   BulkInsertState bistate)
{
	int			i;

	Assert(qr->rel != NULL && n > 0);
	PushActiveSnapshot(GetTransactionSnapshot());
	table_multi_insert(qr->rel, slots, n, GetCurrentCommandId(true), 0, bistate);
	for (i = 0; i < n; i++)
	{
		List	   *recheck;

		ResetPerTupleExprContext(qr->estate);
		recheck = pgcdc_insert_index_tuples(qr->rri, slots[i], qr->estate);
		list_free(recheck);
		ExecClearTuple(slots[i]);
	}
	PopActiveSnapshot();
}

/* Write the buffered transaction rows. */
static void
queue_write_tx_rows(void)
{
	if (queue.transactions.rel == NULL || queue.tx_nused == 0)
		return;
	queue_insert_slots(&queue.transactions, queue.tx_slots, queue.tx_nused, NULL);
	queue.tx_nused = 0;
	queue.tx_nbytes = 0;
}

/* Write the buffered event rows; their values go with the batch context. */
static void
queue_write_rows(void)
{
	Assert(queue.row.n == 0);
	if (queue.events.rel == NULL || queue.nused == 0)
		return;
	queue_insert_slots(&queue.events, queue.slots, queue.nused, queue.bistate);
	queue.nused = 0;
	queue.nbytes = 0;
	MemoryContextReset(queue.batch_mcxt);
}

/*
 * Write everything buffered, the row being filled and the transaction rows
 * too (statements of this local transaction that read the queue tables
 * come after this).
 */
static void
queue_flush(void)
{
	if (queue.events.rel == NULL)
		return;
	queue_close_row();
	queue_write_rows();
	queue_write_tx_rows();
}

/* Flush and close the queue before the local transaction commits. */
void
pgcdc_queue_end(void)
{
	int			i;

	if (queue.events.rel == NULL)
		return;
	queue_flush();
	for (i = 0; i < queue.nslots; i++)
		ExecDropSingleTupleTableSlot(queue.slots[i]);
	for (i = 0; i < queue.tx_nslots; i++)
		ExecDropSingleTupleTableSlot(queue.tx_slots[i]);
	FreeBulkInsertState(queue.bistate);
	close_queue_rel(&queue.events);
	close_queue_rel(&queue.transactions);
	memset(&queue, 0, sizeof(queue));
}

/*
 * Forget what an aborted local transaction left of the queue's state (its
 * memory and relations went with the transaction).
 */
void
pgcdc_queue_reset(void)
{
	memset(&queue, 0, sizeof(queue));
}

/*
 * Remove the queued events of a transaction that was never finished:
 * those of key tx_key from tx_index from_index on (a subtransaction's
 * abort), or, with tx_key < 0, every event without a transaction row (the
 * chunks of streamed transactions a restart will stream again).  Returns
 * the largest key in use, from which the worker numbers new ones.
 */
int64
pgcdc_queue_discard(const char *source_id, int64 tx_key, int from_index)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[3] = {TEXTOID, INT8OID, INT4OID};
	Datum		values[3];
	int64		max_key = 0;

	lookup_queue_relations();
	/* rows buffered in this local transaction go first */
	queue_flush();
	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	values[1] = Int64GetDatum(tx_key);
	values[2] = Int32GetDatum(from_index);
	if (tx_key >= 0)
	{
		/* the rows from from_index on, and the end of the row holding it */
		if (SPI_execute_with_args("DELETE FROM pgcdc_drasi.queue_events "
								  "WHERE source_id = $1 AND tx_key = $2 AND tx_index >= $3",
								  3, argtypes, values, NULL, false, 0) != SPI_OK_DELETE ||
			SPI_execute_with_args("UPDATE pgcdc_drasi.queue_events SET "
								  QUEUE_SLICE_SET("0", "($3 - tx_index)") " "
								  "WHERE source_id = $1 AND tx_key = $2 AND tx_index < $3 "
								  "AND tx_index + n_events > $3",
								  3, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not remove events of an aborted transaction");
	}
	else
	{
		bool		isnull;
		Datum		d;

		if (SPI_execute_with_args("DELETE FROM pgcdc_drasi.queue_events e WHERE e.source_id = $1 "
								  "AND NOT EXISTS (SELECT 1 FROM pgcdc_drasi.queue_transactions t "
								  "                WHERE t.source_id = $1 AND t.tx_key = e.tx_key)",
								  1, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not remove events of unfinished transactions");
		if (SPI_execute_with_args("SELECT max(tx_key) FROM pgcdc_drasi.queue_transactions "
								  "WHERE source_id = $1",
								  1, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read pgcdc_drasi.queue_transactions");
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		max_key = isnull ? 0 : DatumGetInt64(d);
	}
	pgcdc_catalog_end(&access);
	return max_key;
}

/* The number in the one row, one column of a count query. */
static uint64
count_of(SPITupleTable *tuptable)
{
	bool		isnull;
	Datum		d;

	Assert(tuptable != NULL && tuptable->numvals == 1);
	d = SPI_getbinval(tuptable->vals[0], tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : (uint64) DatumGetInt64(d);
}

/*
 * Remove up to batch queue events of a source that nobody needs any more:
 * those every consumer has acknowledged or, for a source without
 * consumers, those older than retention_secs (-1: keep them), and the
 * rows of the transactions they leave empty.  Returns the number of
 * events removed, and in *more whether a next call would find more to
 * remove now.  The work is proportional to batch, never to the length of
 * the queue: the worker calls this between messages of the stream
 * (worker.c, maybe_run_retention).
 *
 * Only rows every running transaction sees are removed (written before
 * the oldest xmin of the database): a consumer being created in a
 * transaction still open is invisible here, and with bootstrap it needs
 * every event its snapshot does not show, whatever the others
 * acknowledged meanwhile (docs/design.md, "Retention").
 */
uint64
pgcdc_queue_trim(const char *source_id, int retention_secs, int batch, bool *more)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[5] = {TEXTOID, INT8OID, INT4OID, INT4OID, XIDOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int64		min_acked;
	int64		cut;
	uint64		removed = 0;
	int			budget = batch;
	Relation	rel;
	TransactionId horizon;
	bool		isnull;
	Datum		d;
	SPITupleTable *txs;
	uint64		ntxs;
	Datum	   *full_keys;
	int64		full_first_seq = 0;
	int64		full_last_seq = 0;
	int			nfull = 0;
	int64		min_key = PG_INT64_MAX;
	int64		max_key = PG_INT64_MIN;
	int64		part_key = -1;
	int64		part_first = 0;
	int64		part_upto = 0;
	bool		part_whole = false;

	Assert(batch > 0);
	*more = false;
	if (!pgcdc_catalog_min_acked_seq(source_id, &min_acked))
	{
		if (retention_secs < 0)
			return 0;
		nulls[1] = 'n';
	}
	values[0] = CStringGetTextDatum(source_id);
	values[1] = Int64GetDatum(min_acked);
	values[2] = Int32GetDatum(batch);
	values[3] = Int32GetDatum(retention_secs);

	/*
	 * Index scans in key order only, whatever the statistics say: they lag
	 * behind a queue that grows by thousands of rows a second, and a plan
	 * made for the few rows they still count (a bitmap of every row of the
	 * source, then a sort) turns a piece of a millisecond into tens.  For
	 * this transaction alone.
	 */
	(void) set_config_option("enable_seqscan", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("enable_bitmapscan", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);

	lookup_queue_relations();
	rel = table_open(transactions_relid, AccessShareLock);
	horizon = GetOldestNonRemovableTransactionId(rel);
	table_close(rel, AccessShareLock);
	values[4] = TransactionIdGetDatum(horizon);

	pgcdc_catalog_begin(&access);
	/* the last seq to remove: acknowledged by all, or old enough */
	if (SPI_execute_with_args("SELECT CASE WHEN $2 IS NOT NULL THEN $2 "
							  "ELSE (SELECT max(t.first_seq + t.n_events - 1) "
							  "      FROM (SELECT * FROM pgcdc_drasi.queue_transactions "
							  "            WHERE source_id = $1 ORDER BY first_seq LIMIT $3) t "
							  "      WHERE t.commit_time < now() - make_interval(secs => $4)) END",
							  5, argtypes, values, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pgcdc_drasi.queue_transactions");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
	{
		pgcdc_catalog_end(&access);
		return 0;
	}
	cut = DatumGetInt64(d);
	values[1] = Int64GetDatum(cut);
	nulls[1] = ' ';

	/*
	 * The source's oldest transactions up to the cut (its primary key, in
	 * order).  Only those every running transaction sees: the walk stops at
	 * the first one that is not.
	 */
	if (SPI_execute_with_args("SELECT tx_key, first_seq, n_events, "
							  "       pg_catalog.age(xmin) > pg_catalog.age($5), events IS NOT NULL "
							  "FROM pgcdc_drasi.queue_transactions "
							  "WHERE source_id = $1 AND first_seq <= $2 "
							  "ORDER BY first_seq LIMIT $3",
							  5, argtypes, values, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pgcdc_drasi.queue_transactions");
	txs = SPI_tuptable;
	ntxs = SPI_processed;
	*more = (ntxs == (uint64) batch);
	full_keys = palloc(sizeof(Datum) * (ntxs + 1));
	for (uint64 i = 0; i < ntxs && budget > 0; i++)
	{
		HeapTuple	tup = txs->vals[i];
		int64		tx_key = DatumGetInt64(SPI_getbinval(tup, txs->tupdesc, 1, &isnull));
		int64		first = DatumGetInt64(SPI_getbinval(tup, txs->tupdesc, 2, &isnull));
		int32		n = DatumGetInt32(SPI_getbinval(tup, txs->tupdesc, 3, &isnull));
		int64		last = first + n - 1;
		bool		in_row = DatumGetBool(SPI_getbinval(tup, txs->tupdesc, 5, &isnull));

		if (!DatumGetBool(SPI_getbinval(tup, txs->tupdesc, 4, &isnull)))
		{
			*more = false;		/* not before the horizon moves */
			break;
		}

		/*
		 * A transaction holding its events in its row (at most a row of
		 * queue_events' worth) goes whole even past the budget: cutting it
		 * would mean moving its events to queue_events first.
		 */
		if (last <= cut && (n <= budget || in_row))
		{
			/* the whole transaction (what is left of it) */
			if (nfull == 0)
				full_first_seq = first;
			full_last_seq = first;
			full_keys[nfull++] = Int64GetDatum(tx_key);
			min_key = Min(min_key, tx_key);
			max_key = Max(max_key, tx_key);
			budget -= Max(n, 1);
			if (budget <= 0)
				*more = true;
			continue;
		}
		/* straddling the cut, or larger than what is left of the piece */
		*more = true;
		part_key = tx_key;
		part_first = first;
		part_upto = Min(last, cut);
		part_whole = (last <= cut);
		break;
	}

	/*
	 * Ranges, not only lists: the planner always makes a range on the second
	 * column of a primary key an index condition, whereas with statistics
	 * that lag behind the queue's growth it may scan all of a source's rows
	 * rather than probe an array of keys.
	 */
	if (nfull > 0)
	{
		Oid			fulltypes[4] = {TEXTOID, INT8OID, INT8OID, INT8ARRAYOID};
		Datum		fullvalues[4];

		fullvalues[0] = values[0];
		fullvalues[1] = Int64GetDatum(min_key);
		fullvalues[2] = Int64GetDatum(max_key);
		fullvalues[3] = PointerGetDatum(construct_array(full_keys, nfull, INT8OID, sizeof(int64),
														FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		if (SPI_execute_with_args("WITH d AS (DELETE FROM pgcdc_drasi.queue_events "
								  "  WHERE source_id = $1 AND tx_key BETWEEN $2 AND $3 "
								  "  AND tx_key = ANY ($4) RETURNING n_events) "
								  "SELECT coalesce(sum(n_events), 0)::bigint FROM d",
								  4, fulltypes, fullvalues, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not remove old events");
		removed += count_of(SPI_tuptable);

		/*
		 * The first nfull rows of the source: every row in between, with the
		 * events held in the rows themselves.
		 */
		fullvalues[1] = Int64GetDatum(full_first_seq);
		fullvalues[2] = Int64GetDatum(full_last_seq);
		if (SPI_execute_with_args("WITH d AS (DELETE FROM pgcdc_drasi.queue_transactions "
								  "  WHERE source_id = $1 AND first_seq BETWEEN $2 AND $3 "
								  "  RETURNING CASE WHEN events IS NULL THEN 0 ELSE n_events END AS n) "
								  "SELECT coalesce(sum(n), 0)::bigint FROM d",
								  3, fulltypes, fullvalues, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not remove old events");
		removed += count_of(SPI_tuptable);
	}
	if (part_key >= 0 && budget > 0)
	{
		Oid			parttypes[5] = {TEXTOID, INT8OID, INT4OID, INT4OID, INT8OID};
		Datum		partvalues[5];
		Oid			slicetypes[4] = {TEXTOID, INT8OID, INT4OID, INT4OID};
		Datum		slicevalues[4];
		uint64		part_removed;
		bool		left_before_cut = false;

		/*
		 * Its oldest rows that end at the cut, as many as the piece has left,
		 * then the events up to the cut of the row that holds it.
		 */
		partvalues[0] = values[0];
		partvalues[1] = Int64GetDatum(part_key);
		partvalues[2] = Int32GetDatum((int32) (part_upto - part_first));
		partvalues[3] = Int32GetDatum(budget);
		partvalues[4] = Int64GetDatum(part_first);

		/*
		 * Events held in the transaction row move to a row of queue_events
		 * first, where they can be cut like any other (the one transaction
		 * straddling the cut, so rarely).
		 */
		if (SPI_execute_with_args("INSERT INTO pgcdc_drasi.queue_events (tx_key, tx_index, n_events, source_id, events) "
								  "SELECT tx_key, 0, n_events, source_id, events "
								  "FROM pgcdc_drasi.queue_transactions "
								  "WHERE source_id = $1 AND first_seq = $5 AND events IS NOT NULL",
								  5, parttypes, partvalues, NULL, false, 0) != SPI_OK_INSERT ||
			(SPI_processed > 0 &&
			 SPI_execute_with_args("UPDATE pgcdc_drasi.queue_transactions SET events = NULL "
								   "WHERE source_id = $1 AND first_seq = $5",
								   5, parttypes, partvalues, NULL, false, 0) != SPI_OK_UPDATE))
			elog(ERROR, "could not remove old events");
		if (SPI_execute_with_args("WITH d AS (DELETE FROM pgcdc_drasi.queue_events "
								  "  WHERE source_id = $1 AND tx_key = $2 AND tx_index <= $3 "
								  "  AND tx_index + n_events - 1 <= $3 "
								  "  AND tx_index < (SELECT min(tx_index) FROM pgcdc_drasi.queue_events "
								  "                  WHERE source_id = $1 AND tx_key = $2) + $4 "
								  "  RETURNING n_events) "
								  "SELECT coalesce(sum(n_events), 0)::bigint FROM d",
								  4, parttypes, partvalues, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not remove old events");
		part_removed = count_of(SPI_tuptable);

		/*
		 * The first row left: if it ends at the cut too, the piece stopped
		 * before the cut; if it holds the cut, its events up to the cut go.
		 */
		if (SPI_execute_with_args("SELECT tx_index, n_events FROM pgcdc_drasi.queue_events "
								  "WHERE source_id = $1 AND tx_key = $2 ORDER BY tx_index LIMIT 1",
								  2, parttypes, partvalues, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read pgcdc_drasi.queue_events");
		if (SPI_processed > 0)
		{
			int32		first = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
															SPI_tuptable->tupdesc, 1, &isnull));
			int32		n = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 2, &isnull));
			int32		cut_index = (int32) (part_upto - part_first);

			if (first + n - 1 <= cut_index)
				left_before_cut = true;
			else if (first <= cut_index && part_removed < (uint64) budget)
			{
				slicevalues[0] = partvalues[0];
				slicevalues[1] = partvalues[1];
				slicevalues[2] = partvalues[2];
				slicevalues[3] = Int32GetDatum(first);
				if (SPI_execute_with_args("UPDATE pgcdc_drasi.queue_events SET "
										  QUEUE_SLICE_SET("($3 + 1 - tx_index)",
														  "(n_events - ($3 + 1 - tx_index))") " "
										  "WHERE source_id = $1 AND tx_key = $2 AND tx_index = $4",
										  4, slicetypes, slicevalues, NULL, false, 0) != SPI_OK_UPDATE)
					elog(ERROR, "could not remove old events");
				part_removed += cut_index + 1 - first;
			}
		}
		removed += part_removed;
		if (part_removed >= (uint64) budget || left_before_cut)
			*more = true;		/* more of it */
		else if (!part_whole)
			*more = false;		/* cut inside it: rest till it moves */
		/* all of it gone: its row too, and what follows may go next */
		else if (SPI_execute_with_args("DELETE FROM pgcdc_drasi.queue_transactions t "
									   "WHERE t.source_id = $1 AND t.first_seq = $5 "
									   "AND NOT EXISTS (SELECT 1 FROM pgcdc_drasi.queue_events e "
									   "                WHERE e.source_id = $1 AND e.tx_key = $2)",
									   5, parttypes, partvalues, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not remove old events");
	}
	pgcdc_catalog_end(&access);
	return removed;
}

/* The oldest queued seq of a source; false when its queue is empty. */
bool
pgcdc_queue_first_seq(const char *source_id, int64 *first_seq)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull = true;
	Datum		d;

	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(source_id);
	if (SPI_execute_with_args("SELECT t.first_seq + CASE WHEN t.events IS NOT NULL THEN 0 "
							  "  ELSE (SELECT e.tx_index FROM pgcdc_drasi.queue_events e "
							  "        WHERE e.source_id = $1 AND e.tx_key = t.tx_key "
							  "        ORDER BY e.tx_index LIMIT 1) END "
							  "FROM pgcdc_drasi.queue_transactions t "
							  "WHERE t.source_id = $1 ORDER BY t.first_seq LIMIT 1",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pgcdc_drasi.queue_transactions");
	if (SPI_processed > 0)
	{
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		*first_seq = isnull ? 0 : DatumGetInt64(d);
	}
	else
		*first_seq = 0;
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
	if (SPI_execute_with_args("DELETE FROM pgcdc_drasi.queue_events WHERE source_id = $1",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("DELETE FROM pgcdc_drasi.queue_transactions WHERE source_id = $1",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not remove the events of source \"%s\"", source_id);
	pgcdc_catalog_end(&access);
}
