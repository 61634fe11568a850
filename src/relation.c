/*-------------------------------------------------------------------------
 *
 * relation.c
 *		The relation cache of a source: what each published table looks
 *		like, which columns form its key, its label and excluded columns.
 *
 * Column names and types come from pgoutput's Relation messages, which
 * describe each change exactly as it was written, so ALTER TABLE in the
 * middle of the stream needs no restart.  Snapshots describe tables to
 * a cache of their own the way a Relation message would (snapshot.c).
 * Which columns form the key is read from the catalogs once per
 * Relation message (and again after the configuration changed), never
 * per row: in order of preference the columns set with set_table_key,
 * the primary key, and the replica identity index; a table with none of
 * these is keyless and its rows get an id derived from all their values.
 * The key must be one the message can express and the WAL carries for
 * every operation (resolve_keys says how that is ensured); configured
 * columns are found by the attnums recorded with them, so they follow
 * renames.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/relation.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "rewrite/rowsecurity.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "compat.h"
#include "pgcdc_drasi.h"
#include "relation.h"
#include "relations.h"
#include "value.h"

static int	cmp_jsonb_key(const void *a, const void *b, void *arg);

/*
 * A new cache for a source, in its own memory context under parent.
 * owner may be InvalidOid: no SELECT check (the caller reads the tables
 * with its own privileges).
 */
PgcdcRelCache *
pgcdc_relcache_create(const char *source_id, Oid owner, MemoryContext parent)
{
	HASHCTL		ctl;
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
	cache->owner = owner;
	return cache;
}

/*
 * Hand over the number of changes mapped with a fallback key since the
 * last call (the worker adds it to its status counter; snapshots and
 * bootstrap() have no counter and never call this).
 */
uint64
pgcdc_relcache_take_key_fallbacks(PgcdcRelCache *cache)
{
	uint64		n = cache->key_fallbacks;

	cache->key_fallbacks = 0;
	return n;
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
	entry->checked = false;
	entry->nkeys = 0;
	entry->keys = NULL;
	entry->keyless = false;
	entry->key_fallback = false;
	entry->excluded = NULL;
	entry->links = NIL;
	entry->join_start = NULL;
	entry->join_end = NULL;

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

/*
 * Index in the Relation message of a configured column: the column that
 * has its recorded attnum today, by today's name (a message after a
 * rename), else by the name it was recorded with (a message written
 * before the rename).  -1 when the message has neither.
 */
static int
configured_column_index(PgcdcRelEntry *entry, AttrNumber attnum, const char *recorded)
{
	int			idx = -1;

	if (attnum > 0)
	{
		char	   *current = get_attname(entry->relid, attnum, true);

		if (current != NULL)
			idx = column_index(entry, current);
	}
	if (idx < 0 && recorded != NULL)
		idx = column_index(entry, recorded);
	return idx;
}

/* attnums of the primary key columns of a table, or NIL. */
static List *
primary_key_attnums(Relation rel)
{
	List	   *result = NIL;
	Oid			pkoid = pgcdc_primary_key_index(rel);
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
		result = lappend_int(result, index->indkey.values[i]);
	ReleaseSysCache(tup);
	return result;
}

/* Does a policy's role list include role (PUBLIC, or a role it has the rights of)? */
static bool
policy_applies_to(ArrayType *policy_roles, Oid role)
{
	Datum	   *roles;
	int			nroles;
	int			i;

	deconstruct_array(policy_roles, OIDOID, sizeof(Oid), true, TYPALIGN_INT,
					  &roles, NULL, &nroles);
	for (i = 0; i < nroles; i++)
		if (DatumGetObjectId(roles[i]) == ACL_ID_PUBLIC ||
			has_privs_of_role(role, DatumGetObjectId(roles[i])))
			return true;
	return false;
}

/*
 * Error if row-level security limits what role sees of a table: a source
 * publishes every row of its tables to all readers of its queue and to
 * every listener, so it must not capture a table whose rows its owner
 * sees only in part.  Owners of the table (unless FORCE ROW LEVEL
 * SECURITY) and roles with BYPASSRLS see every row and pass.  source_id
 * is NULL at create_source, whose caller becomes the owner.  The error
 * names the policies that decide which rows role sees.
 */
void
pgcdc_check_row_security(Relation rel, Oid role, const char *source_id)
{
	StringInfoData names;
	int			npolicies = 0;
	char	   *table;
	const char *detail_tail = "but a source publishes every row of its tables to all readers of its queue and notifications.";

	Assert(rel != NULL && OidIsValid(role));
	if (check_enable_rls(RelationGetRelid(rel), role, true) != RLS_ENABLED)
		return;

	initStringInfo(&names);
	if (rel->rd_rsdesc != NULL)
	{
		ListCell   *lc;

		foreach(lc, rel->rd_rsdesc->policies)
		{
			RowSecurityPolicy *policy = (RowSecurityPolicy *) lfirst(lc);

			if (policy->polcmd != '*' && policy->polcmd != ACL_SELECT_CHR)
				continue;
			if (!policy_applies_to(policy->roles, role))
				continue;
			appendStringInfo(&names, "%s\"%s\"", npolicies > 0 ? ", " : "", policy->policy_name);
			npolicies++;
		}
	}

	if (source_id == NULL)
	{
		table = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										   RelationGetRelationName(rel));
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" is subject to row-level security on table %s",
						GetUserNameFromId(role, false), table),
				 npolicies == 0 ?
				 errdetail("No policy lets the role see any row, %s", detail_tail) :
				 errdetail_plural("Policy %s limits the rows the role may see, %s",
								  "Policies %s limit the rows the role may see, %s",
								  npolicies, names.data, detail_tail),
				 errhint("Create the source as a role that owns the table or has the BYPASSRLS attribute, or remove the table from the publication.")));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("owner of source \"%s\" is subject to row-level security on table \"%s.%s\"",
					source_id, get_namespace_name(RelationGetNamespace(rel)),
					RelationGetRelationName(rel)),
			 npolicies == 0 ?
			 errdetail("No policy lets the role see any row, %s", detail_tail) :
			 errdetail_plural("Policy %s limits the rows the role may see, %s",
							  "Policies %s limit the rows the role may see, %s",
							  npolicies, names.data, detail_tail),
			 errhint("Give the source's owner the BYPASSRLS attribute, disable row-level security on the table, or remove the table from the publication; the source then resumes at the refused change.")));
}

/* qsort comparator for column indexes. */
static int
cmp_int(const void *a, const void *b)
{
	return *(const int *) a - *(const int *) b;
}

/* The names of a relation's columns whose indexes are in set, for messages. */
static char *
column_names(PgcdcRelEntry *entry, Bitmapset *set)
{
	StringInfoData buf;
	int			idx = -1;

	initStringInfo(&buf);
	while ((idx = bms_next_member(set, idx)) >= 0)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
						 quote_identifier(entry->attnames[idx]));
	return buf.data;
}

/*
 * Decide which columns of the Relation message are left out of the
 * properties.  Exclusion is a privacy control, so it fails closed: a
 * configured column is matched by its recorded attnum's name today and by
 * the name it was recorded with, and if some exclusion matches no column
 * of a message that has columns the table no longer knows by that name
 * (renamed more than once since), those columns are withheld too.
 */
static void
resolve_exclusions(PgcdcRelEntry *entry, PgcdcTableConfig *config)
{
	ListCell   *ln;
	ListCell   *la;
	bool		unmatched = false;
	Bitmapset  *withheld = NULL;
	MemoryContext old;

	Assert(list_length(config->exclude_names) == list_length(config->exclude_attnums));
	old = MemoryContextSwitchTo(entry->mcxt);
	bms_free(entry->excluded);
	entry->excluded = NULL;
	forboth(ln, config->exclude_names, la, config->exclude_attnums)
	{
		const char *recorded = (const char *) lfirst(ln);
		AttrNumber	attnum = (AttrNumber) lfirst_int(la);
		char	   *current = attnum > 0 ? get_attname(entry->relid, attnum, true) : NULL;
		bool		matched = false;
		int			i;

		for (i = 0; i < entry->natts; i++)
		{
			if (strcmp(entry->attnames[i], recorded) == 0 ||
				(current != NULL && strcmp(entry->attnames[i], current) == 0))
			{
				entry->excluded = bms_add_member(entry->excluded, i);
				matched = true;
			}
		}
		if (!matched)
			unmatched = true;
	}
	if (unmatched)
	{
		int			i;

		for (i = 0; i < entry->natts; i++)
			if (!bms_is_member(i, entry->excluded) &&
				get_attnum(entry->relid, entry->attnames[i]) == InvalidAttrNumber)
				withheld = bms_add_member(withheld, i);
	}
	MemoryContextSwitchTo(old);

	if (!bms_is_empty(withheld))
	{
		ereport(WARNING,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("columns %s of table \"%s.%s\" are left out of the properties",
						column_names(entry, withheld), entry->nspname, entry->relname),
				 errdetail("Source \"%s\" excludes columns of this table that these changes, written before a column was renamed, do not name, so every column the table no longer has by that name is withheld.",
						   entry->cache->source_id),
				 errhint("The columns reappear with the table's current description; to be sure, set the excluded columns again with pgcdc_drasi.set_excluded_columns().")));
		old = MemoryContextSwitchTo(entry->mcxt);
		entry->excluded = bms_add_members(entry->excluded, withheld);
		MemoryContextSwitchTo(old);
	}
}

/*
 * The indexes in the Relation message of key columns given by attnum
 * (with the names they were recorded with, or NIL), or NULL with
 * *missing set to the first one the message does not have.
 */
static Bitmapset *
find_key(PgcdcRelEntry *entry, List *names, List *attnums, const char **missing)
{
	Bitmapset  *key = NULL;
	ListCell   *la;
	int			i = 0;

	Assert(names == NIL || list_length(names) == list_length(attnums));
	foreach(la, attnums)
	{
		AttrNumber	attnum = (AttrNumber) lfirst_int(la);
		const char *recorded = names != NIL ? (const char *) list_nth(names, i) : NULL;
		int			idx = configured_column_index(entry, attnum, recorded);

		i++;
		if (idx < 0)
		{
			*missing = recorded != NULL ? recorded :
				(attnum > 0 ? get_attname(entry->relid, attnum, true) : NULL);
			if (*missing == NULL)
				*missing = psprintf("#%d", (int) attnum);
			bms_free(key);
			return NULL;
		}
		key = bms_add_member(key, idx);
	}
	return key;
}

/*
 * Whether the WAL carries key columns for every operation of a message's
 * relation: always under REPLICA IDENTITY FULL, and when there is no
 * replica identity at all (no old row is ever sent: the publication
 * publishes inserts only), otherwise when the replica identity has them.
 */
static bool
key_carried(PgcdcRelEntry *entry, Bitmapset *key)
{
	return entry->replident == REPLICA_IDENTITY_FULL || bms_is_empty(entry->ri_attrs) ||
		bms_is_subset(key, entry->ri_attrs);
}

/*
 * Decide the key columns of a relation, and check that the source's
 * owner may read it: a table added to the publication later is never
 * captured behind its back.
 *
 * The key must be one this Relation message can express and the WAL
 * carries for every operation.  In order of preference: the columns set
 * with set_table_key, the primary key, the message's replica identity
 * columns (a table without any of these is keyless).  A configured
 * column is found by its recorded attnum's name today or by the name it
 * was recorded with, so it follows renames.  A primary key outside a
 * replica identity index gives way to the index: that is the documented
 * rule, which create_source announces.  Any other step down (the changes
 * were written before the table, its key or its replica identity
 * changed) is a fallback: a WARNING, and every change so mapped counts.
 */
static void
resolve_keys(PgcdcRelEntry *entry)
{
	PgcdcTableConfig config;
	const char *origin = NULL;
	const char *missing = NULL;
	Relation	rel;
	List	   *pk = NIL;
	Bitmapset  *chosen = NULL;
	Bitmapset  *key;
	bool		from_pk = false;
	int			n = 0;
	int			idx;

	rel = try_relation_open(entry->relid, AccessShareLock);

	/*
	 * Check what the owner may read, unless the table is gone and was checked
	 * already for this description of it (keys are resolved again after
	 * configuration changes, too).
	 */
	if (OidIsValid(entry->cache->owner) && !(rel == NULL && entry->checked))
	{
		/*
		 * A table dropped after the change was written has no privileges left
		 * to check: fail closed, and say how to get past it.
		 */
		if (rel == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot check that the owner of source \"%s\" may read table \"%s.%s\"",
							entry->cache->source_id, entry->nspname, entry->relname),
					 errdetail("The table was dropped before the worker read its change, so its privileges are gone; a change whose privileges cannot be checked is never published."),
					 errhint("Call pgcdc_drasi.resync_source('%s') to skip the changes not yet published and take a new snapshot of the source's tables.",
							 entry->cache->source_id)));
		if (pg_class_aclcheck(entry->relid, entry->cache->owner, ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("owner of source \"%s\" cannot read table \"%s.%s\"",
							entry->cache->source_id, entry->nspname, entry->relname),
					 errdetail("The table is in the source's publication, but its changes are published only to roles that may SELECT from it."),
					 errhint("GRANT SELECT on the table to the source's owner, or remove the table from the publication.")));
		pgcdc_check_row_security(rel, entry->cache->owner, entry->cache->source_id);
		entry->checked = true;
	}

	if (rel != NULL)
	{
		pk = primary_key_attnums(rel);
		relation_close(rel, AccessShareLock);
	}

	pgcdc_catalog_get_table_config(entry->cache->source_id, entry->relid, &config);
	entry->label = config.label ? MemoryContextStrdup(entry->mcxt, config.label) : entry->relname;
	resolve_exclusions(entry, &config);

	entry->key_fallback = false;
	if (config.key_names != NIL)
	{
		key = find_key(entry, config.key_names, config.key_attnums, &missing);
		if (key != NULL && key_carried(entry, key))
			chosen = key;
		else
		{
			entry->key_fallback = true;
			origin = "set_table_key";
		}
	}
	if (chosen == NULL && pk != NIL)
	{
		const char *pk_missing = NULL;

		key = find_key(entry, NIL, pk, &pk_missing);
		if (key != NULL && key_carried(entry, key))
		{
			chosen = key;
			from_pk = true;
		}
		else if (!entry->key_fallback &&
				 !(key != NULL && entry->replident == REPLICA_IDENTITY_INDEX))
		{
			entry->key_fallback = true;
			origin = "the primary key";
			missing = pk_missing;
		}
	}

	entry->keyless = false;
	if (chosen == NULL && !bms_is_empty(entry->ri_attrs) &&
		entry->replident != REPLICA_IDENTITY_FULL)
		chosen = entry->ri_attrs;
	if (chosen != NULL)
	{
		entry->keys = MemoryContextAlloc(entry->mcxt, sizeof(int) * bms_num_members(chosen));
		idx = -1;
		while ((idx = bms_next_member(chosen, idx)) >= 0)
			entry->keys[n++] = idx;
	}
	else
		entry->keyless = true;

	if (entry->key_fallback)
		ereport(WARNING,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("changes of table \"%s.%s\" are mapped with %s",
						entry->nspname, entry->relname,
						entry->keyless ? "an id derived from all their values" :
						psprintf("%s %s", from_pk ? "the primary key" : "the replica identity columns",
								 column_names(entry, chosen))),
				 missing != NULL ?
				 errdetail("Key column \"%s\" (from %s) is not in the description of the table that comes with these changes: they were written before the table or its key changed.",
						   missing, origin) :
				 errdetail("The key from %s is not part of the replica identity these changes were written with, so the WAL does not carry it for every operation.",
						   origin),
				 errhint("Element ids of these changes can differ from those of later changes; pgcdc_drasi.resnapshot() of the table makes the nodes consistent again.")));

	entry->nkeys = n;
	if (n > 1)
		qsort(entry->keys, n, sizeof(int), cmp_int);
	pgcdc_relations_resolve(entry);
	entry->keys_valid = true;
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

/*
 * The cache entry of a relation a change refers to, its keys resolved.
 * A change before its relation's Relation message is a protocol error.
 */
PgcdcRelEntry *
pgcdc_relcache_lookup(PgcdcRelCache *cache, LogicalRepRelId relid)
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
	return pgcdc_relcache_lookup(cache, relid)->label;
}

/* Write numeric values as JSON strings (for consumers that read doubles). */
void
pgcdc_relcache_set_numeric_as_string(PgcdcRelCache *cache, bool on)
{
	cache->numeric_as_string = on;
}

/*
 * "schema.table" of a relation the cache has seen, or NULL: for error
 * messages, so it never reads the catalogs.
 */
const char *
pgcdc_relcache_name(PgcdcRelCache *cache, LogicalRepRelId relid)
{
	PgcdcRelEntry *entry;

	if (cache == NULL)
		return NULL;
	entry = hash_search(cache->hash, &relid, HASH_FIND, NULL);
	if (entry == NULL)
		return NULL;
	return psprintf("%s.%s", entry->nspname, entry->relname);
}
