/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Our own wrappers over server APIs whose signatures differ between
 *		PostgreSQL major versions.
 *
 * Every version test of the project lives here, so the rest of the code
 * calls one signature.  Core names are never redefined: each wrapper has
 * a pgcdc_ prefix.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_COMPAT_H
#define PGCDC_COMPAT_H

#include "access/xlog.h"
#include "executor/executor.h"
#include "replication/origin.h"
#include "replication/walreceiver.h"
#include "storage/latch.h"
#include "storage/proc.h"

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
#error "pgcdc_drasi supports PostgreSQL 15 only so far; see README.md"
#endif

/* Open a logical replication connection through libpqwalreceiver. */
static inline WalReceiverConn *
pgcdc_walrcv_connect(const char *conninfo, const char *appname, char **err)
{
	return walrcv_connect(conninfo, true, appname, err);
}

/* Fill the logical part of the streaming options. */
static inline void
pgcdc_stream_options_init(WalRcvStreamOptions *options, char *slot_name,
						  XLogRecPtr startpoint, List *publications)
{
	memset(options, 0, sizeof(*options));
	options->logical = true;
	options->slotname = slot_name;
	options->startpoint = startpoint;
	options->proto.logical.proto_version = LOGICALREP_PROTO_VERSION_NUM;
	options->proto.logical.publication_names = publications;
	options->proto.logical.binary = false;
	options->proto.logical.streaming = false;
	options->proto.logical.twophase = false;
}

/* Create a permanent pgoutput slot and export its snapshot. */
static inline char *
pgcdc_walrcv_create_exported_slot(WalReceiverConn *conn, const char *slot_name,
								  XLogRecPtr *lsn)
{
	return walrcv_create_slot(conn, slot_name, false, false, CRS_EXPORT_SNAPSHOT, lsn);
}

/* Take ownership of a replication origin for this session. */
static inline void
pgcdc_replorigin_session_setup(RepOriginId origin)
{
	replorigin_session_setup(origin);
}

/* Position up to which WAL is durably flushed. */
static inline XLogRecPtr
pgcdc_flush_ptr(void)
{
	return GetFlushRecPtr(NULL);
}

/* Insert index entries for a tuple already in the heap. */
static inline List *
pgcdc_insert_index_tuples(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate)
{
	return ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
}

/* Make a one-relation range table for an executor state of our own. */
static inline void
pgcdc_init_range_table(EState *estate, RangeTblEntry *rte)
{
	ExecInitRangeTable(estate, list_make1(rte));
}

/* The number of our PGPROC, by which others can set our latch. */
static inline int
pgcdc_my_procno(void)
{
	return MyProc->pgprocno;
}

/* Set the latch of the process with that PGPROC number. */
static inline void
pgcdc_set_latch_of(int procno)
{
	SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

#endif							/* PGCDC_COMPAT_H */
