/*-------------------------------------------------------------------------
 *
 * relations.c
 *		Foreign keys as Drasi relations.
 *
 * A source can publish, besides a node per row, a relation per row and
 * foreign key: from the row's node to the node its foreign key columns
 * name.  The relations of a table are its foreign key constraints to
 * other published tables (when the source has relations =>
 * 'foreign_keys', see set_relations()) and the ones declared with
 * set_relation(); a declared relation over the same columns and table
 * replaces the constraint's.
 *
 * The end node's id is built the way the referenced table's own rows get
 * theirs (mapping.c): its id prefix and its key columns (set_table_key or
 * the primary key), in table order, with the values the foreign key
 * columns hold.  A foreign key that does not name every key column of the
 * referenced table cannot name its nodes, and gives no relation.
 *
 * A relation's id is derived from the row's node id and the label only,
 * "table->LABEL:key" for node "table:key", so that a delete whose old row
 * carries nothing but the key (REPLICA IDENTITY DEFAULT) still names it,
 * and a truncate clears a table's relations by the prefix "table->LABEL:".
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/relations.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "catalog.h"
#include "pgcdc_drasi.h"
#include "relations.h"

/* A relation as the configuration describes it, before resolution. */
typedef struct Candidate
{
	char	   *label;			/* NULL: the default */
	char	   *conname;		/* constraint name, or NULL when declared */
	Oid			ref;
	int			ncols;
	AttrNumber *cols;			/* the row's columns */
	AttrNumber *refcols;		/* matching referenced columns, or NULL:
								 * declared, in the referenced key's order */
	int			nkey;
	AttrNumber *key;			/* the referenced nodes' key columns, or NULL */
} Candidate;

/*
 * The default label of a relation: the foreign key column's name without
 * a trailing "_id" (or "id"), upper-cased (customer_id: CUSTOMER); for a
 * foreign key of several columns the referenced table's name, upper-cased.
 */
char *
pgcdc_relations_default_label(const char *column, const char *references)
{
	char	   *label;
	int			len;
	int			i;

	if (column != NULL)
	{
		label = pstrdup(column);
		len = strlen(label);
		if (len > 3 && pg_strcasecmp(label + len - 3, "_id") == 0)
			label[len - 3] = '\0';
		else if (len > 2 && pg_strcasecmp(label + len - 2, "id") == 0)
			label[len - 2] = '\0';
	}
	else
		label = pstrdup(references);
	for (i = 0; label[i]; i++)
		label[i] = pg_ascii_toupper((unsigned char) label[i]);
	return label;
}

/* The int2[] value d as an array of attnums; *n gets its length. */
static AttrNumber *
attnum_array(Datum d, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	AttrNumber *result;
	int			i;

	deconstruct_array(DatumGetArrayTypeP(d), INT2OID, 2, true, TYPALIGN_SHORT,
					  &elems, &nulls, n);
	result = palloc(sizeof(AttrNumber) * Max(1, *n));
	for (i = 0; i < *n; i++)
		result[i] = nulls[i] ? InvalidAttrNumber : DatumGetInt16(elems[i]);
	return result;
}

/* Index of a column in the Relation message, by its attnum today; -1 if none. */
static int
column_index(PgcdcRelEntry *entry, AttrNumber attnum)
{
	char	   *name = attnum > 0 ? get_attname(entry->relid, attnum, true) : NULL;
	int			i;

	if (name == NULL)
		return -1;
	for (i = 0; i < entry->natts; i++)
		if (strcmp(entry->attnames[i], name) == 0)
			return i;
	return -1;
}

/* Compare attnums, for qsort. */
static int
cmp_attnum(const void *a, const void *b)
{
	return (int) *(const AttrNumber *) a - (int) *(const AttrNumber *) b;
}

/*
 * The key columns of a referenced table's nodes for a source, in table
 * order: set_table_key's, else the primary key's.  NULL when it has
 * neither (its nodes' ids are then not made of column values).
 */
static AttrNumber *
referenced_key(const char *source_id, Oid ref, int *n)
{
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	bool		isnull;
	Datum		d;
	AttrNumber *key;
	int			i;

	values[0] = CStringGetTextDatum(source_id);
	values[1] = ObjectIdGetDatum(ref);
	if (SPI_execute_with_args("SELECT COALESCE("
							  " (SELECT k.key_attnums FROM pgcdc_drasi.table_keys k"
							  "   WHERE k.source_id = $1 AND k.table_id = $2),"
							  " (SELECT c.conkey FROM pg_catalog.pg_constraint c"
							  "   WHERE c.conrelid = $2 AND c.contype = 'p'))",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read the key of table %u", ref);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return NULL;
	key = attnum_array(d, n);
	for (i = 0; i < *n; i++)
		if (key[i] == InvalidAttrNumber)
			return NULL;
	qsort(key, *n, sizeof(AttrNumber), cmp_attnum);
	return key;
}

/* "schema.table:" or "table:" (schema public): the id prefix of a table's nodes. */
static char *
node_id_prefix(Oid relid)
{
	char	   *nsp = get_namespace_name(get_rel_namespace(relid));
	char	   *rel = get_rel_name(relid);

	if (nsp == NULL || rel == NULL)
		return NULL;
	if (strcmp(nsp, "public") == 0)
		return psprintf("%s:", rel);
	return psprintf("%s.%s:", nsp, rel);
}

/* Say why a relation is left out of a table's changes. */
static void
skip_warning(PgcdcRelEntry *entry, const char *label, const char *why)
{
	ereport(WARNING,
			(errcode(ERRCODE_INVALID_FOREIGN_KEY),
			 errmsg("relation \"%s\" of table \"%s.%s\" is not published by source \"%s\"",
					label, entry->nspname, entry->relname, entry->cache->source_id),
			 errdetail("%s", why),
			 errhint("See pgcdc_drasi.set_relation() and pgcdc_drasi.set_table_key().")));
}

/*
 * Turn a candidate into a link of entry, or NULL (with a WARNING) when
 * its columns cannot name the referenced nodes.
 */
static PgcdcRelLink *
resolve_candidate(PgcdcRelEntry *entry, Candidate *c, List *links)
{
	PgcdcRelLink *link;
	AttrNumber *key = c->key;
	int			nkey = c->nkey;
	char	   *end_prefix;
	char	   *label = c->label;
	ListCell   *lc;
	int			k;

	if (label == NULL)
	{
		label = pgcdc_relations_default_label(c->ncols == 1 ? get_attname(entry->relid, c->cols[0], true) : NULL,
											  get_rel_name(c->ref));
		foreach(lc, links)
			if (strcmp(((PgcdcRelLink *) lfirst(lc))->label, label) == 0)
				label = pgcdc_relations_default_label(NULL, c->conname);
	}
	foreach(lc, links)
	{
		if (strcmp(((PgcdcRelLink *) lfirst(lc))->label, label) == 0)
		{
			skip_warning(entry, label, "Another relation of the table has this label.");
			return NULL;
		}
	}

	end_prefix = node_id_prefix(c->ref);
	if (end_prefix == NULL || key == NULL || nkey != c->ncols)
	{
		skip_warning(entry, label,
					 psprintf("Its columns do not name every key column of table %s, so they cannot name its nodes.",
							  end_prefix ? get_rel_name(c->ref) : "(dropped)"));
		return NULL;
	}

	link = palloc0(sizeof(PgcdcRelLink));
	link->label = pstrdup(label);
	link->ncols = nkey;
	link->cols = palloc(sizeof(int) * nkey);
	link->end_types = palloc(sizeof(PgcdcValueType *) * nkey);
	link->end_prefix = end_prefix;
	link->id_prefix = psprintf("%.*s->%s:", (int) strlen(entry->id_prefix) - 1,
							   entry->id_prefix, label);
	for (k = 0; k < nkey; k++)
	{
		AttrNumber	own = InvalidAttrNumber;
		int			i;

		if (c->refcols == NULL)
			own = c->cols[k];
		else
			for (i = 0; i < c->ncols; i++)
				if (c->refcols[i] == key[k])
					own = c->cols[i];
		link->cols[k] = column_index(entry, own);
		if (own == InvalidAttrNumber || link->cols[k] < 0)
		{
			skip_warning(entry, label,
						 own == InvalidAttrNumber ?
						 psprintf("Its columns do not name every key column of table %s, so they cannot name its nodes.",
								  get_rel_name(c->ref)) :
						 "One of its columns is not in the published columns of the table.");
			return NULL;
		}
		link->end_types[k] = pgcdc_value_type(get_atttype(c->ref, key[k]));
	}
	return link;
}

/* Read the candidates of a query's result (inside SPI) into the work context. */
static List *
read_candidates(List *candidates, bool declared, MemoryContext work)
{
	MemoryContext old = MemoryContextSwitchTo(work);
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Candidate  *c = palloc0(sizeof(Candidate));
		bool		replaced = false;
		bool		isnull;
		int			nref;
		ListCell   *ld;

		if (declared)
			c->label = SPI_getvalue(tup, desc, 1);
		else
			c->conname = SPI_getvalue(tup, desc, 1);
		c->ref = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		c->cols = attnum_array(SPI_getbinval(tup, desc, 3, &isnull), &c->ncols);
		if (declared)
		{
			candidates = lappend(candidates, c);
			continue;
		}
		c->refcols = attnum_array(SPI_getbinval(tup, desc, 4, &isnull), &nref);
		Assert(nref == c->ncols);

		/* A declared relation over the same columns replaces the constraint's. */
		foreach(ld, candidates)
		{
			Candidate  *d = (Candidate *) lfirst(ld);
			AttrNumber *a;
			AttrNumber *b;

			if (d->conname != NULL || d->ref != c->ref || d->ncols != c->ncols)
				continue;
			a = palloc(sizeof(AttrNumber) * c->ncols);
			b = palloc(sizeof(AttrNumber) * c->ncols);
			memcpy(a, c->cols, sizeof(AttrNumber) * c->ncols);
			memcpy(b, d->cols, sizeof(AttrNumber) * c->ncols);
			qsort(a, c->ncols, sizeof(AttrNumber), cmp_attnum);
			qsort(b, c->ncols, sizeof(AttrNumber), cmp_attnum);
			if (memcmp(a, b, sizeof(AttrNumber) * c->ncols) == 0)
				replaced = true;
		}
		if (!replaced)
			candidates = lappend(candidates, c);
	}
	MemoryContextSwitchTo(old);
	return candidates;
}

/*
 * The foreign keys of a table to tables of the source's publication;
 * all of them ($3 true), or only when the source publishes foreign keys.
 * Ordered by their first column, so that a join table's first foreign
 * key is its relations' start.
 */
#define FOREIGN_KEYS_SQL \
	"SELECT c.conname::text, c.confrelid, c.conkey, c.confkey" \
	"  FROM pg_catalog.pg_constraint c" \
	" WHERE c.conrelid = $2 AND c.contype = 'f'" \
	"   AND ($3 OR EXISTS (SELECT FROM pgcdc_drasi.relation_options o" \
	"                       WHERE o.source_id = $1 AND o.foreign_keys))" \
	"   AND EXISTS (SELECT FROM pg_catalog.pg_publication_tables pt" \
	"                 JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname" \
	"                 JOIN pg_catalog.pg_class r ON r.relnamespace = n.oid AND r.relname = pt.tablename" \
	"                WHERE r.oid = c.confrelid" \
	"                  AND pt.pubname = (SELECT s.publication FROM pgcdc_drasi.sources s" \
	"                                     WHERE s.source_id = $1))" \
	" ORDER BY c.conkey[1], c.conname"

/*
 * Resolve the relations of a cached table against the catalog as it is
 * now: the relations its rows start (entry->links) or, for a join table
 * (set_table_mode 'relation'), the two ends its rows join.  Called when
 * the entry's keys are resolved, so again after every reconfiguration.
 * The links live in entry's context.
 */
void
pgcdc_relations_resolve(PgcdcRelEntry *entry)
{
	PgcdcCatalogAccess access;
	Oid			argtypes[3] = {TEXTOID, OIDOID, BOOLOID};
	Datum		values[3];
	List	   *candidates = NIL;
	List	   *links = NIL;
	MemoryContext work;
	MemoryContext old;
	ListCell   *lc;
	bool		join = false;
	Oid			nsp = get_namespace_oid(PGCDC_SCHEMA_NAME, true);

	entry->links = NIL;
	entry->join_start = entry->join_end = NULL;

	/* Installed at a version without relations (not updated yet). */
	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("relations", nsp)))
		return;

	work = AllocSetContextCreate(CurrentMemoryContext, "pgcdc_drasi relations",
								 ALLOCSET_SMALL_SIZES);
	pgcdc_catalog_begin(&access);
	values[0] = CStringGetTextDatum(entry->cache->source_id);
	values[1] = ObjectIdGetDatum(entry->relid);

	if (SPI_execute_with_args("SELECT FROM pgcdc_drasi.table_modes m"
							  " WHERE m.source_id = $1 AND m.table_id = $2 AND m.mode = 'relation'",
							  2, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the table modes of source \"%s\"", entry->cache->source_id);
	join = SPI_processed > 0;

	/* Declared relations first: they replace the constraints' over the same columns. */
	if (!join)
	{
		if (SPI_execute_with_args("SELECT r.label, r.references_table::oid, r.column_attnums"
								  "  FROM pgcdc_drasi.relations r"
								  " WHERE r.source_id = $1 AND r.table_id = $2 ORDER BY r.label",
								  2, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the relations of source \"%s\"", entry->cache->source_id);
		candidates = read_candidates(candidates, true, work);
	}

	values[2] = BoolGetDatum(join);
	if (SPI_execute_with_args(FOREIGN_KEYS_SQL, 3, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the foreign keys of table \"%s.%s\"",
			 entry->nspname, entry->relname);
	candidates = read_candidates(candidates, false, work);

	/* The referenced tables' keys (SPI leaves us in its own context: switch back). */
	foreach(lc, candidates)
	{
		Candidate  *c = (Candidate *) lfirst(lc);
		AttrNumber *key = referenced_key(entry->cache->source_id, c->ref, &c->nkey);

		old = MemoryContextSwitchTo(work);
		c->key = NULL;
		if (key != NULL)
		{
			c->key = palloc(sizeof(AttrNumber) * c->nkey);
			memcpy(c->key, key, sizeof(AttrNumber) * c->nkey);
		}
		if (join)
			c->label = psprintf("%s", c->conname);	/* no default label needed */
		MemoryContextSwitchTo(old);
	}
	pgcdc_catalog_end(&access);

	old = MemoryContextSwitchTo(entry->mcxt);
	foreach(lc, candidates)
	{
		PgcdcRelLink *link = resolve_candidate(entry, (Candidate *) lfirst(lc), links);

		if (link != NULL)
			links = lappend(links, link);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);

	if (!join)
		entry->links = links;
	else if (list_length(links) == 2)
	{
		entry->join_start = (PgcdcRelLink *) linitial(links);
		entry->join_end = (PgcdcRelLink *) lsecond(links);
	}
	else
		ereport(WARNING,
				(errcode(ERRCODE_INVALID_FOREIGN_KEY),
				 errmsg("table \"%s.%s\" is published as nodes, not as relations",
						entry->nspname, entry->relname),
				 errdetail("Source \"%s\" maps its rows to relations, but it has %d foreign keys that name nodes of the source, not 2.",
						   entry->cache->source_id, list_length(links)),
				 errhint("See pgcdc_drasi.set_table_mode().")));
}

/* The id of the relation link of the row whose node id is node_id. */
char *
pgcdc_relation_id(PgcdcRelEntry *entry, PgcdcRelLink *link, const char *node_id)
{
	Size		plen = strlen(entry->id_prefix);

	Assert(strncmp(node_id, entry->id_prefix, plen) == 0);
	return psprintf("%s%s", link->id_prefix, node_id + plen);
}

/*
 * The end node of a link in a tuple (an unchanged TOASTed value taken
 * from fallback): its id in *end_id when every column has a value.
 */
PgcdcRelEnd
pgcdc_relation_end(PgcdcRelLink *link, LogicalRepTupleData *tup,
				   LogicalRepTupleData *fallback, char **end_id)
{
	StringInfoData buf;
	int			k;

	for (k = 0; k < link->ncols; k++)
	{
		int			i = link->cols[k];
		char		status = i < tup->ncols ? tup->colstatus[i] : LOGICALREP_COLUMN_UNCHANGED;

		if (status == LOGICALREP_COLUMN_UNCHANGED && fallback != NULL && i < fallback->ncols)
			status = fallback->colstatus[i];
		if (status == LOGICALREP_COLUMN_NULL)
			return PGCDC_REL_END_NULL;
		if (status != LOGICALREP_COLUMN_TEXT)
			return PGCDC_REL_END_UNKNOWN;
	}
	initStringInfo(&buf);
	appendStringInfoString(&buf, link->end_prefix);
	for (k = 0; k < link->ncols; k++)
	{
		int			i = link->cols[k];
		StringInfo	value = (tup->colstatus[i] == LOGICALREP_COLUMN_TEXT) ?
			&tup->colvalues[i] : &fallback->colvalues[i];

		if (k > 0)
			appendStringInfoChar(&buf, '_');
		pgcdc_value_append_key(&buf, link->end_types[k], value->data, value->len,
							   link->ncols > 1);
	}
	*end_id = buf.data;
	return PGCDC_REL_END_SET;
}

/* Whether a bootstrap that asks for labels wants some relation of entry. */
bool
pgcdc_relations_wanted(PgcdcRelEntry *entry, List *labels)
{
	ListCell   *lc;
	ListCell   *ll;

	foreach(lc, entry->links)
		foreach(ll, labels)
			if (strcmp(((PgcdcRelLink *) lfirst(lc))->label, (char *) lfirst(ll)) == 0)
				return true;
	return false;
}
