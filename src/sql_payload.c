/*-------------------------------------------------------------------------
 *
 * sql_payload.c
 *		pgcdc_drasi._payload(): the Drasi payload of a queued event, put
 *		together from its queue_events row and its queue_transactions row
 *		when the event is read (the view pgcdc_drasi.events, read(),
 *		get_events() and the delivery workers all call it).
 *
 * The payload is built as one JsonbValue tree and serialized once: the
 * element's own part (queue_events.body) is pushed as it is stored, and
 * jsonb orders the keys.  An SQL version of the same expression built a
 * jsonb datum per operator (jsonb_build_object, ||, -) and took about
 * two thirds of a delivery worker's time per event.  The result is the
 * same jsonb, key for key (README, "Event format").  The readers in C
 * build it with pgcdc_payload_build() directly, without a call through
 * SQL per event.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sql_payload.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "sql_payload.h"

PG_FUNCTION_INFO_V1(pgcdc_drasi_payload);

/* Microseconds from the Unix epoch to PostgreSQL's (2000-01-01). */
#define UNIX_TO_PG_EPOCH_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC)

/* Push a key. */
static void
push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	(void) pushJsonbValue(st, WJB_KEY, &v);
}

/* Push a key and a string value (JSON null for NULL). */
static void
push_string(JsonbParseState **st, const char *key, const char *value, int len)
{
	JsonbValue	v;

	push_key(st, key);
	if (value == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) value;
		v.val.string.len = len;
	}
	(void) pushJsonbValue(st, WJB_VALUE, &v);
}

/* Push a key and a number value given as a Numeric (JSON null for NULL). */
static void
push_numeric(JsonbParseState **st, const char *key, Numeric value)
{
	JsonbValue	v;

	push_key(st, key);
	if (value == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvNumeric;
		v.val.numeric = value;
	}
	(void) pushJsonbValue(st, WJB_VALUE, &v);
}

/* An unsigned 64-bit number as a Numeric. */
static Numeric
uint64_numeric(uint64 n)
{
	char		buf[32];

	if (n <= (uint64) PG_INT64_MAX)
		return int64_to_numeric((int64) n);
	snprintf(buf, sizeof(buf), UINT64_FORMAT, n);
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/* Push a key and a whole jsonb document as its value. */
static void
push_jsonb(JsonbParseState **st, const char *key, Jsonb *jb)
{
	JsonbValue	v;

	push_key(st, key);
	if (JB_ROOT_IS_SCALAR(jb))
	{
		if (!JsonbExtractScalar(&jb->root, &v))
			elog(ERROR, "could not read a jsonb scalar");
	}
	else
	{
		v.type = jbvBinary;
		v.val.binary.data = &jb->root;
		v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
	}
	(void) pushJsonbValue(st, WJB_VALUE, &v);
}

/*
 * The payload of one event from its values (sql_payload.h says which may
 * be missing).  The readers in C (queue_read.c) call it for each event
 * they unpack; _payload() below is the same for SQL.
 */
Jsonb *
pgcdc_payload_build(const PgcdcPayloadInput *in)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;
	bool		before = in->op != NULL && in->op_len == 1 &&
	(in->op[0] == 'd' || in->op[0] == 't');
	char	   *table = NULL;
	int			table_len = 0;
	JsonbValue	v;

	(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_string(&st, "op", in->op, in->op_len);

	/* payload: the element (before or after) and where it comes from */
	push_key(&st, "payload");
	(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_key(&st, before ? "before" : "after");
	if (in->body == NULL)
	{
		v.type = jbvNull;
		(void) pushJsonbValue(&st, WJB_VALUE, &v);
	}
	else
	{
		JsonbIterator *it;
		JsonbIteratorToken r;
		JsonbValue	k;

		if (!JB_ROOT_IS_OBJECT(in->body) || JB_ROOT_IS_SCALAR(in->body))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("body of a queued event must be a JSON object")));
		(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		it = JsonbIteratorInit(&in->body->root);
		while ((r = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			if (r != WJB_KEY)
				continue;
			r = JsonbIteratorNext(&it, &v, true);
			Assert(r == WJB_VALUE);
			if (k.val.string.len == 6 && memcmp(k.val.string.val, "_table", 6) == 0)
			{
				if (v.type == jbvString)
				{
					table = v.val.string.val;
					table_len = v.val.string.len;
				}
				continue;
			}
			(void) pushJsonbValue(&st, WJB_KEY, &k);
			(void) pushJsonbValue(&st, WJB_VALUE, &v);
		}
		push_key(&st, "labels");
		(void) pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		if (in->label == NULL)
			v.type = jbvNull;
		else
		{
			v.type = jbvString;
			v.val.string.val = (char *) in->label;
			v.val.string.len = in->label_len;
		}
		(void) pushJsonbValue(&st, WJB_ELEM, &v);
		(void) pushJsonbValue(&st, WJB_END_ARRAY, NULL);
		if (in->element_id != NULL)
			push_string(&st, "id", in->element_id, in->element_id_len);
		(void) pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	push_key(&st, "source");
	(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_string(&st, "db", in->source_id, in->source_id_len);
	push_numeric(&st, "lsn", in->lsn_null ? NULL : uint64_numeric(in->lsn));
	if (table != NULL)
		push_string(&st, "table", table, table_len);
	else
		push_string(&st, "table", "node", 4);
	push_numeric(&st, "ts_ns", in->commit_time_null ? NULL :
				 int64_to_numeric((in->commit_time + UNIX_TO_PG_EPOCH_USECS) * 1000));
	(void) pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	(void) pushJsonbValue(&st, WJB_END_OBJECT, NULL);

	/* metadata: the event's place in the queue and in its transaction */
	push_key(&st, "metadata");
	(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_numeric(&st, "seq", in->seq_null ? NULL : int64_to_numeric(in->seq));
	push_numeric(&st, "xid", in->xid_null ? NULL : uint64_numeric(in->xid));
	push_numeric(&st, "txIndex", in->tx_index_null ? NULL : int64_to_numeric(in->tx_index));
	if (in->snapshot)
	{
		push_key(&st, "snapshot");
		v.type = jbvBool;
		v.val.boolean = true;
		(void) pushJsonbValue(&st, WJB_VALUE, &v);
	}
	if (in->unavailable != NULL)
		push_jsonb(&st, "unavailable", in->unavailable);
	(void) pushJsonbValue(&st, WJB_END_OBJECT, NULL);

	push_numeric(&st, "reactivatorEnd_ns", in->end_ns_null ? NULL : int64_to_numeric(in->end_ns));
	push_numeric(&st, "reactivatorStart_ns", in->start_ns_null ? NULL :
				 int64_to_numeric(in->start_ns));
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);

	return JsonbValueToJsonb(res);
}

/* Append a JSON string of len bytes (jsonb's escaping), or null for NULL. */
static void
text_string(StringInfo out, const char *s, int len)
{
	char	   *z;

	if (s == NULL)
	{
		appendBinaryStringInfo(out, "null", 4);
		return;
	}
	z = pnstrdup(s, len);

	escape_json(out, z);
	pfree(z);
}

/* Append "key": (a key of the payload: plain ASCII, nothing to escape). */
static void
text_key(StringInfo out, const char *key, bool first)
{
	if (!first)
		appendBinaryStringInfo(out, ", ", 2);
	appendStringInfoChar(out, '"');
	appendStringInfoString(out, key);
	appendBinaryStringInfo(out, "\": ", 3);
}

/* Append "key": and a signed number, or null. */
static void
text_int64(StringInfo out, const char *key, bool first, bool isnull, int64 value)
{
	text_key(out, key, first);
	if (isnull)
		appendBinaryStringInfo(out, "null", 4);
	else
		appendStringInfo(out, INT64_FORMAT, value);
}

/* Append "key": and an unsigned number (an LSN, an xid), or null. */
static void
text_uint64(StringInfo out, const char *key, bool isnull, uint64 value)
{
	text_key(out, key, false);
	if (isnull)
		appendBinaryStringInfo(out, "null", 4);
	else
		appendStringInfo(out, UINT64_FORMAT, value);
}

/* Append a JSON value of the element's stored body, as jsonb prints it. */
static void
text_value(StringInfo out, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendBinaryStringInfo(out, "null", 4);
			break;
		case jbvString:
			text_string(out, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			appendStringInfoString(out,
								   DatumGetCString(DirectFunctionCall1(numeric_out,
																	   NumericGetDatum(v->val.numeric))));
			break;
		case jbvBool:
			if (v->val.boolean)
				appendBinaryStringInfo(out, "true", 4);
			else
				appendBinaryStringInfo(out, "false", 5);
			break;
		case jbvBinary:
			(void) JsonbToCString(out, v->val.binary.data, v->val.binary.len);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d in a queued event", (int) v->type);
	}
}

/* Does key a sort before key b in a jsonb object (shorter first)? */
static bool
key_sorts_before(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen < blen;
	return memcmp(a, b, alen) < 0;
}

/*
 * The payload of one event as JSON text, exactly as jsonb's output
 * prints pgcdc_payload_build's result (keys in jsonb's order: shorter
 * first, then bytewise; ", " and ": " between), without building the
 * jsonb: what the delivery workers send.  Assert builds compare the two
 * for every event a reader builds (queue_read.c).
 */
void
pgcdc_payload_text(StringInfo out, const PgcdcPayloadInput *in)
{
	bool		before = in->op != NULL && in->op_len == 1 &&
	(in->op[0] == 'd' || in->op[0] == 't');
	char	   *table = NULL;
	int			table_len = 0;

	appendStringInfoChar(out, '{');
	text_key(out, "op", true);
	text_string(out, in->op, in->op_len);

	text_key(out, "payload", false);
	appendStringInfoChar(out, '{');
	text_key(out, before ? "before" : "after", true);
	if (in->body == NULL)
		appendBinaryStringInfo(out, "null", 4);
	else
	{
		JsonbIterator *it;
		JsonbIteratorToken r;
		JsonbValue	k;
		JsonbValue	v;
		bool		first = true;
		bool		id_done = (in->element_id == NULL);
		bool		labels_done = false;

		if (!JB_ROOT_IS_OBJECT(in->body) || JB_ROOT_IS_SCALAR(in->body))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("body of a queued event must be a JSON object")));
		appendStringInfoChar(out, '{');
		it = JsonbIteratorInit(&in->body->root);
		for (;;)
		{
			r = JsonbIteratorNext(&it, &k, true);
			if (r == WJB_KEY)
			{
				r = JsonbIteratorNext(&it, &v, true);
				Assert(r == WJB_VALUE);
				if (k.val.string.len == 6 && memcmp(k.val.string.val, "_table", 6) == 0)
				{
					if (v.type == jbvString)
					{
						table = v.val.string.val;
						table_len = v.val.string.len;
					}
					continue;
				}

				/*
				 * the event's own id and labels win, as the last value in
				 * jsonb
				 */
				if ((in->element_id != NULL && k.val.string.len == 2 &&
					 memcmp(k.val.string.val, "id", 2) == 0) ||
					(k.val.string.len == 6 && memcmp(k.val.string.val, "labels", 6) == 0))
					continue;
			}
			else if (r != WJB_DONE)
				continue;

			/* id and labels go where jsonb's key order puts them */
			if (!id_done && (r == WJB_DONE ||
							 key_sorts_before("id", 2, k.val.string.val, k.val.string.len)))
			{
				text_key(out, "id", first);
				first = false;
				text_string(out, in->element_id, in->element_id_len);
				id_done = true;
			}
			if (!labels_done && (r == WJB_DONE ||
								 key_sorts_before("labels", 6, k.val.string.val, k.val.string.len)))
			{
				text_key(out, "labels", first);
				first = false;
				appendStringInfoChar(out, '[');
				text_string(out, in->label, in->label_len);
				appendStringInfoChar(out, ']');
				labels_done = true;
			}
			if (r == WJB_DONE)
				break;
			if (!first)
				appendBinaryStringInfo(out, ", ", 2);
			first = false;
			text_string(out, k.val.string.val, k.val.string.len);
			appendBinaryStringInfo(out, ": ", 2);
			text_value(out, &v);
		}
		appendStringInfoChar(out, '}');
	}
	text_key(out, "source", false);
	appendStringInfoChar(out, '{');
	text_key(out, "db", true);
	text_string(out, in->source_id, in->source_id_len);
	text_uint64(out, "lsn", in->lsn_null, (uint64) in->lsn);
	text_key(out, "table", false);
	if (table != NULL)
		text_string(out, table, table_len);
	else
		appendBinaryStringInfo(out, "\"node\"", 6);
	text_int64(out, "ts_ns", false, in->commit_time_null,
			   (in->commit_time + UNIX_TO_PG_EPOCH_USECS) * 1000);
	appendBinaryStringInfo(out, "}}", 2);

	text_key(out, "metadata", false);
	appendStringInfoChar(out, '{');
	text_int64(out, "seq", true, in->seq_null, in->seq);
	text_uint64(out, "xid", in->xid_null, in->xid);
	text_int64(out, "txIndex", false, in->tx_index_null, in->tx_index);
	if (in->snapshot)
	{
		text_key(out, "snapshot", false);
		appendBinaryStringInfo(out, "true", 4);
	}
	if (in->unavailable != NULL)
	{
		text_key(out, "unavailable", false);
		(void) JsonbToCString(out, &in->unavailable->root, VARSIZE(in->unavailable));
	}
	appendStringInfoChar(out, '}');

	text_int64(out, "reactivatorEnd_ns", false, in->end_ns_null, in->end_ns);
	text_int64(out, "reactivatorStart_ns", false, in->start_ns_null, in->start_ns);
	appendStringInfoChar(out, '}');
}

/*
 * _payload(op, label, element_id, body, unavailable, start_ns, end_ns,
 *			source_id, lsn, commit_time, seq, xid, tx_index, snapshot)
 *
 * Not strict: element_id and unavailable are often NULL; any other NULL
 * gives a JSON null where its value goes.
 */
Datum
pgcdc_drasi_payload(PG_FUNCTION_ARGS)
{
	PgcdcPayloadInput in = {0};

	if (!PG_ARGISNULL(0))
	{
		text	   *op = PG_GETARG_TEXT_PP(0);

		in.op = VARDATA_ANY(op);
		in.op_len = VARSIZE_ANY_EXHDR(op);
	}
	if (!PG_ARGISNULL(1))
	{
		text	   *label = PG_GETARG_TEXT_PP(1);

		in.label = VARDATA_ANY(label);
		in.label_len = VARSIZE_ANY_EXHDR(label);
	}
	if (!PG_ARGISNULL(2))
	{
		text	   *id = PG_GETARG_TEXT_PP(2);

		in.element_id = VARDATA_ANY(id);
		in.element_id_len = VARSIZE_ANY_EXHDR(id);
	}
	in.body = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	in.unavailable = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	in.start_ns_null = PG_ARGISNULL(5);
	in.start_ns = in.start_ns_null ? 0 : PG_GETARG_INT64(5);
	in.end_ns_null = PG_ARGISNULL(6);
	in.end_ns = in.end_ns_null ? 0 : PG_GETARG_INT64(6);
	if (!PG_ARGISNULL(7))
	{
		text	   *db = PG_GETARG_TEXT_PP(7);

		in.source_id = VARDATA_ANY(db);
		in.source_id_len = VARSIZE_ANY_EXHDR(db);
	}
	in.lsn_null = PG_ARGISNULL(8);
	in.lsn = in.lsn_null ? InvalidXLogRecPtr : PG_GETARG_LSN(8);
	in.commit_time_null = PG_ARGISNULL(9);
	in.commit_time = in.commit_time_null ? 0 : PG_GETARG_TIMESTAMPTZ(9);
	in.seq_null = PG_ARGISNULL(10);
	in.seq = in.seq_null ? 0 : PG_GETARG_INT64(10);
	in.xid_null = PG_ARGISNULL(11);
	in.xid = in.xid_null ? 0 : U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(11));
	in.tx_index_null = PG_ARGISNULL(12);
	in.tx_index = in.tx_index_null ? 0 : PG_GETARG_INT32(12);
	in.snapshot = !PG_ARGISNULL(13) && PG_GETARG_BOOL(13);

	PG_RETURN_JSONB_P(pgcdc_payload_build(&in));
}
