/*-------------------------------------------------------------------------
 *
 * sql_relations.c
 *		SQL functions that configure a source's relations: foreign keys
 *		as relations (set_relations) and relations declared by hand
 *		(set_relation, drop_relation).  relations.c applies them.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sql_relations.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/catalog.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "catalog.h"
#include "pgcdc_drasi.h"
#include "relations.h"
#include "shmem.h"
#include "sql_common.h"

PG_FUNCTION_INFO_V1(pgcdc_drasi_set_relations);
PG_FUNCTION_INFO_V1(pgcdc_drasi_set_relation);
PG_FUNCTION_INFO_V1(pgcdc_drasi_drop_relation);
PG_FUNCTION_INFO_V1(pgcdc_drasi_set_table_mode);

/*
 * set_relations(source_id, relations): 'foreign_keys' publishes the
 * foreign keys among the source's published tables as relations, 'none'
 * only the relations declared with set_relation().
 */
Datum
pgcdc_drasi_set_relations(PG_FUNCTION_ARGS)
{
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	char	   *mode = pgcdc_sql_text_arg(fcinfo, 1, "relations");

	if (strcmp(mode, "foreign_keys") != 0 && strcmp(mode, "none") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid relations \"%s\"", mode),
				 errhint("Valid values are \"foreign_keys\" and \"none\".")));
	pgcdc_shmem_require_preloaded();
	(void) pgcdc_catalog_get_source(source_id, PGCDC_LOCK_KEY_SHARE, false);

	pgcdc_catalog_set_relations(source_id, strcmp(mode, "foreign_keys") == 0);

	pgcdc_sql_reconfigure_at_commit();
	PG_RETURN_VOID();
}

/*
 * Check a table named by a relation: it exists, is a table, and the
 * source publishes it.
 */
static void
check_relation_table(Oid relid, const char *source_id, const char *publication)
{
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	PgcdcSavedUser saved;
	uint64		n;

	relation_close(pgcdc_sql_open_table(relid, false), AccessShareLock);

	values[0] = CStringGetTextDatum(publication);
	values[1] = ObjectIdGetDatum(relid);
	pgcdc_sql_begin(&saved);
	n = pgcdc_sql_run("SELECT FROM pg_catalog.pg_publication_tables pt "
					  "JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname "
					  "JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename "
					  "WHERE pt.pubname = $1 AND c.oid = $2",
					  2, argtypes, values, true, SPI_OK_SELECT);
	pgcdc_sql_end(&saved);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("table %s is not published by source \"%s\"",
						get_rel_name(relid), source_id),
				 errdetail("A relation joins nodes of the source's publication \"%s\".", publication),
				 errhint("Add the table to the publication first.")));
}

/*
 * set_relation(source_id, table, columns, references_table, label): the
 * rows of table whose columns are all non-null start a relation to the
 * node of references_table whose key the columns hold (in the order of
 * that table's key columns).  label defaults to the rule of
 * pgcdc_relations_default_label.
 */
Datum
pgcdc_drasi_set_relation(PG_FUNCTION_ARGS)
{
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	Oid			relid;
	Oid			ref;
	ArrayType  *arr;
	Datum	   *names;
	bool	   *nulls;
	int			ncols;
	int			nkey;
	int			i;
	char	   *label;
	PgcdcSourceConfig *source;

	pgcdc_sql_require_arg(fcinfo, 1, "table");
	pgcdc_sql_require_arg(fcinfo, 2, "columns");
	pgcdc_sql_require_arg(fcinfo, 3, "references_table");
	relid = PG_GETARG_OID(1);
	arr = PG_GETARG_ARRAYTYPE_P(2);
	ref = PG_GETARG_OID(3);
	pgcdc_shmem_require_preloaded();
	source = pgcdc_catalog_get_source(source_id, PGCDC_LOCK_KEY_SHARE, false);

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("columns must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &names, &nulls, &ncols);
	if (ncols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("columns must name at least one column")));
	for (i = 0; i < ncols; i++)
	{
		char	   *name;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("columns must not contain NULL")));
		name = TextDatumGetCString(names[i]);
		if (get_attnum(relid, name) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							name, get_rel_name(relid) ? get_rel_name(relid) : "?")));
	}
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		pg_class_aclcheck(ref, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s",
						get_rel_name(pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ? relid : ref))));

	if (PG_ARGISNULL(4))
		label = pgcdc_relations_default_label(ncols == 1 ? TextDatumGetCString(names[0]) : NULL,
											  get_rel_name(ref));
	else
		label = text_to_cstring(PG_GETARG_TEXT_PP(4));
	if (label[0] == '\0' || strchr(label, ':') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid relation label \"%s\"", label),
				 errdetail("A relation label is not empty and has no \":\": relation ids are \"table->LABEL:key\".")));
	if (strlen(label) > PGCDC_LABEL_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("label is too long"),
				 errdetail("A label has at most %d bytes; this one has %d.",
						   PGCDC_LABEL_MAXLEN, (int) strlen(label))));

	check_relation_table(relid, source_id, source->publication);
	check_relation_table(ref, source_id, source->publication);

	/* The columns must hold every key column of the referenced nodes. */
	if (pgcdc_catalog_node_key(source_id, ref, &nkey) == NULL)
		nkey = 0;
	if (nkey != ncols)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FOREIGN_KEY),
				 errmsg("columns of table %s cannot name the nodes of table %s",
						get_rel_name(relid), get_rel_name(ref)),
				 nkey == 0 ?
				 errdetail("Table %s has no primary key and no key set with set_table_key, so its node ids are not made of column values.",
						   get_rel_name(ref)) :
				 errdetail("The node ids of table %s are made of its %d key columns; %d columns were given.",
						   get_rel_name(ref), nkey, ncols),
				 errhint("Name one column for each key column of the referenced table, in the table's order of those columns.")));

	/* Relation and node labels are one name space in bootstrap(). */
	if (pgcdc_catalog_is_node_label(source_id, source->publication, label))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("label \"%s\" is a node label of source \"%s\"", label, source_id),
				 errdetail("bootstrap() takes node and relation labels in one list, so a relation label must differ from every node label."),
				 errhint("Pass another label.")));

	pgcdc_catalog_set_relation(source_id, relid, label, arr, ref);

	pgcdc_sql_reconfigure_at_commit();
	PG_RETURN_VOID();
}

/* drop_relation(source_id, table, label): forget a declared relation. */
Datum
pgcdc_drasi_drop_relation(PG_FUNCTION_ARGS)
{
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	char	   *label;
	Oid			relid;

	pgcdc_sql_require_arg(fcinfo, 1, "table");
	relid = PG_GETARG_OID(1);
	label = pgcdc_sql_text_arg(fcinfo, 2, "label");
	pgcdc_shmem_require_preloaded();
	(void) pgcdc_catalog_get_source(source_id, PGCDC_LOCK_KEY_SHARE, false);

	if (!pgcdc_catalog_drop_relation(source_id, relid, label))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source \"%s\" has no relation \"%s\" declared for table %s",
						source_id, label,
						get_rel_name(relid) ? get_rel_name(relid) : psprintf("with OID %u", relid))));

	pgcdc_sql_reconfigure_at_commit();
	PG_RETURN_VOID();
}

/*
 * set_table_mode(source_id, table, mode): 'relation' makes each row of a
 * join table a relation between the nodes its two foreign keys name
 * (from the first foreign key's, by column order, to the second's), with
 * the row's columns as properties and no node; 'node' goes back to nodes.
 */
Datum
pgcdc_drasi_set_table_mode(PG_FUNCTION_ARGS)
{
	char	   *source_id = pgcdc_sql_text_arg(fcinfo, 0, "source_id");
	char	   *mode;
	Oid			relid;
	PgcdcSourceConfig *source;

	pgcdc_sql_require_arg(fcinfo, 1, "table");
	relid = PG_GETARG_OID(1);
	mode = pgcdc_sql_text_arg(fcinfo, 2, "mode");
	if (strcmp(mode, "node") != 0 && strcmp(mode, "relation") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid table mode \"%s\"", mode),
				 errhint("Valid modes are \"node\" and \"relation\".")));
	pgcdc_shmem_require_preloaded();
	source = pgcdc_catalog_get_source(source_id, PGCDC_LOCK_KEY_SHARE, false);
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", get_rel_name(relid))));

	check_relation_table(relid, source_id, source->publication);
	if (strcmp(mode, "relation") == 0)
	{
		/* two foreign keys to published tables, each naming its nodes' key */
		int64		usable = pgcdc_catalog_join_foreign_keys(source_id, relid, source->publication);

		if (usable != 2)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_FOREIGN_KEY),
					 errmsg("table %s cannot be published as relations", get_rel_name(relid)),
					 errdetail("A join table has exactly two foreign keys to tables of the source's publication that name their nodes' keys; this one has %lld.",
							   (long long) usable),
					 errhint("Declare the missing foreign key constraint, or publish the table as nodes with relations (pgcdc_drasi.set_relation()).")));
	}
	pgcdc_catalog_set_table_mode(source_id, relid, strcmp(mode, "relation") == 0);

	pgcdc_sql_reconfigure_at_commit();
	PG_RETURN_VOID();
}
