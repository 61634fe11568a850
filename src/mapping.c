/*-------------------------------------------------------------------------
 *
 * mapping.c
 *		Rows to Drasi graph nodes: the relation cache, element ids and
 *		the change events.
 *
 * A node's label is its table's name (case kept, no schema); its id is
 * "table:key" for tables in schema public and "schema.table:key"
 * otherwise, which is what Drasi's own PostgreSQL source produces.  The
 * key columns are, in order of preference, those set with
 * set_table_key, the primary key, and the replica identity index.  A
 * table with none of these gets an id derived from all of the row's
 * values, so the same row always maps to the same node.
 *
 * Column names and types come from pgoutput's Relation messages, which
 * describe each change exactly as it was written, so ALTER TABLE in the
 * middle of the stream needs no restart.  Which columns form the key is
 * read from the catalogs once per Relation message (and again after
 * set_table_key), never per row.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/mapping.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "pgcdc_drasi.h"

/*
 * A cache of relations, for one source: the stream's, or a snapshot's
 * (which describes tables from the catalog rather than from Relation
 * messages, so the two must not share entries).
 */
struct PgcdcRelCache
{
	HTAB	   *hash;
	MemoryContext mcxt;
	char	   *source_id;
	char	   *source_json;	/* source id as a JSON string */
	Oid			owner;			/* the source's owner, for the SELECT check */
	bool		numeric_as_string;	/* numeric values as JSON strings */
};

/* What we know of one published relation. */
typedef struct PgcdcRelEntry
{
	LogicalRepRelId relid;		/* hash key: the local table's oid */
	PgcdcRelCache *cache;
	MemoryContext mcxt;			/* owns everything below */
	bool		ignored;		/* our own tables: never published */
	char	   *nspname;
	char	   *relname;
	char	   *label;
	char	   *id_prefix;		/* "table:" or "schema.table:" */
	char		replident;
	int			natts;
	char	  **attnames;
	int		   *attname_len;
	int		   *key_order;		/* column indexes in jsonb key order */
	PgcdcValueType **types;
	Bitmapset  *ri_attrs;		/* replica identity columns (indexes) */
	bool		keys_valid;
	int			nkeys;
	int		   *keys;			/* column indexes, in table order */
	bool		keyless;		/* id is a digest of the whole row */
	Bitmapset  *excluded;		/* columns left out of the properties */
} PgcdcRelEntry;

/*
 * A new cache for a source, in its own memory context under parent.
 * owner may be InvalidOid: no SELECT check (the caller reads the tables
 * with its own privileges).
 */
PgcdcRelCache *
pgcdc_relcache_create(const char *source_id, Oid owner, MemoryContext parent)
{
	HASHCTL		ctl;
	StringInfoData buf;
	MemoryContext mcxt = AllocSetContextCreate(parent, "pgcdc_drasi relations",
											   ALLOCSET_DEFAULT_SIZES);
	PgcdcRelCache *cache = MemoryContextAllocZero(mcxt, sizeof(PgcdcRelCache));

	cache->mcxt = mcxt;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(LogicalRepRelId);
	ctl.entrysize = sizeof(PgcdcRelEntry);
	ctl.hcxt = mcxt;
	cache->hash = hash_create("pgcdc_drasi relations", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	cache->source_id = MemoryContextStrdup(mcxt, source_id);
	initStringInfo(&buf);
	escape_json(&buf, source_id);
	cache->source_json = MemoryContextStrdup(mcxt, buf.data);
	pfree(buf.data);
	cache->owner = owner;
	return cache;
}

/* Forget the keys of every relation: table keys were reconfigured. */
void
pgcdc_relcache_invalidate_keys(PgcdcRelCache *cache)
{
	HASH_SEQ_STATUS status;
	PgcdcRelEntry *entry;

	hash_seq_init(&status, cache->hash);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->keys_valid = false;
}

static int	cmp_jsonb_key(const void *a, const void *b, void *arg);

/*
 * Take in a Relation message.  pgoutput sends one before the first change
 * of a relation and again after its definition changed, so this is where
 * ALTER TABLE reaches us.  Catalog lookups need a transaction; the
 * caller has one open.
 */
void
pgcdc_relcache_update(PgcdcRelCache *cache, LogicalRepRelation *remoterel)
{
	PgcdcRelEntry *entry;
	bool		found;
	MemoryContext old;
	StringInfoData buf;
	int			i;

	entry = hash_search(cache->hash, &remoterel->remoteid, HASH_ENTER, &found);
	if (found)
		MemoryContextDelete(entry->mcxt);
	entry->cache = cache;
	entry->mcxt = AllocSetContextCreate(cache->mcxt, "pgcdc_drasi relation",
										ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(entry->mcxt);

	entry->nspname = pstrdup(remoterel->nspname[0] ? remoterel->nspname : "pg_catalog");
	entry->relname = pstrdup(remoterel->relname);
	entry->ignored = strcmp(entry->nspname, PGCDC_SCHEMA_NAME) == 0;
	entry->label = entry->relname;

	initStringInfo(&buf);
	if (strcmp(entry->nspname, "public") != 0)
		appendStringInfo(&buf, "%s.", entry->nspname);
	appendStringInfo(&buf, "%s:", entry->relname);
	entry->id_prefix = buf.data;

	entry->replident = remoterel->replident;
	entry->natts = remoterel->natts;
	entry->attnames = palloc(sizeof(char *) * Max(1, remoterel->natts));
	entry->attname_len = palloc(sizeof(int) * Max(1, remoterel->natts));
	entry->key_order = palloc(sizeof(int) * Max(1, remoterel->natts));
	entry->types = palloc(sizeof(PgcdcValueType *) * Max(1, remoterel->natts));
	for (i = 0; i < remoterel->natts; i++)
	{
		entry->attnames[i] = pstrdup(remoterel->attnames[i]);
		entry->attname_len[i] = strlen(entry->attnames[i]);
		entry->key_order[i] = i;
		entry->types[i] = entry->ignored ? NULL : pgcdc_value_type(remoterel->atttyps[i]);
	}
	qsort_arg(entry->key_order, entry->natts, sizeof(int), cmp_jsonb_key, entry->attnames);
	entry->ri_attrs = bms_copy(remoterel->attkeys);
	entry->keys_valid = false;
	entry->nkeys = 0;
	entry->keys = NULL;
	entry->keyless = false;
	entry->excluded = NULL;

	MemoryContextSwitchTo(old);
}

/* Index of a column in the relation message, or -1. */
static int
column_index(PgcdcRelEntry *entry, const char *name)
{
	int			i;

	for (i = 0; i < entry->natts; i++)
		if (strcmp(entry->attnames[i], name) == 0)
			return i;
	return -1;
}

/* A text[] datum as a list of C strings, in the current context. */
static List *
text_array_list(Datum d)
{
	List	   *result = NIL;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;

	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	for (i = 0; i < nelems; i++)
		if (!nulls[i])
			result = lappend(result, TextDatumGetCString(elems[i]));
	return result;
}

/*
 * What the source's configuration says of a table: key columns set with
 * set_table_key, a label set with set_table_label, columns left out with
 * set_excluded_columns (each NIL/NULL when not set).
 */
static void
load_table_config(PgcdcRelCache *cache, Oid relid, List **keys, char **label, List **excluded)
{
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	MemoryContext caller = CurrentMemoryContext;
	Oid			save_userid;
	int			save_sec_context;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	*keys = NIL;
	*label = NULL;
	*excluded = NIL;
	values[0] = CStringGetTextDatum(cache->source_id);
	values[1] = ObjectIdGetDatum(relid);

	/*
	 * Readers of bootstrap() may not read the configuration themselves; the
	 * lookup runs as the superuser, with operators that no search_path can
	 * replace.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT k.key_columns, o.label, o.exclude_columns FROM (SELECT) x "
							  "LEFT JOIN pgcdc_drasi.table_keys k "
							  "  ON k.source_id OPERATOR(pg_catalog.=) $1 AND k.table_id OPERATOR(pg_catalog.=) $2 "
							  "LEFT JOIN pgcdc_drasi.table_options o "
							  "  ON o.source_id OPERATOR(pg_catalog.=) $1 AND o.table_id OPERATOR(pg_catalog.=) $2",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read the table configuration of source \"%s\"", cache->source_id);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		d = SPI_getbinval(tup, desc, 1, &isnull);
		if (!isnull)
			*keys = text_array_list(d);
		d = SPI_getbinval(tup, desc, 2, &isnull);
		if (!isnull)
			*label = TextDatumGetCString(d);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		if (!isnull)
			*excluded = text_array_list(d);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	PopActiveSnapshot();
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/* Names of the primary key columns of a table, or NIL. */
static List *
primary_key_columns(Relation rel)
{
	List	   *result = NIL;
	Oid			pkoid = RelationGetPrimaryKeyIndex(rel);
	HeapTuple	tup;
	Form_pg_index index;
	int			i;

	if (!OidIsValid(pkoid))
		return NIL;
	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(pkoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for index %u", pkoid);
	index = (Form_pg_index) GETSTRUCT(tup);
	for (i = 0; i < index->indnkeyatts; i++)
		result = lappend(result, get_attname(RelationGetRelid(rel), index->indkey.values[i], false));
	ReleaseSysCache(tup);
	return result;
}

/* qsort comparator for column indexes. */
static int
cmp_int(const void *a, const void *b)
{
	return *(const int *) a - *(const int *) b;
}

/*
 * Decide the key columns of a relation, and check that the source's
 * owner may read it: a table added to the publication later is never
 * captured behind its back.
 */
static void
resolve_keys(PgcdcRelEntry *entry)
{
	List	   *names = NIL;
	char	   *label;
	List	   *excluded;
	const char *origin = NULL;
	Relation	rel;
	ListCell   *lc;
	int			n = 0;

	rel = try_relation_open(entry->relid, AccessShareLock);
	if (rel != NULL && OidIsValid(entry->cache->owner) &&
		pg_class_aclcheck(entry->relid, entry->cache->owner, ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("owner of source \"%s\" cannot read table \"%s.%s\"",
						entry->cache->source_id, entry->nspname, entry->relname),
				 errdetail("The table is in the source's publication, but its changes are published only to roles that may SELECT from it."),
				 errhint("GRANT SELECT on the table to the source's owner, or remove the table from the publication.")));

	load_table_config(entry->cache, entry->relid, &names, &label, &excluded);
	entry->label = label ? MemoryContextStrdup(entry->mcxt, label) : entry->relname;
	bms_free(entry->excluded);
	entry->excluded = NULL;
	foreach(lc, excluded)
	{
		int			idx = column_index(entry, (char *) lfirst(lc));

		if (idx >= 0)
		{
			MemoryContext old = MemoryContextSwitchTo(entry->mcxt);

			entry->excluded = bms_add_member(entry->excluded, idx);
			MemoryContextSwitchTo(old);
		}
	}
	if (names != NIL)
		origin = "set_table_key";
	else if (rel != NULL && (names = primary_key_columns(rel)) != NIL)
		origin = "the primary key";
	if (rel != NULL)
		relation_close(rel, AccessShareLock);

	entry->keyless = false;
	if (names != NIL)
	{
		entry->keys = MemoryContextAlloc(entry->mcxt, sizeof(int) * list_length(names));
		foreach(lc, names)
		{
			char	   *name = (char *) lfirst(lc);
			int			idx = column_index(entry, name);

			if (idx < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("key column \"%s\" of table \"%s.%s\" is not published",
								name, entry->nspname, entry->relname),
						 errdetail("The key comes from %s.", origin),
						 errhint("Include the column in the publication, or choose other key columns with pgcdc_drasi.set_table_key().")));
			entry->keys[n++] = idx;
		}
	}
	else if (!bms_is_empty(entry->ri_attrs) && entry->replident != REPLICA_IDENTITY_FULL)
	{
		int			idx = -1;

		entry->keys = MemoryContextAlloc(entry->mcxt, sizeof(int) * bms_num_members(entry->ri_attrs));
		while ((idx = bms_next_member(entry->ri_attrs, idx)) >= 0)
			entry->keys[n++] = idx;
	}
	else
		entry->keyless = true;

	entry->nkeys = n;
	if (n > 1)
		qsort(entry->keys, n, sizeof(int), cmp_int);
	entry->keys_valid = true;
}

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
		pgcdc_append_key_value(buf, entry->types[entry->keys[k]],
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

/* qsort comparator of column indexes by their names in jsonb key order. */
static int
cmp_jsonb_key(const void *a, const void *b, void *arg)
{
	char	  **names = (char **) arg;
	const char *na = names[*(const int *) a];
	const char *nb = names[*(const int *) b];
	int			la = strlen(na);
	int			lb = strlen(nb);

	if (la != lb)
		return la - lb;
	return memcmp(na, nb, la);
}

/* Fill the properties object of a row, keys in jsonb order. */
static void
jb_properties(JsonbValue *v, PgcdcRelEntry *entry, LogicalRepTupleData *tup,
			  LogicalRepTupleData *fallback, bool identity_only)
{
	JsonbValue *obj = v;
	int			k;

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
			continue;
		slot = jb_key(obj, entry->attnames[i], entry->attname_len[i]);
		if (status == LOGICALREP_COLUMN_NULL)
			slot->type = jbvNull;
		else
			pgcdc_value_to_jsonb(slot, entry->types[i], value->data, value->len,
								 entry->cache->numeric_as_string);
	}
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

/* Finish an event: metadata and the build times, then hand it on. */
static void
event_end(PgcdcEvent *ev, PgcdcTxContext *tx, JsonbValue *root, PgcdcEmitFn emit, void *arg)
{
	JsonbValue *meta = JB_KEY(root, "metadata");

	meta->type = jbvObject;
	meta->val.object.nPairs = 0;
	meta->val.object.pairs = palloc(sizeof(JsonbPair) * 4);
	jb_int64(JB_KEY(meta, "seq"), ev->seq);
	jb_int64(JB_KEY(meta, "xid"), (int64) tx->full_xid);
	jb_int64(JB_KEY(meta, "txIndex"), ev->tx_index);
	if (tx->snapshot)
	{
		JsonbValue *snap = JB_KEY(meta, "snapshot");

		snap->type = jbvBool;
		snap->val.boolean = true;
	}
	jb_int64(JB_KEY(root, "reactivatorEnd_ns"), unix_ns(GetCurrentTimestamp()));
	jb_int64(JB_KEY(root, "reactivatorStart_ns"), unix_ns(tx->received_at));

	ev->jsonb = JsonbValueToJsonb(root);
	ev->text = NULL;
	emit(tx, ev, arg);
}

/* Emit an insert, update or delete event of one row. */
static void
emit_row(PgcdcTxContext *tx, PgcdcRelEntry *entry, char op, const char *id,
		 LogicalRepTupleData *tup, LogicalRepTupleData *fallback,
		 PgcdcEmitFn emit, void *arg)
{
	PgcdcEvent	ev;
	JsonbValue *root;
	JsonbValue *element;
	bool		identity_only = (op == 'd' && entry->replident != REPLICA_IDENTITY_FULL);

	element = event_begin(&ev, tx, entry, op, id, &root);
	jb_properties(JB_KEY(element, "properties"), entry, tup, fallback, identity_only);
	event_end(&ev, tx, root, emit, arg);
}

/* The text of an event, made once when a sink needs text (NOTIFY). */
const char *
pgcdc_event_text(PgcdcEvent *ev, int *len)
{
	if (ev->text == NULL)
	{
		ev->text = JsonbToCString(NULL, &ev->jsonb->root, VARSIZE(ev->jsonb));
		ev->textlen = strlen(ev->text);
	}
	*len = ev->textlen;
	return ev->text;
}

/* The cache entry of a relation a change refers to. */
static PgcdcRelEntry *
lookup_relation(PgcdcRelCache *cache, LogicalRepRelId relid)
{
	PgcdcRelEntry *entry = hash_search(cache->hash, &relid, HASH_FIND, NULL);

	if (entry == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg_internal("change for relation %u arrived before its Relation message", relid)));
	if (!entry->ignored && !entry->keys_valid)
		resolve_keys(entry);
	return entry;
}

/*
 * Map one change to events and pass each to emit.  An UPDATE whose key
 * changed becomes a delete of the old node and an insert of the new one,
 * so no node is left behind under its old id.
 */
void
pgcdc_map_change(PgcdcRelCache *cache, PgcdcTxContext *tx, PgcdcChange *change,
				 PgcdcEmitFn emit, void *arg)
{
	PgcdcRelEntry *entry;

	switch (change->action)
	{
		case LOGICAL_REP_MSG_INSERT:
			entry = lookup_relation(cache, change->relid);
			if (entry->ignored)
				return;
			emit_row(tx, entry, 'i', element_id(entry, &change->newtup, NULL, "new"),
					 &change->newtup, NULL, emit, arg);
			break;

		case LOGICAL_REP_MSG_UPDATE:
			{
				LogicalRepTupleData *old = change->has_old ? &change->oldtup : NULL;
				char	   *new_id;
				char	   *old_id = NULL;

				entry = lookup_relation(cache, change->relid);
				if (entry->ignored)
					return;
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
					emit_row(tx, entry, 'd', old_id, old, NULL, emit, arg);
					emit_row(tx, entry, 'i', new_id, &change->newtup, old, emit, arg);
				}
				else
					emit_row(tx, entry, 'u', new_id, &change->newtup, old, emit, arg);
				break;
			}

		case LOGICAL_REP_MSG_DELETE:
			entry = lookup_relation(cache, change->relid);
			if (entry->ignored)
				return;
			emit_row(tx, entry, 'd', element_id(entry, &change->oldtup, NULL, "deleted"),
					 &change->oldtup, NULL, emit, arg);
			break;

		case LOGICAL_REP_MSG_TRUNCATE:
			{
				ListCell   *lc;

				foreach(lc, change->truncated)
				{
					PgcdcEvent	ev;

					JsonbValue *root;
					JsonbValue *element;

					entry = lookup_relation(cache, lfirst_oid(lc));
					if (entry->ignored)
						continue;
					element = event_begin(&ev, tx, entry, 't', NULL, &root);
					jb_string(JB_KEY(element, "idPrefix"), entry->id_prefix,
							  strlen(entry->id_prefix));
					event_end(&ev, tx, root, emit, arg);
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
	PgcdcRelEntry *entry = lookup_relation(cache, relid);
	char	   *id = element_id(entry, tup, NULL, "new");
	JsonbValue *element = jb_object(3);

	jb_string(JB_KEY(element, "id"), id, strlen(id));
	jb_labels(JB_KEY(element, "labels"), entry->label);
	jb_properties(JB_KEY(element, "properties"), entry, tup, NULL, false);
	return JsonbValueToJsonb(element);
}

/* The memory context of a cache: delete it to free the cache. */
MemoryContext
pgcdc_relcache_context(PgcdcRelCache *cache)
{
	return cache->mcxt;
}

/* The label of a cached relation, configuration included (bootstrap filters by it). */
const char *
pgcdc_relcache_label(PgcdcRelCache *cache, LogicalRepRelId relid)
{
	return lookup_relation(cache, relid)->label;
}

/* Write numeric values as JSON strings (for consumers that read doubles). */
void
pgcdc_relcache_set_numeric_as_string(PgcdcRelCache *cache, bool on)
{
	cache->numeric_as_string = on;
}
