/*-------------------------------------------------------------------------
 *
 * relation.h
 *		The relation cache of a source: what each published table looks
 *		like, which columns form its key, its label and excluded columns.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/relation.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_RELATION_H
#define PGCDC_RELATION_H

#include "nodes/bitmapset.h"
#include "replication/logicalproto.h"
#include "utils/hsearch.h"
#include "utils/relcache.h"

#include "value.h"

/*
 * A cache of relations, for one source: the stream's, or a snapshot's
 * (which describes tables from the catalog rather than from Relation
 * messages, so the two must not share entries).
 */
typedef struct PgcdcRelCache
{
	HTAB	   *hash;
	MemoryContext mcxt;
	char	   *source_id;
	Oid			owner;			/* the source's owner, for the SELECT check */
	bool		numeric_as_string;	/* numeric values as JSON strings */
	uint64		key_fallbacks;	/* changes mapped with a fallback key, not yet
								 * handed over */
} PgcdcRelCache;

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
	bool		checked;		/* owner's read checks passed for this
								 * description of the relation */
	int			nkeys;
	int		   *keys;			/* column indexes, in table order */
	bool		keyless;		/* id is a digest of the whole row */
	bool		key_fallback;	/* the configured or primary key is not what
								 * this message's WAL carries */
	Bitmapset  *excluded;		/* columns left out of the properties */
	List	   *links;			/* relations its rows start (relations.h) */
	struct PgcdcRelLink *join_start;	/* a join table: its rows are */
	struct PgcdcRelLink *join_end;	/* relations between these ends */
} PgcdcRelEntry;

extern PgcdcRelCache *pgcdc_relcache_create(const char *source_id, Oid owner,
											MemoryContext parent);
extern void pgcdc_relcache_update(PgcdcRelCache *cache, LogicalRepRelation *remoterel);
extern PgcdcRelEntry *pgcdc_relcache_lookup(PgcdcRelCache *cache, LogicalRepRelId relid);
extern const char *pgcdc_relcache_name(PgcdcRelCache *cache, LogicalRepRelId relid);
extern const char *pgcdc_relcache_label(PgcdcRelCache *cache, LogicalRepRelId relid);
extern void pgcdc_relcache_invalidate_keys(PgcdcRelCache *cache);
extern uint64 pgcdc_relcache_take_key_fallbacks(PgcdcRelCache *cache);
extern void pgcdc_relcache_set_numeric_as_string(PgcdcRelCache *cache, bool on);
extern MemoryContext pgcdc_relcache_context(PgcdcRelCache *cache);
extern void pgcdc_check_row_security(Relation rel, Oid role, const char *source_id);

#endif							/* PGCDC_RELATION_H */
