/*-------------------------------------------------------------------------
 *
 * queue_read.c
 *		Reading queued events back, a batch at a time: for read() and
 *		get_events() (rows of the view pgcdc_drasi.events) and for the
 *		delivery workers of targets (seq and payload text).
 *
 * A batch is one query over the two queue tables that returns their rows
 * as they are stored: the transactions' values once, and each
 * queue_events row with its packed events (a small transaction's are in
 * its own row, design §39).  The events are unpacked and
 * their payloads built here, in C, with the same functions the view calls
 * through SQL (queue_row.c, sql_payload.c).  Unpacking in the query (a
 * set-returning function per row in a LATERAL join) would put every row's
 * events in a tuplestore first, and call _payload through the executor
 * once per event: for rows of one event that was most of a delivery
 * worker's time per event (design §36, §38).
 *
 * The queries run in the caller's snapshot, as the bootstrap superuser
 * with a pinned search_path (catalog.c's rules).
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/queue_read.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "catalog.h"
#include "queue_read.h"
#include "queue_row.h"
#include "sql_payload.h"

/* Columns of the view pgcdc_drasi.events, the row type of read(). */
#define EVENTS_NATTS 11

/*
 * An open read of the queue.  Each batch starts where the previous one
 * stopped: the transactions from the one holding the next seq on, a
 * batch of each one's events in tx_index order, through the primary keys
 * of both tables, so a reader never holds more than one batch in memory
 * nor reads more rows than it returns, however large a transaction is.
 */
struct PgcdcQueueCursor
{
	char	   *source_id;
	int64		next_seq;		/* the next seq to return */
	int64		last_seq;		/* the last seq of the range */
	int64		remaining;		/* events still to return at most */
	char	   *snapshot;		/* a late joiner's, or NULL */
	bool		done;
};

/*
 * The rows that hold the events of a source from seq $2 to $3, at most
 * $4, in seq order; with a snapshot $5, those of transactions and
 * snapshots it shows left out.  At most $4 + 1 transactions are read:
 * each has at least one event (a transaction row goes when its last event
 * goes), the first one perhaps none left at or after $2.  Of each, only
 * the rows that can hold its first $4 events from $2 on: the row holding
 * $2 (or its first), and those after it up to $4 - 1 events further (a
 * transaction the snapshot leaves out does not count, so the bound is per
 * transaction).  Every row holds an event in range except perhaps the
 * first (the end of a transaction before $2), so $4 + 1 rows are enough.
 * A small transaction's events are in its own row (t.events), and it has
 * no rows in queue_events: the lateral join is not even run for it.  A
 * transaction row whose events retention has all removed but itself not
 * yet (it goes in the next piece) gives no row, as before the join was
 * outer.
 */
#define QUEUE_READ_SQL \
	"SELECT t.first_seq, t.source_id, t.lsn, t.xid, t.commit_time, t.snapshot, " \
	"       coalesce(e.tx_index, 0), coalesce(t.events, e.events) FROM " \
	"  (SELECT * FROM pgcdc_drasi.queue_transactions t " \
	"   WHERE t.source_id = $1 AND t.first_seq <= $3 " \
	"   AND t.first_seq >= coalesce((SELECT max(t0.first_seq) FROM pgcdc_drasi.queue_transactions t0 " \
	"                                WHERE t0.source_id = $1 AND t0.first_seq <= $2), 0) " \
	"   AND ($5 IS NULL OR CASE WHEN t.snapshot IS NULL " \
	"        THEN NOT pg_visible_in_snapshot(t.xid, $5::pg_snapshot) " \
	"        ELSE NOT pgcdc_drasi._snapshot_within(t.snapshot, $5::pg_snapshot) END) " \
	"   ORDER BY t.first_seq LIMIT $4 + 1) t " \
	"LEFT JOIN LATERAL (SELECT e.tx_index, e.events FROM pgcdc_drasi.queue_events e " \
	"   WHERE t.events IS NULL AND e.source_id = t.source_id AND e.tx_key = t.tx_key " \
	"   AND e.tx_index >= CASE WHEN t.first_seq >= $2 THEN 0 " \
	"        ELSE coalesce((SELECT max(e0.tx_index) FROM pgcdc_drasi.queue_events e0 " \
	"                       WHERE e0.source_id = t.source_id AND e0.tx_key = t.tx_key " \
	"                       AND e0.tx_index <= $2 - t.first_seq), 0) END " \
	"   AND e.tx_index <= least($3 - t.first_seq, greatest($2 - t.first_seq, 0) + ($4 - 1)) " \
	"   ORDER BY e.tx_index LIMIT $4) e ON true " \
	"WHERE t.events IS NOT NULL OR e.events IS NOT NULL " \
	"ORDER BY t.first_seq, e.tx_index LIMIT $4 + 1"

/* Columns of QUEUE_READ_SQL, from 1. */
enum
{
	COL_FIRST_SEQ = 1,
	COL_SOURCE_ID,
	COL_LSN,
	COL_XID,
	COL_COMMIT_TIME,
	COL_SNAPSHOT,
	COL_TX_INDEX,
	COL_EVENTS
};

/* The values of one row of QUEUE_READ_SQL. */
typedef struct QueueReadRow
{
	int64		first_seq;
	Datum		source_id;
	Datum		lsn;
	Datum		xid;
	Datum		commit_time;
	Datum		snapshot;
	bool		snapshot_null;
	int32		tx_index;
	bytea	   *events;
} QueueReadRow;

/*
 * The plan of QUEUE_READ_SQL, prepared once per process: a delivery
 * worker runs it for every batch, and planning it again each time cost
 * about a tenth of what running it costs.
 */
static SPIPlanPtr read_plan = NULL;

/* What a batch does with each event in range. */
typedef void (*QueueEventCallback) (const QueueReadRow *row, int64 seq, int32 tx_index,
									const PgcdcUnpackedEvent *ev, void *arg);

/* Start a read of seqs first_seq to last_seq, at most max_events. */
static PgcdcQueueCursor *
open_cursor(const char *source_id, int64 first_seq, int64 last_seq, int64 max_events,
			const char *snapshot)
{
	PgcdcQueueCursor *cursor = palloc0(sizeof(PgcdcQueueCursor));

	cursor->source_id = pstrdup(source_id);
	cursor->next_seq = Max(first_seq, 0);
	cursor->last_seq = last_seq;
	cursor->remaining = max_events;
	cursor->snapshot = snapshot ? pstrdup(snapshot) : NULL;
	cursor->done = (cursor->next_seq > last_seq || max_events <= 0);
	return cursor;
}

/* A column of an SPI result row that is never NULL. */
static Datum
column(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	Assert(!isnull);
	return d;
}

/*
 * Read the next batch of at most max events (SPI connected, as the
 * superuser) and call cb for each, in seq order, in a memory context
 * reset per event.  Returns how many events it found.
 */
static int64
fetch_batch(PgcdcQueueCursor *cursor, int max, QueueEventCallback cb, void *arg)
{
	Oid			argtypes[5] = {TEXTOID, INT8OID, INT8OID, INT8OID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int64		n = Min((int64) max, cursor->remaining);
	int64		found = 0;
	SPITupleTable *rows;
	MemoryContext event_mcxt;
	MemoryContext old;
	uint64		r;

	Assert(n > 0);

	/*
	 * No source numbers an event this high (seqs count from 1, one per
	 * event): stop here rather than let the query's bounds overflow.
	 */
	if (cursor->next_seq > PG_INT64_MAX / 2)
	{
		cursor->done = true;
		return 0;
	}
	values[0] = CStringGetTextDatum(cursor->source_id);
	values[1] = Int64GetDatum(cursor->next_seq);
	values[2] = Int64GetDatum(cursor->last_seq);
	values[3] = Int64GetDatum(n);
	if (cursor->snapshot != NULL)
		values[4] = CStringGetTextDatum(cursor->snapshot);
	else
		nulls[4] = 'n';
	if (read_plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(QUEUE_READ_SQL, 5, argtypes);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the read of pgcdc_drasi.queue_events: %s",
				 SPI_result_code_string(SPI_result));
		read_plan = plan;
	}
	if (SPI_execute_plan(read_plan, values, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pgcdc_drasi.queue_events");
	rows = SPI_tuptable;

	event_mcxt = AllocSetContextCreate(CurrentMemoryContext, "pgcdc_drasi queue read event",
									   ALLOCSET_DEFAULT_SIZES);
	for (r = 0; r < SPI_processed && found < n; r++)
	{
		HeapTuple	tup = rows->vals[r];
		QueueReadRow row;
		const char *p;
		const char *end;
		Datum		d;
		int32		k;

		CHECK_FOR_INTERRUPTS();
		row.first_seq = DatumGetInt64(column(tup, rows->tupdesc, COL_FIRST_SEQ));
		row.source_id = column(tup, rows->tupdesc, COL_SOURCE_ID);
		row.lsn = column(tup, rows->tupdesc, COL_LSN);
		row.xid = column(tup, rows->tupdesc, COL_XID);
		row.commit_time = column(tup, rows->tupdesc, COL_COMMIT_TIME);
		row.snapshot = SPI_getbinval(tup, rows->tupdesc, COL_SNAPSHOT, &row.snapshot_null);
		row.tx_index = DatumGetInt32(column(tup, rows->tupdesc, COL_TX_INDEX));
		/* an event too large for a row of its own is in TOAST */
		d = column(tup, rows->tupdesc, COL_EVENTS);
		row.events = DatumGetByteaPP(d);

		p = VARDATA_ANY(row.events);
		end = p + VARSIZE_ANY_EXHDR(row.events);
		for (k = 0; p < end && found < n; k++)
		{
			PgcdcUnpackedEvent ev;
			int32		tx_index = row.tx_index + k;
			int64		seq = row.first_seq + tx_index;

			pgcdc_unpack_event(&p, end, &ev);
			if (seq < cursor->next_seq)
				continue;
			if (seq > cursor->last_seq)
				break;
			MemoryContextReset(event_mcxt);
			old = MemoryContextSwitchTo(event_mcxt);
			cb(&row, seq, tx_index, &ev, arg);
			MemoryContextSwitchTo(old);
			cursor->next_seq = seq + 1;
			found++;
		}
		if ((Pointer) row.events != DatumGetPointer(d))
			pfree(row.events);
	}
	MemoryContextDelete(event_mcxt);
	SPI_freetuptable(rows);

	cursor->remaining -= found;
	if (found < n || cursor->remaining <= 0 || cursor->next_seq > cursor->last_seq)
		cursor->done = true;
	return found;
}

/* The values of an event's payload, from its row (in the current context). */
static void
payload_input(PgcdcPayloadInput *in, const QueueReadRow *row, int64 seq, int32 tx_index,
			  const PgcdcUnpackedEvent *ev)
{
	text	   *source_id = DatumGetTextPP(row->source_id);

	memset(in, 0, sizeof(PgcdcPayloadInput));

	in->op = &ev->op;
	in->op_len = 1;
	in->label = ev->label;
	in->label_len = ev->label_len;
	in->element_id = ev->element_id;
	in->element_id_len = ev->element_id_len;
	in->body = pgcdc_unpacked_jsonb(ev->body, ev->body_len);
	if (ev->unavailable != NULL)
		in->unavailable = pgcdc_unpacked_jsonb(ev->unavailable, ev->unavailable_len);
	in->source_id = VARDATA_ANY(source_id);
	in->source_id_len = VARSIZE_ANY_EXHDR(source_id);
	in->lsn = DatumGetLSN(row->lsn);
	in->commit_time = DatumGetTimestampTz(row->commit_time);
	in->seq = seq;
	in->xid = U64FromFullTransactionId(DatumGetFullTransactionId(row->xid));
	in->tx_index = tx_index;
	in->start_ns = ev->start_ns;
	in->end_ns = ev->end_ns;
	in->snapshot = !row->snapshot_null;
}

#ifdef USE_ASSERT_CHECKING
/*
 * Assert builds: the payload text the delivery workers send is what the
 * jsonb payload prints (pgcdc_payload_text writes it without building
 * the jsonb), for every event any reader builds.
 */
static void
check_payload_text(const PgcdcPayloadInput *in, Jsonb *payload, const char *text)
{
	char	   *want = payload ? JsonbToCString(NULL, &payload->root, VARSIZE(payload)) : NULL;
	StringInfoData got;

	if (want == NULL)
	{
		Jsonb	   *jb = pgcdc_payload_build(in);

		want = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	}
	if (text == NULL)
	{
		initStringInfo(&got);
		pgcdc_payload_text(&got, in);
		text = got.data;
	}
	if (strcmp(want, text) != 0)
		elog(ERROR, "payload text differs from the jsonb payload: \"%s\" against \"%s\"",
			 text, want);
}
#endif

/* The events of a source from first_seq to last_seq, in seq order. */
PgcdcQueueCursor *
pgcdc_queue_open_range(const char *source_id, int64 first_seq, int64 last_seq)
{
	return open_cursor(source_id, first_seq, last_seq, PG_INT64_MAX, NULL);
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
	return open_cursor(source_id, after_seq == PG_INT64_MAX ? after_seq : after_seq + 1,
					   PG_INT64_MAX, max_events, snapshot);
}

/* Where pgcdc_queue_fetch puts the rows it forms. */
typedef struct FetchRowsState
{
	TupleDesc	desc;
	MemoryContext mcxt;
	HeapTuple  *rows;
	int			n;
} FetchRowsState;

/* Form an event's row of the view pgcdc_drasi.events. */
static void
form_event_row(const QueueReadRow *row, int64 seq, int32 tx_index,
			   const PgcdcUnpackedEvent *ev, void *arg)
{
	FetchRowsState *state = arg;
	Datum		values[EVENTS_NATTS];
	bool		nulls[EVENTS_NATTS] = {0};
	MemoryContext old;
	PgcdcPayloadInput in;
	Jsonb	   *payload;

	values[0] = Int64GetDatum(seq);
	values[1] = row->source_id;
	values[2] = row->lsn;
	values[3] = row->xid;
	values[4] = Int32GetDatum(tx_index);
	values[5] = row->commit_time;
	values[6] = PointerGetDatum(cstring_to_text_with_len(&ev->op, 1));
	values[7] = PointerGetDatum(cstring_to_text_with_len(ev->label, ev->label_len));
	if (ev->element_id != NULL)
		values[8] = PointerGetDatum(cstring_to_text_with_len(ev->element_id, ev->element_id_len));
	else
		nulls[8] = true;
	payload_input(&in, row, seq, tx_index, ev);
	payload = pgcdc_payload_build(&in);
#ifdef USE_ASSERT_CHECKING
	check_payload_text(&in, payload, NULL);
#endif
	values[9] = PointerGetDatum(payload);
	values[10] = row->snapshot;
	nulls[10] = row->snapshot_null;

	old = MemoryContextSwitchTo(state->mcxt);
	state->rows[state->n++] = heap_form_tuple(state->desc, values, nulls);
	MemoryContextSwitchTo(old);
}

/*
 * The next rows of a cursor, at most max, formed with desc (the row type
 * the SQL function returns: the view pgcdc_drasi.events) in mcxt.
 * Returns how many; fewer than max means the cursor is exhausted.
 */
int
pgcdc_queue_fetch(PgcdcQueueCursor *cursor, TupleDesc desc, MemoryContext mcxt,
				  HeapTuple *rows, int max)
{
	PgcdcCatalogAccess access;
	FetchRowsState state;

	Assert(max > 0);
	if (cursor->done)
		return 0;
	if (desc->natts != EVENTS_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("view pgcdc_drasi.events does not have the expected columns"),
				 errhint("Update the extension with ALTER EXTENSION pgcdc_drasi UPDATE.")));
	state.desc = desc;
	state.mcxt = mcxt;
	state.rows = rows;
	state.n = 0;
	pgcdc_catalog_begin(&access);
	(void) fetch_batch(cursor, max, form_event_row, &state);
	pgcdc_catalog_end(&access);
	return state.n;
}

/* Where pgcdc_queue_fetch_payloads puts the payloads it builds. */
typedef struct FetchPayloadsState
{
	MemoryContext mcxt;
	int64	   *seqs;
	char	  **payloads;
	int			n;
} FetchPayloadsState;

/* Keep an event's seq and its payload as text (what jsonb's output would print). */
static void
keep_payload(const QueueReadRow *row, int64 seq, int32 tx_index,
			 const PgcdcUnpackedEvent *ev, void *arg)
{
	FetchPayloadsState *state = arg;
	PgcdcPayloadInput in;
	StringInfoData text;

	payload_input(&in, row, seq, tx_index, ev);
	initStringInfo(&text);
	pgcdc_payload_text(&text, &in);
#ifdef USE_ASSERT_CHECKING
	check_payload_text(&in, NULL, text.data);
#endif
	state->seqs[state->n] = seq;
	state->payloads[state->n++] = MemoryContextStrdup(state->mcxt, text.data);
}

/*
 * The next events of a cursor, at most max, as what a delivery worker
 * sends (target.c): their seqs and payload texts, allocated in mcxt.
 * Returns how many.
 */
int
pgcdc_queue_fetch_payloads(PgcdcQueueCursor *cursor, MemoryContext mcxt, int64 *seqs,
						   char **payloads, int max)
{
	PgcdcCatalogAccess access;
	FetchPayloadsState state;

	Assert(max > 0);
	if (cursor->done)
		return 0;
	state.mcxt = mcxt;
	state.seqs = seqs;
	state.payloads = payloads;
	state.n = 0;
	pgcdc_catalog_begin(&access);
	(void) fetch_batch(cursor, max, keep_payload, &state);
	pgcdc_catalog_end(&access);
	return state.n;
}

/* End a read. */
void
pgcdc_queue_close(PgcdcQueueCursor *cursor)
{
	cursor->done = true;
}
