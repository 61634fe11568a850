/*-------------------------------------------------------------------------
 *
 * relations.h
 *		Foreign keys as Drasi relations: which relations a table's rows
 *		start, and their ids.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/relations.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_RELATIONS_H
#define PGCDC_RELATIONS_H

#include "nodes/pg_list.h"
#include "replication/logicalproto.h"

#include "relation.h"
#include "value.h"

/*
 * One relation every row of a table starts (when its columns are all
 * non-null): from the row's node to the node of the referenced table
 * whose key the columns hold.
 */
typedef struct PgcdcRelLink
{
	char	   *label;
	char	   *id_prefix;		/* "orders->CUSTOMER:" */
	int			ncols;
	int		   *cols;			/* the row's column indexes, in the order of
								 * the referenced key's columns */
	char	   *end_prefix;		/* id prefix of the referenced nodes */
	PgcdcValueType **end_types; /* types of the referenced key columns */
} PgcdcRelLink;

/* What a tuple says about the end node of a link. */
typedef enum PgcdcRelEnd
{
	PGCDC_REL_END_SET,			/* every column has a value: the end id */
	PGCDC_REL_END_NULL,			/* some column is NULL: no relation */
	PGCDC_REL_END_UNKNOWN		/* the WAL does not carry the columns */
} PgcdcRelEnd;

extern void pgcdc_relations_resolve(PgcdcRelEntry *entry);
extern char *pgcdc_relation_id(PgcdcRelEntry *entry, PgcdcRelLink *link, const char *node_id);
extern PgcdcRelEnd pgcdc_relation_end(PgcdcRelLink *link, LogicalRepTupleData *tup,
									  LogicalRepTupleData *fallback, char **end_id);
extern bool pgcdc_relations_wanted(PgcdcRelEntry *entry, List *labels);
extern char *pgcdc_relations_default_label(const char *column, const char *references);

#endif							/* PGCDC_RELATIONS_H */
