/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *		Reading a source's tables in a snapshot, row by row, in the form
 *		the stream would carry them: for the initial snapshot of a new
 *		source, re-snapshots (snapshot_sync.c) and bootstrap().
 *
 * A snapshot reads the tables of the source's publication with the
 * publication's own column lists and row filters, in whatever snapshot
 * the calling transaction has (the slot's exported snapshot for the
 * initial one), and turns each row into exactly what an INSERT of that
 * row would produce in the stream: the tables are described to a
 * relation cache as pgoutput's Relation messages would describe them,
 * each value goes through its type's output function with the session
 * settings the walsender uses, and the same mapping code builds ids and
 * properties.  So a node has the same id and values whichever way it
 * reached the consumer.
 *
 * Rows are read through a cursor, a batch at a time, so a table larger
 * than memory streams through.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/snapshot.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "relation.h"
#include "relations.h"
#include "snapshot.h"

#define SNAPSHOT_FETCH_ROWS	1000
/* A batch ends once its values reach this much text. */
#define SNAPSHOT_BATCH_BYTES	(8 * 1024 * 1024)

/* One table of a snapshot. */
typedef struct SnapshotTable
{
	Oid			relid;
	char	   *label;			/* table name, for the labels filter */
	char	   *query;			/* SELECT of the published columns and rows */
	double		estimate;		/* pg_class.reltuples */
} SnapshotTable;

/* An open snapshot scan: the tables left and the rows of the current one. */
struct PgcdcSnapshotScan
{
	PgcdcRelCache *cache;
	MemoryContext mcxt;			/* lives as long as the scan */
	List	   *tables;			/* of SnapshotTable */
	int			next_table;
	SnapshotTable *current;
	Portal		portal;
	int			ncols;
	FmgrInfo   *outfuncs;
	uint64		rows_done;		/* in the current table */
	uint64		rows_total;		/* in all tables so far */
	MemoryContext pending_mcxt; /* rows fetched but not handed out yet */
	HeapTuple  *pending;
	int			npending;
	int			pending_pos;
};

/*
 * Describe a table to a relation cache from the catalog, the way a
 * pgoutput Relation message would: published columns in table order,
 * the replica identity and its key columns.
 */
static void
describe_table(PgcdcRelCache *cache, Relation rel, List *columns)
{
	LogicalRepRelation remote;
	TupleDesc	desc = RelationGetDescr(rel);
	Bitmapset  *identity = NULL;
	ListCell   *lc;
	int			i = 0;

	memset(&remote, 0, sizeof(remote));
	remote.remoteid = RelationGetRelid(rel);
	remote.nspname = get_namespace_name(RelationGetNamespace(rel));
	remote.relname = RelationGetRelationName(rel);
	remote.replident = rel->rd_rel->relreplident;
	remote.relkind = rel->rd_rel->relkind;
	remote.natts = list_length(columns);
	remote.attnames = palloc(sizeof(char *) * Max(1, remote.natts));
	remote.atttyps = palloc(sizeof(Oid) * Max(1, remote.natts));
	if (remote.replident != REPLICA_IDENTITY_FULL)
		identity = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_IDENTITY_KEY);

	foreach(lc, columns)
	{
		AttrNumber	attnum = lfirst_int(lc);
		Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);

		remote.attnames[i] = NameStr(att->attname);
		remote.atttyps[i] = att->atttypid;
		if (remote.replident == REPLICA_IDENTITY_FULL ||
			bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, identity))
			remote.attkeys = bms_add_member(remote.attkeys, i);
		i++;
	}
	pgcdc_relcache_update(cache, &remote);
}

/*
 * Fail when a table was rewritten (ALTER TABLE changing a column type,
 * VACUUM FULL, TRUNCATE, ...) between the snapshot and our lock on it:
 * the snapshot would see the new storage empty and lose the table's rows
 * without a trace.  The snapshot's pg_class row names the storage the
 * snapshot knows; the relation cache, refreshed by taking the lock, the
 * current one.  The caller takes the snapshot again (the worker does so
 * when it restarts).
 */
static void
check_not_rewritten(Relation rel, Oid snap_filenode)
{
	Assert(CheckRelationLockedByMe(rel, AccessShareLock, true));
	if (rel->rd_rel->relfilenode != snap_filenode)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("table %s was rewritten after the snapshot was taken",
						quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												   RelationGetRelationName(rel))),
				 errdetail("A snapshot older than a table rewrite sees the table empty, so its rows would be lost."),
				 errhint("Take the snapshot again (call bootstrap() in a new transaction); a source's worker does so by itself.")));
}

/*
 * The tables of a publication as the current snapshot sees them, with
 * their published columns and row filters, described to the cache.  With
 * labels, only the tables whose label is listed; with relids, only those.
 */
static List *
publication_tables(PgcdcRelCache *cache, const char *publication, List *labels, List *relids)
{
	List	   *result = NIL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	MemoryContext caller = CurrentMemoryContext;
	uint64		i;
	int			nestlevel;

	/*
	 * Row filters are printed here and run later by the snapshot query, both
	 * with an empty search_path: every name comes out qualified.
	 */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(publication);
	if (SPI_execute_with_args(
							  "SELECT c.oid, c.relname, pt.rowfilter, "
	/* the planner's row estimate: reltuples scaled to the current size */
							  "       CASE WHEN c.reltuples >= 0 AND c.relpages > 0 "
							  "            THEN c.reltuples / c.relpages * "
							  "                 (pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::int) "
							  "            ELSE (pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::int) * "
							  "                 (pg_catalog.current_setting('block_size')::int - 24) / "
							  "                 (28 + (SELECT pg_catalog.sum(CASE WHEN a.attlen > 0 THEN a.attlen ELSE 16 END) "
							  "                        FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid "
							  "                        AND a.attnum > 0 AND NOT a.attisdropped)) "
							  "       END::float8, "
							  "       (SELECT pg_catalog.array_agg(a.attnum ORDER BY a.attnum) "
							  "          FROM pg_catalog.pg_attribute a "
							  "         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
							  "           AND a.attgenerated = '' AND a.attname = ANY (pt.attnames)), "
							  "       c.relfilenode "
							  "  FROM pg_catalog.pg_publication_tables pt "
							  "  JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname "
							  "  JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename "
							  " WHERE pt.pubname = $1 AND pt.schemaname <> 'pgcdc_drasi' "
							  " ORDER BY pt.schemaname, pt.tablename",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the tables of publication \"%s\"", publication);

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		char	   *relname = SPI_getvalue(tup, desc, 2);
		char	   *rowfilter = SPI_getvalue(tup, desc, 3);
		double		estimate = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
		bool		attnums_null;
		Datum		attnums = SPI_getbinval(tup, desc, 5, &attnums_null);
		Oid			snap_filenode = DatumGetObjectId(SPI_getbinval(tup, desc, 6, &isnull));
		MemoryContext old;
		SnapshotTable *t;
		Relation	rel;
		StringInfoData query;
		List	   *columns = NIL;
		Datum	   *elems;
		int			nelems;
		int			j;

		if (relids != NIL && !list_member_oid(relids, relid))
			continue;

		old = MemoryContextSwitchTo(caller);
		t = palloc0(sizeof(SnapshotTable));
		t->relid = relid;
		t->label = pstrdup(relname);
		t->estimate = Max(estimate, 0);

		/*
		 * The lock is kept to the end of the transaction: a table-rewriting
		 * ALTER TABLE (not MVCC-safe: an older snapshot sees the rewritten
		 * table empty) waits until the snapshot has read the table.
		 */
		rel = relation_open(relid, AccessShareLock);
		check_not_rewritten(rel, snap_filenode);
		if (!attnums_null)
		{
			deconstruct_array(DatumGetArrayTypeP(attnums), INT2OID, 2, true, TYPALIGN_SHORT,
							  &elems, NULL, &nelems);
			for (j = 0; j < nelems; j++)
				columns = lappend_int(columns, DatumGetInt16(elems[j]));
		}
		describe_table(cache, rel, columns);

		/* Filter by the label consumers see, set_table_label included. */
		if (labels != NIL)
		{
			ListCell   *lc;
			bool		wanted = false;
			const char *label = pgcdc_relcache_label(cache, relid);

			foreach(lc, labels)
			{
				if (strcmp((char *) lfirst(lc), label) == 0)
					wanted = true;
			}
			/* or the label of a relation its rows start */
			if (!wanted)
				wanted = pgcdc_relations_wanted(pgcdc_relcache_lookup(cache, relid), labels);
			if (!wanted)
			{
				relation_close(rel, NoLock);
				MemoryContextSwitchTo(old);
				continue;
			}
		}

		initStringInfo(&query);
		appendStringInfoString(&query, "SELECT ");
		for (j = 0; j < list_length(columns); j++)
		{
			Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel),
												  list_nth_int(columns, j) - 1);

			appendStringInfo(&query, "%s%s", j > 0 ? ", " : "",
							 quote_identifier(NameStr(att->attname)));
		}
		if (columns == NIL)
			appendStringInfoString(&query, "NULL");
		appendStringInfo(&query, " FROM %s%s",
						 rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ",
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													RelationGetRelationName(rel)));
		if (rowfilter != NULL)
			appendStringInfo(&query, " WHERE %s", rowfilter);
		t->query = query.data;
		relation_close(rel, NoLock);

		result = lappend(result, t);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
	return result;
}

/*
 * Start a snapshot scan of a source's publication in the current
 * transaction's snapshot.  The caller reads the tables with its own
 * privileges; a table it cannot read is an error before any row.
 */
PgcdcSnapshotScan *
pgcdc_snapshot_begin(PgcdcRelCache *cache, const char *publication, List *labels,
					 List *relids)
{
	PgcdcSnapshotScan *scan = palloc0(sizeof(PgcdcSnapshotScan));
	ListCell   *lc;

	scan->cache = cache;
	scan->mcxt = CurrentMemoryContext;
	scan->pending_mcxt = AllocSetContextCreate(scan->mcxt, "pgcdc_drasi snapshot rows",
											   ALLOCSET_DEFAULT_SIZES);
	scan->tables = publication_tables(cache, publication, labels, relids);
	foreach(lc, scan->tables)
	{
		SnapshotTable *t = (SnapshotTable *) lfirst(lc);

		if (pg_class_aclcheck(t->relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for table %s", get_rel_name(t->relid)),
					 errdetail("A snapshot reads the tables of publication \"%s\" with the privileges of the current role.",
							   publication)));
	}
	return scan;
}

/* Open the cursor of the next table; false when no table is left. */
static bool
open_next_table(PgcdcSnapshotScan *scan)
{
	SPIPlanPtr	plan;
	TupleDesc	desc;
	int			i;

	if (scan->next_table >= list_length(scan->tables))
		return false;
	scan->current = list_nth(scan->tables, scan->next_table++);
	scan->rows_done = 0;

	plan = SPI_prepare(scan->current->query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not prepare snapshot query: %s", scan->current->query);
	scan->portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	desc = scan->portal->tupDesc;
	scan->ncols = desc->natts;
	if (scan->outfuncs)
		pfree(scan->outfuncs);
	scan->outfuncs = MemoryContextAlloc(scan->mcxt, sizeof(FmgrInfo) * Max(1, desc->natts));
	for (i = 0; i < desc->natts; i++)
	{
		Oid			outfunc;
		bool		isvarlena;

		getTypeOutputInfo(TupleDescAttr(desc, i)->atttypid, &outfunc, &isvarlena);
		fmgr_info_cxt(outfunc, &scan->outfuncs[i], scan->mcxt);
	}
	return true;
}

/*
 * Fetch the next batch of rows and hand each to fn as a relation id and
 * a tuple in pgoutput's text form.  Returns the number of rows, 0 at the
 * end of the snapshot.  Must be called inside SPI.
 *
 * A batch is at most SNAPSHOT_FETCH_ROWS rows and ends early once its
 * values reach SNAPSHOT_BATCH_BYTES of text: callers keep what fn makes of
 * a batch's rows until the batch is over, so rows of many megabytes must
 * not come a thousand at a time.  The fetched rows not handed out yet are
 * kept for the next call (they are small: large values stay TOAST
 * pointers until their output function reads them).  What the rows
 * leave in the current context (detoasted values, what fn allocates) is
 * freed by the caller's SPI_finish after each batch, so it is bounded by
 * the batch's bytes too.
 */
uint64
pgcdc_snapshot_fetch(PgcdcSnapshotScan *scan, PgcdcSnapshotRowFn fn, void *arg)
{
	uint64		n = 0;
	Size		batch_bytes = 0;
	HeapTuple  *rows;
	int			nrows;
	TupleDesc	desc;
	LogicalRepTupleData tup;

	if (scan->pending_pos < scan->npending)
	{
		/* Rows left over from the previous batch. */
		rows = scan->pending + scan->pending_pos;
		nrows = scan->npending - scan->pending_pos;
	}
	else
	{
		for (;;)
		{
			if (scan->portal == NULL && !open_next_table(scan))
				return 0;
			SPI_cursor_fetch(scan->portal, true, SNAPSHOT_FETCH_ROWS);
			if (SPI_processed > 0)
				break;
			SPI_cursor_close(scan->portal);
			scan->portal = NULL;
		}
		rows = SPI_tuptable->vals;
		nrows = (int) SPI_processed;
	}
	desc = scan->portal->tupDesc;

	tup.ncols = scan->ncols;
	tup.colvalues = palloc0(sizeof(StringInfoData) * Max(1, scan->ncols));
	tup.colstatus = palloc(sizeof(char) * Max(1, scan->ncols));
	while ((int) n < nrows && batch_bytes < SNAPSHOT_BATCH_BYTES)
	{
		HeapTuple	row = rows[n];
		int			c;

		CHECK_FOR_INTERRUPTS();
		for (c = 0; c < scan->ncols; c++)
		{
			bool		isnull;
			Datum		d = heap_getattr(row, c + 1, desc, &isnull);

			if (isnull)
			{
				tup.colstatus[c] = LOGICALREP_COLUMN_NULL;
				tup.colvalues[c].data = NULL;
				tup.colvalues[c].len = 0;
			}
			else
			{
				char	   *text = OutputFunctionCall(&scan->outfuncs[c], d);

				tup.colstatus[c] = LOGICALREP_COLUMN_TEXT;
				tup.colvalues[c].data = text;

				tup.colvalues[c].len = strlen(text);
				tup.colvalues[c].maxlen = tup.colvalues[c].len + 1;
				tup.colvalues[c].cursor = 0;
				batch_bytes += tup.colvalues[c].len;
			}
		}
		fn(scan->cache, scan->current->relid, &tup, arg);
		for (c = 0; c < scan->ncols; c++)
			if (tup.colstatus[c] == LOGICALREP_COLUMN_TEXT)
				pfree(tup.colvalues[c].data);
		n++;
	}
	pfree(tup.colvalues);
	pfree(tup.colstatus);

	if (scan->pending_pos < scan->npending)
	{
		scan->pending_pos += n;
		if (scan->pending_pos >= scan->npending)
		{
			MemoryContextReset(scan->pending_mcxt);
			scan->pending = NULL;
			scan->npending = scan->pending_pos = 0;
		}
	}
	else
	{
		/* Keep what the batch could not take for the next call. */
		if ((int) n < nrows)
		{
			MemoryContext old = MemoryContextSwitchTo(scan->pending_mcxt);
			int			i;

			scan->npending = nrows - (int) n;
			scan->pending_pos = 0;
			scan->pending = palloc(sizeof(HeapTuple) * scan->npending);
			for (i = 0; i < scan->npending; i++)
				scan->pending[i] = heap_copytuple(rows[n + i]);
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
	}

	scan->rows_done += n;
	scan->rows_total += n;
	return n;
}

/* The tables of a scan, in the order it reads them. */
List *
pgcdc_snapshot_relids(PgcdcSnapshotScan *scan)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, scan->tables)
		result = lappend_oid(result, ((SnapshotTable *) lfirst(lc))->relid);
	return result;
}

/* Progress of a scan: the current table, rows read of it, its estimate. */
void
pgcdc_snapshot_progress(PgcdcSnapshotScan *scan, Oid *relid, uint64 *rows_done,
						double *estimate)
{
	*relid = scan->current ? scan->current->relid : InvalidOid;
	*rows_done = scan->rows_done;
	*estimate = scan->current ? scan->current->estimate : 0;
}

/* Close what is still open. */
void
pgcdc_snapshot_end(PgcdcSnapshotScan *scan)
{
	if (scan->portal != NULL)
		SPI_cursor_close(scan->portal);
	scan->portal = NULL;
	MemoryContextReset(scan->pending_mcxt);
	scan->pending = NULL;
	scan->npending = scan->pending_pos = 0;
}

/*
 * Use the session settings the walsender uses for text output, so that a
 * snapshot's values are the stream's values.  Returns the GUC nest level
 * to pass to AtEOXact_GUC.
 */
int
pgcdc_snapshot_settings(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("datestyle", "ISO", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("intervalstyle", "postgres", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("bytea_output", "hex", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("timezone", "UTC", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	/* The walsender's search_path: regclass and the like print qualified. */
	(void) set_config_option("search_path", "", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}
