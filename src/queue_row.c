/*-------------------------------------------------------------------------
 *
 * queue_row.c
 *		The packed events of a queue_events row (its bytea column events):
 *		packing them (the queue sink), taking them apart (the readers in C,
 *		queue_read.c, and _unpack, which the view pgcdc_drasi.events
 *		calls), and the SQL functions that cut them (_slice, for aborts and
 *		retention) and pack one (_pack, for the upgrade from 0.1 and the
 *		tests).
 *
 * A row holds consecutive events of one transaction, one entry each, one
 * after the other, nothing before the first:
 *
 *		op			1 byte ('i', 'u', 'd', 't')
 *		flags		1 byte (1: has an element id, 2: has unavailable)
 *		start_ns	8 bytes, end_ns 8 bytes (the server's byte order)
 *		label		varint length, bytes
 *		element id	varint length, bytes (if flag 1)
 *		body		varint length, the jsonb without its varlena header
 *		unavailable	varint length, the same (if flag 2)
 *
 * Lengths are unsigned LEB128 varints (one byte below 128).  Entries are
 * self-delimiting, so rows concatenate: a row of n events is the
 * concatenation of n entries.  Against one array per value the entry
 * costs no array header and no 4-byte varlena header per element: a row
 * of one event (the common case of small transactions) is not larger
 * than the columns it replaces.  The format belongs to the extension
 * version: an upgrade that changes it rewrites the rows.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/queue_row.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "queue_row.h"

PG_FUNCTION_INFO_V1(pgcdc_drasi_unpack);
PG_FUNCTION_INFO_V1(pgcdc_drasi_slice);
PG_FUNCTION_INFO_V1(pgcdc_drasi_pack);

#define ENTRY_HAS_ID 0x01
#define ENTRY_HAS_UNAVAILABLE 0x02
#define ENTRY_FIXED_BYTES (2 + 2 * sizeof(int64))

/* Bytes of a varint. */
static inline Size
varint_size(uint32 v)
{
	Size		n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

/* Append a varint. */
static inline void
put_varint(StringInfo buf, uint32 v)
{
	while (v >= 0x80)
	{
		appendStringInfoCharMacro(buf, (char) ((v & 0x7F) | 0x80));
		v >>= 7;
	}
	appendStringInfoCharMacro(buf, (char) v);
}

/* Append a length and that many bytes. */
static inline void
put_bytes(StringInfo buf, const char *data, Size len)
{
	Assert(len < PG_UINT32_MAX);
	put_varint(buf, (uint32) len);
	appendBinaryStringInfo(buf, data, (int) len);
}

/* The bytes one event takes in a row. */
Size
pgcdc_packed_event_size(const PgcdcPackedEvent *ev)
{
	Size		label_len = strlen(ev->label);
	Size		body_len = VARSIZE_ANY_EXHDR(ev->body);
	Size		n;

	n = ENTRY_FIXED_BYTES + varint_size(label_len) + label_len +
		varint_size(body_len) + body_len;
	if (ev->element_id != NULL)
	{
		Size		id_len = strlen(ev->element_id);

		n += varint_size(id_len) + id_len;
	}
	if (ev->unavailable != NULL)
	{
		Size		unavailable_len = VARSIZE_ANY_EXHDR(ev->unavailable);

		n += varint_size(unavailable_len) + unavailable_len;
	}
	return n;
}

/* Append one event's entry to a row being filled. */
void
pgcdc_pack_event(StringInfo buf, const PgcdcPackedEvent *ev)
{
	char		flags = 0;

	Assert(ev->label != NULL && ev->body != NULL);
	if (ev->element_id != NULL)
		flags |= ENTRY_HAS_ID;
	if (ev->unavailable != NULL)
		flags |= ENTRY_HAS_UNAVAILABLE;
	appendStringInfoCharMacro(buf, ev->op);
	appendStringInfoCharMacro(buf, flags);
	appendBinaryStringInfo(buf, (const char *) &ev->start_ns, sizeof(int64));
	appendBinaryStringInfo(buf, (const char *) &ev->end_ns, sizeof(int64));
	put_bytes(buf, ev->label, strlen(ev->label));
	if (ev->element_id != NULL)
		put_bytes(buf, ev->element_id, strlen(ev->element_id));
	put_bytes(buf, VARDATA_ANY(ev->body), VARSIZE_ANY_EXHDR(ev->body));
	if (ev->unavailable != NULL)
		put_bytes(buf, VARDATA_ANY(ev->unavailable), VARSIZE_ANY_EXHDR(ev->unavailable));
}

/* The error for a row that is not a sequence of entries. */
static void
report_corrupted(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid packed events in pgcdc_drasi.queue_events"),
			 errdetail("An entry runs past the end of the row.")));
}

/* Read a varint at *p, not past end. */
static uint32
get_varint(const char **p, const char *end)
{
	uint32		v = 0;
	int			shift = 0;

	for (;;)
	{
		unsigned char c;

		if (*p >= end || shift > 28)
			report_corrupted();
		c = (unsigned char) *(*p)++;
		v |= (uint32) (c & 0x7F) << shift;
		if ((c & 0x80) == 0)
			return v;
		shift += 7;
	}
}

/* Read a length and step over that many bytes; returns where they start. */
static const char *
get_bytes(const char **p, const char *end, uint32 *len)
{
	const char *start;

	*len = get_varint(p, end);
	if ((Size) (end - *p) < *len)
		report_corrupted();
	start = *p;
	*p += *len;
	return start;
}

/*
 * A jsonb value of a row (len bytes stored without their header), copied
 * so that it has its header and is aligned.
 */
Jsonb *
pgcdc_unpacked_jsonb(const char *data, uint32 len)
{
	Jsonb	   *v = palloc(VARHDRSZ + len);

	SET_VARSIZE(v, VARHDRSZ + len);
	memcpy(VARDATA(v), data, len);
	return v;
}

/*
 * Decode the entry at *p (not reading past end) and step over it.  A row
 * whose entry runs past its end is corrupt: an error, never a read past it.
 */
void
pgcdc_unpack_event(const char **p, const char *end, PgcdcUnpackedEvent *ev)
{
	char		flags;

	if ((Size) (end - *p) < ENTRY_FIXED_BYTES)
		report_corrupted();
	ev->op = (*p)[0];
	flags = (*p)[1];
	memcpy(&ev->start_ns, *p + 2, sizeof(int64));
	memcpy(&ev->end_ns, *p + 2 + sizeof(int64), sizeof(int64));
	*p += ENTRY_FIXED_BYTES;
	ev->label = get_bytes(p, end, &ev->label_len);
	ev->element_id = NULL;
	ev->element_id_len = 0;
	if (flags & ENTRY_HAS_ID)
		ev->element_id = get_bytes(p, end, &ev->element_id_len);
	ev->body = get_bytes(p, end, &ev->body_len);
	ev->unavailable = NULL;
	ev->unavailable_len = 0;
	if (flags & ENTRY_HAS_UNAVAILABLE)
		ev->unavailable = get_bytes(p, end, &ev->unavailable_len);
}

/* Where _unpack is in a row, between its calls. */
typedef struct UnpackState
{
	bytea	   *row;
	const char *p;
	const char *end;
	int32		i;
} UnpackState;

/*
 * _unpack(events bytea) RETURNS TABLE (i, op, label, element_id, body,
 * unavailable, start_ns, end_ns): the events of a row in order, i from 1.
 */
Datum
pgcdc_drasi_unpack(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	UnpackState *state;
	PgcdcUnpackedEvent ev;
	Datum		values[8];
	bool		nulls[8] = {0};

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		TupleDesc	desc;

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		funcctx->tuple_desc = BlessTupleDesc(desc);
		state = palloc(sizeof(UnpackState));
		state->row = PG_GETARG_BYTEA_P_COPY(0);
		state->p = VARDATA_ANY(state->row);
		state->end = state->p + VARSIZE_ANY_EXHDR(state->row);
		state->i = 0;
		funcctx->user_fctx = state;
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	state = funcctx->user_fctx;
	if (state->p >= state->end)
		SRF_RETURN_DONE(funcctx);
	pgcdc_unpack_event(&state->p, state->end, &ev);
	values[0] = Int32GetDatum(++state->i);
	values[1] = PointerGetDatum(cstring_to_text_with_len(&ev.op, 1));
	values[2] = PointerGetDatum(cstring_to_text_with_len(ev.label, ev.label_len));
	if (ev.element_id != NULL)
		values[3] = PointerGetDatum(cstring_to_text_with_len(ev.element_id, ev.element_id_len));
	else
		nulls[3] = true;
	values[4] = PointerGetDatum(pgcdc_unpacked_jsonb(ev.body, ev.body_len));
	if (ev.unavailable != NULL)
		values[5] = PointerGetDatum(pgcdc_unpacked_jsonb(ev.unavailable, ev.unavailable_len));
	else
		nulls[5] = true;
	values[6] = Int64GetDatum(ev.start_ns);
	values[7] = Int64GetDatum(ev.end_ns);
	SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc,
															   values, nulls)));
}

/*
 * _slice(events bytea, skip integer, keep integer) RETURNS bytea: the
 * keep events of a row after its first skip (a row cut short by an abort
 * or by retention).
 */
Datum
pgcdc_drasi_slice(PG_FUNCTION_ARGS)
{
	bytea	   *row = PG_GETARG_BYTEA_PP(0);
	int32		skip = PG_GETARG_INT32(1);
	int32		keep = PG_GETARG_INT32(2);
	const char *p = VARDATA_ANY(row);
	const char *end = p + VARSIZE_ANY_EXHDR(row);
	const char *from;
	bytea	   *result;
	PgcdcUnpackedEvent ev;
	int			i;

	if (skip < 0 || keep < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot cut %d events after %d from a queue row", keep, skip)));
	for (i = 0; i < skip; i++)
		pgcdc_unpack_event(&p, end, &ev);
	from = p;
	for (i = 0; i < keep; i++)
		pgcdc_unpack_event(&p, end, &ev);
	result = palloc(VARHDRSZ + (p - from));
	SET_VARSIZE(result, VARHDRSZ + (p - from));
	memcpy(VARDATA(result), from, p - from);
	PG_RETURN_BYTEA_P(result);
}

/*
 * _pack(op, label, element_id, body, unavailable, start_ns, end_ns)
 * RETURNS bytea: the entry of one event (rows are concatenations).
 */
Datum
pgcdc_drasi_pack(PG_FUNCTION_ARGS)
{
	PgcdcPackedEvent ev;
	text	   *op;
	StringInfoData buf;
	bytea	   *result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3) ||
		PG_ARGISNULL(5) || PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("only element_id and unavailable of a packed event can be NULL")));
	op = PG_GETARG_TEXT_PP(0);
	if (VARSIZE_ANY_EXHDR(op) != 1 || strchr("iudt", *VARDATA_ANY(op)) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid event op \"%s\"", text_to_cstring(op)),
				 errhint("The op of an event is one of i, u, d and t.")));
	ev.op = *VARDATA_ANY(op);
	ev.label = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ev.element_id = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	ev.body = PG_GETARG_JSONB_P(3);
	ev.unavailable = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	ev.start_ns = PG_GETARG_INT64(5);
	ev.end_ns = PG_GETARG_INT64(6);

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	pgcdc_pack_event(&buf, &ev);
	result = (bytea *) buf.data;
	SET_VARSIZE(result, buf.len);
	PG_RETURN_BYTEA_P(result);
}
