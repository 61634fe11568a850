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

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "catalog.h"
#include "pgcdc_drasi.h"
#include "relations.h"

/* A configured relation and the key of the nodes it points to. */
typedef struct Candidate
{
	PgcdcRelationConfig *config;
	int			nkey;
	AttrNumber *key;			/* the referenced nodes' key columns, sorted,
								 * or NULL */
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
	PgcdcRelationConfig *r = c->config;
	PgcdcRelLink *link;
	AttrNumber *key = c->key;
	int			nkey = c->nkey;
	char	   *end_prefix;
	char	   *label = r->label;
	ListCell   *lc;
	int			k;

	if (label == NULL)
	{
		label = pgcdc_relations_default_label(r->ncols == 1 ? get_attname(entry->relid, r->cols[0], true) : NULL,
											  get_rel_name(r->references));
		foreach(lc, links)
		{
			if (strcmp(((PgcdcRelLink *) lfirst(lc))->label, label) == 0)
				label = pgcdc_relations_default_label(NULL, r->conname);
		}
	}
	foreach(lc, links)
	{
		if (strcmp(((PgcdcRelLink *) lfirst(lc))->label, label) == 0)
		{
			skip_warning(entry, label, "Another relation of the table has this label.");
			return NULL;
		}
	}

	end_prefix = node_id_prefix(r->references);
	if (end_prefix == NULL || key == NULL || nkey != r->ncols)
	{
		skip_warning(entry, label,
					 psprintf("Its columns do not name every key column of table %s, so they cannot name its nodes.",
							  end_prefix ? get_rel_name(r->references) : "(dropped)"));
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

		if (r->refcols == NULL)
			own = r->cols[k];
		else
			for (i = 0; i < r->ncols; i++)
				if (r->refcols[i] == key[k])
					own = r->cols[i];
		link->cols[k] = column_index(entry, own);
		if (own == InvalidAttrNumber || link->cols[k] < 0)
		{
			skip_warning(entry, label,
						 own == InvalidAttrNumber ?
						 psprintf("Its columns do not name every key column of table %s, so they cannot name its nodes.",
								  get_rel_name(r->references)) :
						 "One of its columns is not in the published columns of the table.");
			return NULL;
		}
		link->end_types[k] = pgcdc_value_type(get_atttype(r->references, key[k]));
	}
	return link;
}

/* Whether two configured relations use the same columns to the same table. */
static bool
same_columns(PgcdcRelationConfig *a, PgcdcRelationConfig *b)
{
	AttrNumber *x;
	AttrNumber *y;
	bool		same;

	if (a->references != b->references || a->ncols != b->ncols)
		return false;
	x = palloc(sizeof(AttrNumber) * a->ncols);
	y = palloc(sizeof(AttrNumber) * a->ncols);
	memcpy(x, a->cols, sizeof(AttrNumber) * a->ncols);
	memcpy(y, b->cols, sizeof(AttrNumber) * a->ncols);
	qsort(x, a->ncols, sizeof(AttrNumber), cmp_attnum);
	qsort(y, a->ncols, sizeof(AttrNumber), cmp_attnum);
	same = memcmp(x, y, sizeof(AttrNumber) * a->ncols) == 0;
	pfree(x);
	pfree(y);
	return same;
}

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
	const char *source_id = entry->cache->source_id;
	List	   *configs;
	List	   *candidates = NIL;
	List	   *links = NIL;
	MemoryContext work;
	MemoryContext old;
	ListCell   *lc;
	bool		join;

	entry->links = NIL;
	entry->join_start = entry->join_end = NULL;

	/* Installed at a version without relations (not updated yet). */
	if (!pgcdc_catalog_relations_installed())
		return;

	work = AllocSetContextCreate(CurrentMemoryContext, "pgcdc_drasi relations",
								 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(work);
	join = pgcdc_catalog_is_join_table(source_id, entry->relid);
	configs = pgcdc_catalog_get_relations(source_id, entry->relid, join);
	foreach(lc, configs)
	{
		PgcdcRelationConfig *r = (PgcdcRelationConfig *) lfirst(lc);
		Candidate  *c;
		ListCell   *ld;
		bool		replaced = false;

		/*
		 * A declared relation over the same columns replaces the
		 * constraint's.
		 */
		if (r->conname != NULL)
		{
			foreach(ld, configs)
			{
				PgcdcRelationConfig *d = (PgcdcRelationConfig *) lfirst(ld);

				if (d->conname == NULL && same_columns(r, d))
					replaced = true;
			}
		}
		if (replaced)
			continue;
		c = palloc0(sizeof(Candidate));
		c->config = r;
		if (join)
			r->label = r->conname;	/* no default label needed */
		c->key = pgcdc_catalog_node_key(source_id, r->references, &c->nkey);
		if (c->key != NULL)
			qsort(c->key, c->nkey, sizeof(AttrNumber), cmp_attnum);
		candidates = lappend(candidates, c);
	}

	MemoryContextSwitchTo(entry->mcxt);
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
						   source_id, list_length(links)),
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
		StringInfo	value = &tup->colvalues[i];

		if (tup->colstatus[i] != LOGICALREP_COLUMN_TEXT)
			value = &fallback->colvalues[i];

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
	{
		foreach(ll, labels)
		{
			if (strcmp(((PgcdcRelLink *) lfirst(lc))->label, (char *) lfirst(ll)) == 0)
				return true;
		}
	}
	return false;
}
