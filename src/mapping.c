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
#include "relations.h"
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

static void emit_join_row(PgcdcTxContext *tx, PgcdcRelEntry *entry, char op, const char *id,
						  LogicalRepTupleData *tup, LogicalRepTupleData *fallback,
						  PgcdcEmitFn emit, void *arg);

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

	if (entry->join_start != NULL)
	{
		emit_join_row(tx, entry, op, id, tup, fallback, emit, arg);
		return;
	}
	element = event_begin(&ev, tx, entry, op, id, &root);
	unknown = jb_properties(JB_KEY(element, "properties"), entry, tup, fallback, identity_only, id);
	event_end(&ev, tx, root, entry, new_node ? unknown : NULL, emit, arg);
}

/* The value slot of key in an object built here, or NULL. */
static JsonbValue *
jb_find(JsonbValue *obj, const char *key)
{
	int			i;
	int			len = strlen(key);

	Assert(obj->type == jbvObject);
	for (i = 0; i < obj->val.object.nPairs; i++)
	{
		JsonbPair  *pair = &obj->val.object.pairs[i];

		if (pair->key.val.string.len == len && memcmp(pair->key.val.string.val, key, len) == 0)
			return &pair->value;
	}
	return NULL;
}

/*
 * Start an event of a relation: a node event of the row's table made a
 * "rel" one, its element emptied for the caller to fill.
 */
static JsonbValue *
rel_event_begin(PgcdcEvent *ev, PgcdcTxContext *tx, PgcdcRelEntry *entry, PgcdcRelLink *link,
				char op, const char *id, JsonbValue **root)
{
	JsonbValue *element = event_begin(ev, tx, entry, op, id, root);
	JsonbValue *source = jb_find(jb_find(*root, "payload"), "source");

	jb_string(jb_find(source, "table"), "rel", 3);
	ev->label = link->label;
	element->val.object.nPairs = 0;
	element->val.object.pairs = palloc(sizeof(JsonbPair) * 5);
	return element;
}

/*
 * Fill a relation element, keys in jsonb order: id, endId, labels,
 * startId, properties.  end_id is NULL for a delete whose old row does
 * not carry the foreign key (the ends are then left out: Drasi deletes
 * by id).
 */
static void
rel_element(JsonbValue *element, PgcdcRelLink *link, const char *id,
			const char *start_id, const char *end_id)
{
	JsonbValue *props;

	jb_string(JB_KEY(element, "id"), id, strlen(id));
	if (end_id != NULL)
		jb_string(JB_KEY(element, "endId"), end_id, strlen(end_id));
	jb_labels(JB_KEY(element, "labels"), link->label);
	if (end_id != NULL)
		jb_string(JB_KEY(element, "startId"), start_id, strlen(start_id));
	props = JB_KEY(element, "properties");
	props->type = jbvObject;
	props->val.object.nPairs = 0;
	props->val.object.pairs = NULL;
}

/* Emit an event of the relation link of the row whose node is node_id. */
static void
emit_relation(PgcdcTxContext *tx, PgcdcRelEntry *entry, PgcdcRelLink *link, char op,
			  const char *node_id, const char *end_id, PgcdcEmitFn emit, void *arg)
{
	PgcdcEvent	ev;
	JsonbValue *root;
	char	   *id = pgcdc_relation_id(entry, link, node_id);
	JsonbValue *element = rel_event_begin(&ev, tx, entry, link, op, id, &root);

	rel_element(element, link, id, node_id, end_id);
	event_end(&ev, tx, root, entry, NULL, emit, arg);
}

/*
 * What an old row says of the end of a link: unknown unless the WAL
 * carries the link's columns in old rows (the replica identity has them).
 */
static PgcdcRelEnd
old_end(PgcdcRelEntry *entry, PgcdcRelLink *link, LogicalRepTupleData *old, char **end_id)
{
	int			k;

	if (old == NULL)
		return PGCDC_REL_END_UNKNOWN;
	if (entry->replident != REPLICA_IDENTITY_FULL)
		for (k = 0; k < link->ncols; k++)
			if (!bms_is_member(link->cols[k], entry->ri_attrs))
				return PGCDC_REL_END_UNKNOWN;
	return pgcdc_relation_end(link, old, NULL, end_id);
}

/* The relations of a row that is gone (deleted, or its key changed): deletes. */
static void
relations_removed(PgcdcTxContext *tx, PgcdcRelEntry *entry, const char *node_id,
				  LogicalRepTupleData *old, PgcdcEmitFn emit, void *arg)
{
	ListCell   *lc;

	foreach(lc, entry->links)
	{
		PgcdcRelLink *link = (PgcdcRelLink *) lfirst(lc);
		char	   *end_id = NULL;
		PgcdcRelEnd end = old_end(entry, link, old, &end_id);

		if (end != PGCDC_REL_END_NULL)
			emit_relation(tx, entry, link, 'd', node_id, end_id, emit, arg);
	}
}

/* The relations of a new row (inserted, or its key changed): inserts. */
static void
relations_added(PgcdcTxContext *tx, PgcdcRelEntry *entry, const char *node_id,
				LogicalRepTupleData *tup, LogicalRepTupleData *fallback,
				PgcdcEmitFn emit, void *arg)
{
	ListCell   *lc;

	foreach(lc, entry->links)
	{
		PgcdcRelLink *link = (PgcdcRelLink *) lfirst(lc);
		char	   *end_id;

		if (pgcdc_relation_end(link, tup, fallback, &end_id) == PGCDC_REL_END_SET)
			emit_relation(tx, entry, link, 'i', node_id, end_id, emit, arg);
	}
}

/*
 * The relations of a row updated under the same node id.  With the old
 * foreign key known: nothing when it did not change, else the old
 * relation's delete and the new one's insert.  Without it (REPLICA
 * IDENTITY DEFAULT): an update of the relation when the new row has one
 * (Drasi creates it if it does not exist), a delete when it has none.
 */
static void
relations_updated(PgcdcTxContext *tx, PgcdcRelEntry *entry, const char *node_id,
				  LogicalRepTupleData *old, LogicalRepTupleData *tup,
				  PgcdcEmitFn emit, void *arg)
{
	ListCell   *lc;

	foreach(lc, entry->links)
	{
		PgcdcRelLink *link = (PgcdcRelLink *) lfirst(lc);
		char	   *old_id = NULL;
		char	   *new_id = NULL;
		PgcdcRelEnd before = old_end(entry, link, old, &old_id);
		PgcdcRelEnd after = pgcdc_relation_end(link, tup, old, &new_id);

		if (after == PGCDC_REL_END_UNKNOWN)
			continue;
		if (before == PGCDC_REL_END_UNKNOWN)
		{
			if (after == PGCDC_REL_END_SET)
				emit_relation(tx, entry, link, 'u', node_id, new_id, emit, arg);
			else
				emit_relation(tx, entry, link, 'd', node_id, NULL, emit, arg);
			continue;
		}
		if (before == PGCDC_REL_END_SET && after == PGCDC_REL_END_SET &&
			strcmp(old_id, new_id) == 0)
			continue;
		if (before == PGCDC_REL_END_SET)
			emit_relation(tx, entry, link, 'd', node_id, old_id, emit, arg);
		if (after == PGCDC_REL_END_SET)
			emit_relation(tx, entry, link, 'i', node_id, new_id, emit, arg);
	}
}

/* A truncate of a table's relations: one "rel" 't' event per relation. */
static void
truncate_relations(PgcdcTxContext *tx, PgcdcRelEntry *entry, PgcdcEmitFn emit, void *arg)
{
	ListCell   *lc;

	foreach(lc, entry->links)
	{
		PgcdcRelLink *link = (PgcdcRelLink *) lfirst(lc);
		PgcdcEvent	ev;
		JsonbValue *root;
		JsonbValue *element = rel_event_begin(&ev, tx, entry, link, 't', NULL, &root);

		jb_labels(JB_KEY(element, "labels"), link->label);
		jb_string(JB_KEY(element, "idPrefix"), link->id_prefix, strlen(link->id_prefix));
		event_end(&ev, tx, root, entry, NULL, emit, arg);
	}
}

/* Both ends of a join table's row, or which is missing. */
static PgcdcRelEnd
join_ends(PgcdcRelEntry *entry, LogicalRepTupleData *tup, LogicalRepTupleData *fallback,
		  bool old, char **start_id, char **end_id)
{
	PgcdcRelEnd s;
	PgcdcRelEnd e;

	if (old)
	{
		s = old_end(entry, entry->join_start, tup, start_id);
		e = old_end(entry, entry->join_end, tup, end_id);
	}
	else
	{
		s = pgcdc_relation_end(entry->join_start, tup, fallback, start_id);
		e = pgcdc_relation_end(entry->join_end, tup, fallback, end_id);
	}
	if (s == PGCDC_REL_END_NULL || e == PGCDC_REL_END_NULL)
		return PGCDC_REL_END_NULL;
	if (s == PGCDC_REL_END_UNKNOWN || e == PGCDC_REL_END_UNKNOWN)
		return PGCDC_REL_END_UNKNOWN;
	return PGCDC_REL_END_SET;
}

/*
 * Emit an event of a join table's row: the relation whose id is the id
 * the row's node would have, with the row's columns as properties.  A
 * delete without the ends (the WAL does not carry them) names the
 * relation by id only.
 */
static void
emit_join_event(PgcdcTxContext *tx, PgcdcRelEntry *entry, char op, const char *id,
				const char *start_id, const char *end_id, LogicalRepTupleData *tup,
				LogicalRepTupleData *fallback, PgcdcEmitFn emit, void *arg)
{
	PgcdcEvent	ev;
	JsonbValue *root;
	JsonbValue *element = event_begin(&ev, tx, entry, op, id, &root);
	JsonbValue *source = jb_find(jb_find(root, "payload"), "source");
	bool		identity_only = (op == 'd' && entry->replident != REPLICA_IDENTITY_FULL);

	jb_string(jb_find(source, "table"), "rel", 3);
	element->val.object.nPairs = 0;
	element->val.object.pairs = palloc(sizeof(JsonbPair) * 5);
	jb_string(JB_KEY(element, "id"), id, strlen(id));
	if (end_id != NULL)
		jb_string(JB_KEY(element, "endId"), end_id, strlen(end_id));
	jb_labels(JB_KEY(element, "labels"), entry->label);
	if (start_id != NULL)
		jb_string(JB_KEY(element, "startId"), start_id, strlen(start_id));
	(void) jb_properties(JB_KEY(element, "properties"), entry, tup, fallback, identity_only, id);
	event_end(&ev, tx, root, entry, NULL, emit, arg);
}

/*
 * The events of a join table's row change (op as for its node): an
 * insert when both ends are set; on update, the relation's update, or a
 * delete and an insert when the old ends are known to differ, or a
 * delete when an end became NULL; on delete, a delete unless the old
 * row is known to have had no relation.
 */
static void
emit_join_row(PgcdcTxContext *tx, PgcdcRelEntry *entry, char op, const char *id,
			  LogicalRepTupleData *tup, LogicalRepTupleData *fallback,
			  PgcdcEmitFn emit, void *arg)
{
	char	   *start_id = NULL;
	char	   *end_id = NULL;
	char	   *old_start = NULL;
	char	   *old_end_id = NULL;
	PgcdcRelEnd after;
	PgcdcRelEnd before;

	switch (op)
	{
		case 'i':
			if (join_ends(entry, tup, fallback, false, &start_id, &end_id) == PGCDC_REL_END_SET)
				emit_join_event(tx, entry, 'i', id, start_id, end_id, tup, fallback, emit, arg);
			break;
		case 'd':
			before = join_ends(entry, tup, NULL, true, &start_id, &end_id);
			if (before == PGCDC_REL_END_SET)
				emit_join_event(tx, entry, 'd', id, start_id, end_id, tup, NULL, emit, arg);
			else if (before == PGCDC_REL_END_UNKNOWN)
				emit_join_event(tx, entry, 'd', id, NULL, NULL, tup, NULL, emit, arg);
			break;
		case 'u':
			after = join_ends(entry, tup, fallback, false, &start_id, &end_id);
			before = fallback != NULL ?
				join_ends(entry, fallback, NULL, true, &old_start, &old_end_id) :
				PGCDC_REL_END_UNKNOWN;
			if (after == PGCDC_REL_END_UNKNOWN)
				break;
			if (after == PGCDC_REL_END_NULL)
			{
				if (before != PGCDC_REL_END_NULL)
					emit_join_event(tx, entry, 'd', id, NULL, NULL, fallback != NULL ? fallback : tup,
									NULL, emit, arg);
				break;
			}
			if (before == PGCDC_REL_END_SET &&
				(strcmp(old_start, start_id) != 0 || strcmp(old_end_id, end_id) != 0))
			{
				emit_join_event(tx, entry, 'd', id, old_start, old_end_id, fallback, NULL, emit, arg);
				emit_join_event(tx, entry, 'i', id, start_id, end_id, tup, fallback, emit, arg);
			}
			else
				emit_join_event(tx, entry, before == PGCDC_REL_END_NULL ? 'i' : 'u', id,
								start_id, end_id, tup, fallback, emit, arg);
			break;
		default:
			elog(ERROR, "unexpected operation %c", op);
	}
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

	/*
	 * root: op, payload (element first: "after"/"before" < "source"),
	 * metadata, ...
	 */
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
			{
				char	   *id = element_id(entry, &change->newtup, NULL, "new");

				emit_row(tx, entry, 'i', id, &change->newtup, NULL, false, emit, arg);
				relations_added(tx, entry, id, &change->newtup, NULL, emit, arg);
			}
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
					relations_removed(tx, entry, old_id, old, emit, arg);
					emit_row(tx, entry, 'd', old_id, old, NULL, false, emit, arg);
					emit_row(tx, entry, 'i', new_id, &change->newtup, old, true, emit, arg);
					relations_added(tx, entry, new_id, &change->newtup, old, emit, arg);
				}
				else
				{
					emit_row(tx, entry, 'u', new_id, &change->newtup, old, false, emit, arg);
					relations_updated(tx, entry, new_id, old, &change->newtup, emit, arg);
				}
				break;
			}

		case LOGICAL_REP_MSG_DELETE:
			entry = pgcdc_relcache_lookup(cache, change->relid);
			if (entry->ignored)
				return;
			if (entry->key_fallback)
				cache->key_fallbacks++;
			{
				char	   *id = element_id(entry, &change->oldtup, NULL, "deleted");

				relations_removed(tx, entry, id, &change->oldtup, emit, arg);
				emit_row(tx, entry, 'd', id, &change->oldtup, NULL, false, emit, arg);
			}
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
					if (entry->join_start != NULL)
						jb_string(jb_find(jb_find(jb_find(root, "payload"), "source"), "table"),
								  "rel", 3);
					jb_string(JB_KEY(element, "idPrefix"), entry->id_prefix,
							  strlen(entry->id_prefix));
					event_end(&ev, tx, root, entry, NULL, emit, arg);
					truncate_relations(tx, entry, emit, arg);
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
 * Drasi's bootstrap elements.  A join table's row is a relation element
 * (with "startId" and "endId"), or NULL when an end is NULL.
 */
Jsonb *
pgcdc_map_element(PgcdcRelCache *cache, LogicalRepRelId relid, LogicalRepTupleData *tup)
{
	PgcdcRelEntry *entry = pgcdc_relcache_lookup(cache, relid);
	char	   *id;
	JsonbValue *element;

	if (entry->join_start != NULL)
	{
		char	   *start_id;
		char	   *end_id;

		if (join_ends(entry, tup, NULL, false, &start_id, &end_id) != PGCDC_REL_END_SET)
			return NULL;
		id = element_id(entry, tup, NULL, "new");
		element = jb_object(5);
		jb_string(JB_KEY(element, "id"), id, strlen(id));
		jb_string(JB_KEY(element, "endId"), end_id, strlen(end_id));
		jb_labels(JB_KEY(element, "labels"), entry->label);
		jb_string(JB_KEY(element, "startId"), start_id, strlen(start_id));
		jb_properties(JB_KEY(element, "properties"), entry, tup, NULL, false, id);
		return JsonbValueToJsonb(element);
	}
	id = element_id(entry, tup, NULL, "new");
	element = jb_object(3);
	jb_string(JB_KEY(element, "id"), id, strlen(id));
	jb_labels(JB_KEY(element, "labels"), entry->label);
	jb_properties(JB_KEY(element, "properties"), entry, tup, NULL, false, id);
	return JsonbValueToJsonb(element);
}

/*
 * The relation elements a row starts, as bootstrap elements
 * {"id","endId","labels","startId","properties"}: those whose label is in
 * labels (all when labels is NIL).  A list of Jsonb.
 */
List *
pgcdc_map_relation_elements(PgcdcRelCache *cache, LogicalRepRelId relid,
							LogicalRepTupleData *tup, List *labels)
{
	PgcdcRelEntry *entry = pgcdc_relcache_lookup(cache, relid);
	List	   *result = NIL;
	char	   *node_id = NULL;
	ListCell   *lc;

	foreach(lc, entry->links)
	{
		PgcdcRelLink *link = (PgcdcRelLink *) lfirst(lc);
		char	   *end_id;
		char	   *id;
		JsonbValue *element;
		ListCell   *ll;
		bool		wanted = (labels == NIL);

		foreach(ll, labels)
		{
			if (strcmp((char *) lfirst(ll), link->label) == 0)
				wanted = true;
		}
		if (!wanted || pgcdc_relation_end(link, tup, NULL, &end_id) != PGCDC_REL_END_SET)
			continue;
		if (node_id == NULL)
			node_id = element_id(entry, tup, NULL, "new");
		id = pgcdc_relation_id(entry, link, node_id);
		element = jb_object(5);
		rel_element(element, link, id, node_id, end_id);
		result = lappend(result, JsonbValueToJsonb(element));
	}
	return result;
}
