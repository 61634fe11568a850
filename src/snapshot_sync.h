/*-------------------------------------------------------------------------
 *
 * snapshot_sync.h
 *		The snapshots a source worker takes of its tables: the initial
 *		snapshot, re-snapshots merged into the stream, and resyncs.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/snapshot_sync.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_SNAPSHOT_SYNC_H
#define PGCDC_SNAPSHOT_SYNC_H

#include "access/xlogdefs.h"

#include "catalog.h"

extern XLogRecPtr pgcdc_sync_prepare_start(XLogRecPtr origin_lsn, bool needs_snapshot,
										   bool needs_resync);
extern void pgcdc_sync_restore(const PgcdcSourceProgress *progress);
extern void pgcdc_sync_note_published(TransactionId xid);
extern bool pgcdc_sync_shows_change(Oid relid, uint64 full_xid);
extern void pgcdc_sync_request_check(void);
extern void pgcdc_sync_between_transactions(void);

#endif							/* PGCDC_SNAPSHOT_SYNC_H */
