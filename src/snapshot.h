/*-------------------------------------------------------------------------
 *
 * snapshot.h
 *		Reading a source's tables in a snapshot, row by row, in the form
 *		the stream would carry them.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/snapshot.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_SNAPSHOT_H
#define PGCDC_SNAPSHOT_H

#include "nodes/pg_list.h"
#include "replication/logicalproto.h"

#include "relation.h"

typedef struct PgcdcSnapshotScan PgcdcSnapshotScan;
typedef void (*PgcdcSnapshotRowFn) (PgcdcRelCache *cache, Oid relid,
									LogicalRepTupleData *tup, void *arg);

extern PgcdcSnapshotScan *pgcdc_snapshot_begin(PgcdcRelCache *cache, const char *publication,
											   List *labels, List *relids);
extern uint64 pgcdc_snapshot_fetch(PgcdcSnapshotScan *scan, PgcdcSnapshotRowFn fn, void *arg);
extern void pgcdc_snapshot_progress(PgcdcSnapshotScan *scan, Oid *relid, uint64 *rows_done,
									double *estimate);
extern List *pgcdc_snapshot_relids(PgcdcSnapshotScan *scan);
extern void pgcdc_snapshot_end(PgcdcSnapshotScan *scan);
extern int	pgcdc_snapshot_settings(void);

#endif							/* PGCDC_SNAPSHOT_H */
