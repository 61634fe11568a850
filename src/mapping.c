/*-------------------------------------------------------------------------
 *
 * mapping.c
 *		Rows to Drasi graph nodes: element ids and the change events.
 *
 * A node's label is its table's name (case kept, no schema) or the label
 * set for the table; its id is "table:key" for tables in schema public
 * and "schema.table:key" otherwise, which is what Drasi's own PostgreSQL
 * source produces.  Which columns form the key is the relation cache's
 * business (relation.c); this file turns one decoded change (or one
 * snapshot row) into the events of the Drasi source-change format.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/mapping.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/sha2.h"

#include "mapping.h"
#include "proto.h"
#include "relation.h"
#include "value.h"

/*
 * The value of column i, taking an unchanged TOASTed value from the old
 * tuple when the WAL carries it there.  Returns the status: 't' (text),
 * 'n' (null) or 'u' (unchanged and unknown).
 */
static char
column_value(LogicalRepTupleData *tup, LogicalRepTupleData *fallback, int i,
			 StringInfo *value)
{
	char		status;

	if (i >= tup->ncols)
		return LOGICALREP_COLUMN_UNCHANGED;
	status = tup->colstatus[i];
	*value = &tup->colvalues[i];
	if (status == LOGICALREP_COLUMN_UNCHANGED && fallback != NULL &&
		i < fallback->ncols && fallback->colstatus[i] == LOGICALREP_COLUMN_TEXT)
	{
		status = LOGICALREP_COLUMN_TEXT;
		*value = &fallback->colvalues[i];
	}
	if (status == LOGICALREP_COLUMN_BINARY)
		elog(ERROR, "unexpected binary column value");
	return status;
}

/* Append "#<digest>" of all of a row's values: the id of a keyless row. */
static bool
append_row_digest(StringInfo buf, PgcdcRelEntry *entry,
				  LogicalRepTupleData *tup, LogicalRepTupleData *fallback)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	int			i;

	if (pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "could not initialize SHA-256");
	for (i = 0; i < entry->natts; i++)
	{
		StringInfo	value = NULL;
		char		status = column_value(tup, fallback, i, &value);
		uint8		len[4];

		if (status == LOGICALREP_COLUMN_UNCHANGED)
		{
			pg_cryptohash_free(ctx);
			return false;
		}
		pg_cryptohash_update(ctx, (const uint8 *) &status, 1);
		if (status == LOGICALREP_COLUMN_TEXT)
		{
			len[0] = (value->len >> 24) & 0xff;
			len[1] = (value->len >> 16) & 0xff;
			len[2] = (value->len >> 8) & 0xff;
			len[3] = value->len & 0xff;
			pg_cryptohash_update(ctx, len, 4);
			pg_cryptohash_update(ctx, (const uint8 *) value->data, value->len);
		}
	}
	if (pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not finalize SHA-256");
	pg_cryptohash_free(ctx);

	appendStringInfoChar(buf, '#');
	for (i = 0; i < 16; i++)
		appendStringInfo(buf, "%02x", digest[i]);
	return true;
}

/*
 * Append the element id of a row.  False when the tuple does not carry
 * every key value (a NULL or unknown key column).
 */
static bool
append_element_id(StringInfo buf, PgcdcRelEntry *entry,
				  LogicalRepTupleData *tup, LogicalRepTupleData *fallback)
{
	int			k;

	appendStringInfoString(buf, entry->id_prefix);
	if (entry->keyless)
		return append_row_digest(buf, entry, tup, fallback);

	for (k = 0; k < entry->nkeys; k++)
	{
		StringInfo	value = NULL;

		if (column_value(tup, fallback, entry->keys[k], &value) != LOGICALREP_COLUMN_TEXT)
			return false;
		if (k > 0)
			appendStringInfoChar(buf, '_');
		pgcdc_value_append_key(buf, entry->types[entry->keys[k]],
							   value->data, value->len, entry->nkeys > 1);
	}
	return true;
}

/* The element id of a row, or an error that says which key is missing. */
static char *
element_id(PgcdcRelEntry *entry, LogicalRepTupleData *tup,
		   LogicalRepTupleData *fallback, const char *what)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (!append_element_id(&buf, entry, tup, fallback))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot build the element id of a %s row of table \"%s.%s\"",
						what, entry->nspname, entry->relname),
				 errdetail("A key column is NULL or was not written to the WAL."),
				 errhint("Key columns must be NOT NULL and part of the table's replica identity; see pgcdc_drasi.set_table_key().")));
	return buf.data;
}

/*
 * Events are built as jsonb value trees, never as text to be parsed: the
 * queue stores jsonb, and parsing our own output was half the worker's
 * time.  Objects are filled in jsonb's key order (shorter keys first,
 * then bytewise), which is fixed for the event's own keys and computed
 * once per relation for the properties, so nothing is sorted per row.
 */

/* A new object with room for n pairs, to be added in jsonb key order. */
static JsonbValue *
jb_object(int n)
{
	JsonbValue *obj = palloc(sizeof(JsonbValue));

	obj->type = jbvObject;
	obj->val.object.nPairs = 0;
	obj->val.object.pairs = palloc(sizeof(JsonbPair) * Max(1, n));
	return obj;
}

/* The value slot of the next key of an object. */
static JsonbValue *
jb_key(JsonbValue *obj, const char *key, int keylen)
{
	JsonbPair  *pair = &obj->val.object.pairs[obj->val.object.nPairs];

	pair->key.type = jbvString;
	pair->key.val.string.val = (char *) key;
	pair->key.val.string.len = keylen;
	pair->order = obj->val.object.nPairs++;
	return &pair->value;
}

#define JB_KEY(obj, lit) jb_key((obj), (lit), sizeof(lit) - 1)

/* Set a string value. */
static void
jb_string(JsonbValue *v, const char *s, int len)
{
	v->type = jbvString;
	v->val.string.val = (char *) s;
	v->val.string.len = len;
}

/* Set a number value from an int64. */
static void
jb_int64(JsonbValue *v, int64 n)
{
	v->type = jbvNumeric;
	v->val.numeric = int64_to_numeric(n);
}

/* Set a one-element array of a string: the labels. */
static void
jb_labels(JsonbValue *v, const char *label)
{
	v->type = jbvArray;
	v->val.array.nElems = 1;
	v->val.array.rawScalar = false;
	v->val.array.elems = palloc(sizeof(JsonbValue));
	jb_string(&v->val.array.elems[0], label, strlen(label));
}

/*
 * Fill the properties object of a row, keys in jsonb order.  The values
 * share PGCDC_EVENT_VALUES_MAX bytes with the element id: a value that no
 * longer fits is a marker (pgcdc_value_to_jsonb), so that the event always
 * fits jsonb, whatever the row holds.  Returns the columns left out because
 * the WAL has no value for them (unchanged TOASTed values), as column
 * indexes.
 */
static Bitmapset *
jb_properties(JsonbValue *v, PgcdcRelEntry *entry, LogicalRepTupleData *tup,
			  LogicalRepTupleData *fallback, bool identity_only, const char *id)
{
	Bitmapset  *unknown = NULL;
	JsonbValue *obj = v;
	int			k;
	Size		idlen = id ? strlen(id) : 0;
	Size		room = idlen < PGCDC_EVENT_VALUES_MAX ? PGCDC_EVENT_VALUES_MAX - idlen : 0;

	obj->type = jbvObject;
	obj->val.object.nPairs = 0;
	obj->val.object.pairs = palloc(sizeof(JsonbPair) * Max(1, entry->natts));
	for (k = 0; k < entry->natts; k++)
	{
		int			i = entry->key_order[k];
		StringInfo	value = NULL;
		char		status;
		JsonbValue *slot;

		if (identity_only && !bms_is_member(i, entry->ri_attrs))
			continue;
		if (bms_is_member(i, entry->excluded))
			continue;
		status = column_value(tup, fallback, i, &value);
		if (status == LOGICALREP_COLUMN_UNCHANGED)
		{
			unknown = bms_add_member(unknown, i);
			continue;
		}
		slot = jb_key(obj, entry->attnames[i], entry->attname_len[i]);
		if (status == LOGICALREP_COLUMN_NULL)
			slot->type = jbvNull;
		else
			pgcdc_value_to_jsonb(slot, entry->types[i], value->data, value->len,
								 entry->cache->numeric_as_string, &room);
	}
	return unknown;
}

/* Nanoseconds since the Unix epoch. */
static int64
unix_ns(TimestampTz ts)
{
	return (ts + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY) * 1000;
}

/*
 * Start an event: the fixed parts, and the element object (returned) for
 * the caller to fill with its id/labels/properties or idPrefix.
 */
static JsonbValue *
event_begin(PgcdcEvent *ev, PgcdcTxContext *tx, PgcdcRelEntry *entry, char op,
			const char *id, JsonbValue **root_out)
{
	JsonbValue *root = jb_object(5);
	JsonbValue *payload;
	JsonbValue *source;
	JsonbValue *element = jb_object(3);
	bool		before = (op == 'd' || op == 't');

	ev->op = op;
	ev->seq = ++tx->last_seq;
	ev->tx_index = tx->tx_index++;
	ev->label = entry->label;
	ev->element_id = id;
	ev->opstr[0] = op;
	ev->opstr[1] = '\0';

	jb_string(JB_KEY(root, "op"), ev->opstr, 1);
	payload = JB_KEY(root, "payload");
	payload->type = jbvObject;
	payload->val.object.nPairs = 0;
	payload->val.object.pairs = palloc(sizeof(JsonbPair) * 2);
	if (before)
		*JB_KEY(payload, "before") = *element;
	else
		*JB_KEY(payload, "after") = *element;
	element = &payload->val.object.pairs[0].value;
	source = JB_KEY(payload, "source");
	source->type = jbvObject;
	source->val.object.nPairs = 0;
	source->val.object.pairs = palloc(sizeof(JsonbPair) * 4);
	jb_string(JB_KEY(source, "db"), entry->cache->source_id, strlen(entry->cache->source_id));
	jb_int64(JB_KEY(source, "lsn"), (int64) tx->commit_lsn);
	jb_string(JB_KEY(source, "table"), "node", 4);
	jb_int64(JB_KEY(source, "ts_ns"), unix_ns(tx->commit_time));

	if (id != NULL)
		jb_string(JB_KEY(element, "id"), id, strlen(id));
	jb_labels(JB_KEY(element, "labels"), entry->label);
	*root_out = root;
	return element;
}

/*
 * Finish an event: metadata and the build times, then hand it on.  The
 * columns in unavailable (indexes into entry's columns) are named in
 * metadata.unavailable: properties the event should have but cannot.
 */
static void
event_end(PgcdcEvent *ev, PgcdcTxContext *tx, JsonbValue *root, PgcdcRelEntry *entry,
		  Bitmapset *unavailable, PgcdcEmitFn emit, void *arg)
{
	JsonbValue *meta = JB_KEY(root, "metadata");

	meta->type = jbvObject;
	meta->val.object.nPairs = 0;
	meta->val.object.pairs = palloc(sizeof(JsonbPair) * 5);
	jb_int64(JB_KEY(meta, "seq"), ev->seq);
	jb_int64(JB_KEY(meta, "xid"), (int64) tx->full_xid);
	jb_int64(JB_KEY(meta, "txIndex"), ev->tx_index);
	if (tx->snapshot)
	{
		JsonbValue *snap = JB_KEY(meta, "snapshot");

		snap->type = jbvBool;
		snap->val.boolean = true;
	}
	if (!bms_is_empty(unavailable))
	{
		JsonbValue *names = JB_KEY(meta, "unavailable");
		int			i = -1;

		names->type = jbvArray;
		names->val.array.nElems = 0;
		names->val.array.rawScalar = false;
		names->val.array.elems = palloc(sizeof(JsonbValue) * bms_num_members(unavailable));
		while ((i = bms_next_member(unavailable, i)) >= 0)
			jb_string(&names->val.array.elems[names->val.array.nElems++],
					  entry->attnames[i], entry->attname_len[i]);
	}
	ev->end_ns = unix_ns(GetCurrentTimestamp());
	ev->start_ns = unix_ns(tx->received_at);
	jb_int64(JB_KEY(root, "reactivatorEnd_ns"), ev->end_ns);
	jb_int64(JB_KEY(root, "reactivatorStart_ns"), ev->start_ns);

	ev->root = root;
	ev->jsonb = NULL;
	ev->text = NULL;
	emit(tx, ev, arg);
}

/*
 * Emit an insert, update or delete event of one row.  An insert made of
 * an update whose key changed (new_node) creates a node that has no
 * earlier values, so the values the WAL does not carry (unchanged
 * TOASTed columns outside the old tuple) are named in its metadata; an
 * update leaves them out, and Drasi keeps their previous values.
 */
static void
emit_row(PgcdcTxContext *tx, PgcdcRelEntry *entry, char op, const char *id,
		 LogicalRepTupleData *tup, LogicalRepTupleData *fallback, bool new_node,
		 PgcdcEmitFn emit, void *arg)
{
	PgcdcEvent	ev;
	JsonbValue *root;
	JsonbValue *element;
	bool		identity_only = (op == 'd' && entry->replident != REPLICA_IDENTITY_FULL);
	Bitmapset  *unknown;

	element = event_begin(&ev, tx, entry, op, id, &root);
	unknown = jb_properties(JB_KEY(element, "properties"), entry, tup, fallback, identity_only, id);
	event_end(&ev, tx, root, entry, new_node ? unknown : NULL, emit, arg);
}

/*
 * The event as the queue stores it: only what its columns (op, label,
 * element id, the build times) and its transaction's row do not hold,
 * that is its element without id and labels (properties, or a truncate's
 * idPrefix), with "_table" when payload.source.table is not "node";
 * *unavailable is metadata.unavailable, or NULL.  The queue
 * assembles the payload again when it is read (pgcdc_drasi._payload).
 * Made from the value tree, which stays whole.
 */
Jsonb *
pgcdc_map_event_body(PgcdcEvent *ev, Jsonb **unavailable)
{
	JsonbValue *element;
	JsonbValue *meta;
	JsonbValue	body;
	int			i;

	Assert(ev->root->type == jbvObject && ev->root->val.object.nPairs == 5);
	/* root: op, payload (element first: "after"/"before" < "source"), metadata, ... */
	element = &ev->root->val.object.pairs[1].value.val.object.pairs[0].value;
	meta = &ev->root->val.object.pairs[2].value;

	body.type = jbvObject;
	body.val.object.nPairs = 0;
	body.val.object.pairs = palloc(sizeof(JsonbPair) * (element->val.object.nPairs + 1));
	for (i = 0; i < element->val.object.nPairs; i++)
	{
		JsonbPair  *pair = &element->val.object.pairs[i];
		int			keylen = pair->key.val.string.len;
		const char *key = pair->key.val.string.val;

		if ((keylen == 2 && memcmp(key, "id", 2) == 0) ||
			(keylen == 6 && memcmp(key, "labels", 6) == 0))
			continue;
		body.val.object.pairs[body.val.object.nPairs] = *pair;
		body.val.object.pairs[body.val.object.nPairs].order = body.val.object.nPairs;
		body.val.object.nPairs++;
	}

	/* payload.source.table when it is not "node" (a relation's "rel") */
	{
		JsonbValue *source = &ev->root->val.object.pairs[1].value.val.object.pairs[1].value;
		JsonbValue *table = &source->val.object.pairs[2].value;

		Assert(source->val.object.nPairs == 4);
		if (table->val.string.len != 4 || memcmp(table->val.string.val, "node", 4) != 0)
		{
			JsonbPair  *pairs = body.val.object.pairs;
			int			at = 0;
			int			j;

			/* in jsonb key order: shorter keys first, then bytewise */
			while (at < body.val.object.nPairs &&
				   (pairs[at].key.val.string.len < 6 ||
					(pairs[at].key.val.string.len == 6 &&
					 memcmp(pairs[at].key.val.string.val, "_table", 6) < 0)))
				at++;
			for (j = body.val.object.nPairs; j > at; j--)
			{
				pairs[j] = pairs[j - 1];
				pairs[j].order = j;
			}
			pairs[at].key.type = jbvString;
			pairs[at].key.val.string.val = "_table";
			pairs[at].key.val.string.len = 6;
			pairs[at].value = *table;
			pairs[at].order = at;
			body.val.object.nPairs++;
		}
	}

	*unavailable = NULL;
	for (i = 0; i < meta->val.object.nPairs; i++)
	{
		JsonbPair  *pair = &meta->val.object.pairs[i];

		if (pair->key.val.string.len == 11 &&
			memcmp(pair->key.val.string.val, "unavailable", 11) == 0)
			*unavailable = JsonbValueToJsonb(&pair->value);
	}
	return JsonbValueToJsonb(&body);
}

/* The whole event as jsonb, made once when a sink needs it. */
static Jsonb *
event_jsonb(PgcdcEvent *ev)
{
	if (ev->jsonb == NULL)
		ev->jsonb = JsonbValueToJsonb(ev->root);
	return ev->jsonb;
}

/* The text of an event, made once when a sink needs text (NOTIFY). */
const char *
pgcdc_map_event_text(PgcdcEvent *ev, int *len)
{
	if (ev->text == NULL)
	{
		(void) event_jsonb(ev);
		ev->text = JsonbToCString(NULL, &ev->jsonb->root, VARSIZE(ev->jsonb));
		ev->textlen = strlen(ev->text);
	}
	*len = ev->textlen;
	return ev->text;
}

/*
 * Map one change to events and pass each to emit.  An UPDATE whose key
 * changed becomes a delete of the old node and an insert of the new one,
 * so no node is left behind under its old id.  Changes mapped with a
 * fallback key are counted in the cache.
 */
void
pgcdc_map_change(PgcdcRelCache *cache, PgcdcTxContext *tx, PgcdcMessage *change,
				 PgcdcEmitFn emit, void *arg)
{
	PgcdcRelEntry *entry;

	switch (change->action)
	{
		case LOGICAL_REP_MSG_INSERT:
			entry = pgcdc_relcache_lookup(cache, change->relid);
			if (entry->ignored)
				return;
			if (entry->key_fallback)
				cache->key_fallbacks++;
			emit_row(tx, entry, 'i', element_id(entry, &change->newtup, NULL, "new"),
					 &change->newtup, NULL, false, emit, arg);
			break;

		case LOGICAL_REP_MSG_UPDATE:
			{
				LogicalRepTupleData *old = change->has_old ? &change->oldtup : NULL;
				char	   *new_id;
				char	   *old_id = NULL;

				entry = pgcdc_relcache_lookup(cache, change->relid);
				if (entry->ignored)
					return;
				if (entry->key_fallback)
					cache->key_fallbacks++;
				new_id = element_id(entry, &change->newtup, old, "new");
				if (old != NULL)
				{
					StringInfoData buf;

					initStringInfo(&buf);
					if (append_element_id(&buf, entry, old, NULL))
						old_id = buf.data;
				}
				if (old_id != NULL && strcmp(old_id, new_id) != 0)
				{
					emit_row(tx, entry, 'd', old_id, old, NULL, false, emit, arg);
					emit_row(tx, entry, 'i', new_id, &change->newtup, old, true, emit, arg);
				}
				else
					emit_row(tx, entry, 'u', new_id, &change->newtup, old, false, emit, arg);
				break;
			}

		case LOGICAL_REP_MSG_DELETE:
			entry = pgcdc_relcache_lookup(cache, change->relid);
			if (entry->ignored)
				return;
			if (entry->key_fallback)
				cache->key_fallbacks++;
			emit_row(tx, entry, 'd', element_id(entry, &change->oldtup, NULL, "deleted"),
					 &change->oldtup, NULL, false, emit, arg);
			break;

		case LOGICAL_REP_MSG_TRUNCATE:
			{
				ListCell   *lc;

				foreach(lc, change->truncated)
				{
					PgcdcEvent	ev;

					JsonbValue *root;
					JsonbValue *element;

					entry = pgcdc_relcache_lookup(cache, lfirst_oid(lc));
					if (entry->ignored)
						continue;
					element = event_begin(&ev, tx, entry, 't', NULL, &root);
					jb_string(JB_KEY(element, "idPrefix"), entry->id_prefix,
							  strlen(entry->id_prefix));
					event_end(&ev, tx, root, entry, NULL, emit, arg);
				}
				break;
			}

		default:
			elog(ERROR, "unexpected change type %d", (int) change->action);
	}
}

/*
 * Append the element of a row, {"id":...,"labels":[...],"properties":{...}},
 * exactly as an insert event of the row would carry it: the form of
 * Drasi's bootstrap elements.
 */
Jsonb *
pgcdc_map_element(PgcdcRelCache *cache, LogicalRepRelId relid, LogicalRepTupleData *tup)
{
	PgcdcRelEntry *entry = pgcdc_relcache_lookup(cache, relid);
	char	   *id = element_id(entry, tup, NULL, "new");
	JsonbValue *element = jb_object(3);

	jb_string(JB_KEY(element, "id"), id, strlen(id));
	jb_labels(JB_KEY(element, "labels"), entry->label);
	jb_properties(JB_KEY(element, "properties"), entry, tup, NULL, false, id);
	return JsonbValueToJsonb(element);
}
