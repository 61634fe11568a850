/*-------------------------------------------------------------------------
 *
 * role_guard.c
 *		DROP ROLE and REASSIGN OWNED against the owners recorded in the
 *		extension's tables of the current database.
 *
 * sources.owner, consumers.owner and targets.owner are regrole columns:
 * PostgreSQL does not know they refer to roles (no pg_shdepend rows for
 * rows of user tables), so DROP ROLE would leave a bare number behind,
 * which a role created later could get.  A utility hook (the library is
 * in shared_preload_libraries, so every backend has it) closes that:
 *
 * - DROP ROLE of a role that owns a source, consumer or target of the
 *   current database is refused, naming them;
 * - REASSIGN OWNED BY old TO new also reassigns them, in the current
 *   database, after PostgreSQL reassigned the role's own objects (and so
 *   checked the caller's right to do it); source workers pick up their new
 *   owner at their next group.
 *
 * Roles are cluster-wide but these tables are per database, and a backend
 * can read only its own database: DROP ROLE run in database a cannot see
 * that the role owns a source in database b.  That is PostgreSQL's own
 * procedure for dropping a role that owns objects (REASSIGN OWNED and DROP
 * OWNED in every database, then DROP ROLE), which this follows; the
 * README says so.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/role_guard.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "catalog.h"
#include "pgcdc_drasi.h"
#include "role_guard.h"
#include "sql_common.h"

/* At most this many owned objects are named in the error's detail. */
#define MAX_NAMED	10

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/*
 * Does this database have our tables, targets included?  (A database
 * still at version 0.1 has no targets table: its owners are not checked
 * until it is updated.)
 */
static bool
tables_present(void)
{
	Oid			nsp;

	if (!IsTransactionState() || !OidIsValid(get_extension_oid(PGCDC_EXTENSION_NAME, true)))
		return false;
	nsp = get_namespace_oid(PGCDC_SCHEMA_NAME, true);
	return OidIsValid(nsp) && OidIsValid(get_relname_relid("targets", nsp));
}

/*
 * Refuse to drop a role that owns a source, consumer or target of this
 * database, naming what it owns (a target's own consumer, "target:<id>",
 * goes with its target and is not named).
 */
static void
check_drop_role(DropRoleStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->roles)
	{
		RoleSpec   *spec = lfirst(lc);
		Oid			roleid;
		PgcdcCatalogAccess access;
		Oid			argtypes[1] = {REGROLEOID};
		Datum		values[1];
		StringInfoData detail;
		uint64		n;
		uint64		i;

		/* DROP ROLE itself refuses special names and reports missing roles. */
		if (spec->roletype != ROLESPEC_CSTRING)
			continue;
		roleid = get_role_oid(spec->rolename, true);
		if (!OidIsValid(roleid))
			continue;

		pgcdc_catalog_begin(&access);
		values[0] = ObjectIdGetDatum(roleid);
		if (SPI_execute_with_args("SELECT kind || ' \"' || id || '\"' FROM ("
								  " SELECT 1 AS o, 'source' AS kind, source_id AS id FROM pgcdc_drasi.sources"
								  "  WHERE owner OPERATOR(pg_catalog.=) $1"
								  " UNION ALL"
								  " SELECT 2, 'consumer', consumer FROM pgcdc_drasi.consumers"
								  "  WHERE owner OPERATOR(pg_catalog.=) $1"
								  "    AND NOT pg_catalog.starts_with(consumer, 'target:')"
								  " UNION ALL"
								  " SELECT 3, 'target', target_id FROM pgcdc_drasi.targets"
								  "  WHERE owner OPERATOR(pg_catalog.=) $1) s"
								  " ORDER BY o, id",
								  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute_with_args failed");
		n = SPI_processed;
		if (n == 0)
		{
			pgcdc_catalog_end(&access);
			continue;
		}
		initStringInfo(&detail);
		for (i = 0; i < n && i < MAX_NAMED; i++)
		{
			char	   *what = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

			appendStringInfo(&detail, "%sowner of pgcdc_drasi %s", i > 0 ? "\n" : "", what);
		}
		if (n > MAX_NAMED)
			appendStringInfo(&detail, "\nand %llu more", (unsigned long long) (n - MAX_NAMED));
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("role \"%s\" cannot be dropped because it owns pgcdc_drasi objects in database \"%s\"",
						spec->rolename, get_database_name(MyDatabaseId)),
				 errdetail_internal("%s", detail.data),
				 errhint("Run REASSIGN OWNED BY %s TO another role in this database, or drop them first.",
						 quote_identifier(spec->rolename))));
	}
}

/*
 * After PostgreSQL reassigned the objects of the old roles in this
 * database, reassign their sources, consumers and targets too, and have
 * the source workers take their new owner.
 */
static void
reassign_owners(ReassignOwnedStmt *stmt)
{
	Oid			newrole = get_rolespec_oid(stmt->newrole, false);
	ListCell   *lc;
	bool		changed = false;

	foreach(lc, stmt->roles)
	{
		Oid			oldrole = get_rolespec_oid(lfirst(lc), false);
		PgcdcCatalogAccess access;
		Oid			argtypes[2] = {REGROLEOID, REGROLEOID};
		Datum		values[2];
		const char *const updates[] = {
			"UPDATE pgcdc_drasi.sources SET owner = $2 WHERE owner OPERATOR(pg_catalog.=) $1",
			"UPDATE pgcdc_drasi.consumers SET owner = $2 WHERE owner OPERATOR(pg_catalog.=) $1",
			"UPDATE pgcdc_drasi.targets SET owner = $2 WHERE owner OPERATOR(pg_catalog.=) $1",
		};
		size_t		i;

		if (oldrole == newrole)
			continue;
		pgcdc_catalog_begin(&access);
		values[0] = ObjectIdGetDatum(oldrole);
		values[1] = ObjectIdGetDatum(newrole);
		for (i = 0; i < lengthof(updates); i++)
		{
			if (SPI_execute_with_args(updates[i], 2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "SPI_execute_with_args failed: %s", updates[i]);
			if (SPI_processed > 0)
				changed = true;
		}
		pgcdc_catalog_end(&access);
	}
	if (changed)
		pgcdc_sql_reconfigure_at_commit();
}

/* The utility hook: check DROP ROLE before, follow REASSIGN OWNED after. */
static void
role_guard_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						  ProcessUtilityContext context, ParamListInfo params,
						  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, DropRoleStmt) && tables_present())
		check_drop_role((DropRoleStmt *) parsetree);

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	if (IsA(parsetree, ReassignOwnedStmt) && tables_present())
		reassign_owners((ReassignOwnedStmt *) parsetree);
}

/* Install the hook (from _PG_init). */
void
pgcdc_role_guard_install(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = role_guard_ProcessUtility;
}
