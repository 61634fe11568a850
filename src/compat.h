/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Our own wrappers over server APIs whose signatures differ between
 *		PostgreSQL major versions.
 *
 * Every version test of the project lives here, so the rest of the code
 * calls one signature.  Core names are never redefined: each wrapper has
 * a pgcdc_ prefix.  Supported: 15, 17 and 18 (tested), 16 (compiles by
 * construction: each wrapper follows the API of the version that changed
 * it, so 16 takes the branches of its own API).
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
#include "replication/logicalproto.h"
#include "replication/message.h"
#include "replication/origin.h"
#include "replication/slot.h"
#include "replication/walreceiver.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 190000
#error "pgcdc_drasi supports PostgreSQL 15 to 18; see README.md"
#endif

/* Open a logical replication connection through libpqwalreceiver. */
static inline WalReceiverConn *
pgcdc_walrcv_connect(const char *conninfo, const char *appname, char **err)
{
#if PG_VERSION_NUM >= 170000
	/* replication = true, logical = true, must_use_password = false */
	return walrcv_connect(conninfo, true, true, false, appname, err);
#elif PG_VERSION_NUM >= 160000
	/* logical = true, must_use_password = false */
	return walrcv_connect(conninfo, true, false, appname, err);
#else
	return walrcv_connect(conninfo, true, appname, err);
#endif
}

/*
 * Fill the logical part of the streaming options: text values, no
 * two-phase; with streaming, protocol version 2 and in-progress
 * transactions streamed ("on": "parallel" would only add the abort
 * position to Stream Abort, which we do not need), else protocol 1.
 */
static inline void
pgcdc_stream_options_init(WalRcvStreamOptions *options, char *slot_name,
						  XLogRecPtr startpoint, List *publications, bool streaming)
{
	memset(options, 0, sizeof(*options));
	options->logical = true;
	options->slotname = slot_name;
	options->startpoint = startpoint;
	options->proto.logical.proto_version = streaming ? LOGICALREP_PROTO_STREAM_VERSION_NUM :
		LOGICALREP_PROTO_VERSION_NUM;
	options->proto.logical.publication_names = publications;
	options->proto.logical.binary = false;
#if PG_VERSION_NUM >= 160000
	options->proto.logical.streaming_str = streaming ? "on" : NULL; /* NULL: "off" */
	options->proto.logical.origin = NULL;	/* "any" */
#else
	options->proto.logical.streaming = streaming;
#endif
	options->proto.logical.twophase = false;
}

/* Read a Stream Abort message: the transaction and the subtransaction. */
static inline TransactionId
pgcdc_read_stream_abort(StringInfo msg, TransactionId *subxid)
{
#if PG_VERSION_NUM >= 160000
	LogicalRepStreamAbortData abort_data;

	logicalrep_read_stream_abort(msg, &abort_data, false);
	*subxid = abort_data.subxid;
	return abort_data.xid;
#else
	TransactionId xid;

	logicalrep_read_stream_abort(msg, &xid, subxid);
	return xid;
#endif
}

/*
 * Can a logical slot be synchronized to physical standbys (its failover
 * property, sync_replication_slots on the standby)?  PostgreSQL 17 on.
 */
static inline bool
pgcdc_failover_slots_supported(void)
{
	return PG_VERSION_NUM >= 170000;
}

/*
 * Create a permanent pgoutput slot and export its snapshot; failover
 * only where pgcdc_failover_slots_supported().
 */
static inline char *
pgcdc_walrcv_create_exported_slot(WalReceiverConn *conn, const char *slot_name,
								  bool failover, XLogRecPtr *lsn)
{
#if PG_VERSION_NUM >= 170000
	/* temporary = false, two_phase = false */
	return walrcv_create_slot(conn, slot_name, false, false, failover, CRS_EXPORT_SNAPSHOT, lsn);
#else
	Assert(!failover);
	return walrcv_create_slot(conn, slot_name, false, false, CRS_EXPORT_SNAPSHOT, lsn);
#endif
}

/*
 * Set the failover property of an inactive slot over a replication
 * connection (ALTER_REPLICATION_SLOT); only where
 * pgcdc_failover_slots_supported().
 */
static inline void
pgcdc_walrcv_alter_slot_failover(WalReceiverConn *conn, const char *slot_name, bool failover)
{
#if PG_VERSION_NUM >= 180000
	/* two_phase = NULL: left as it is */
	walrcv_alter_slot(conn, slot_name, &failover, NULL);
#elif PG_VERSION_NUM >= 170000
	walrcv_alter_slot(conn, slot_name, failover);
#else
	elog(ERROR, "replication slots have no failover property before PostgreSQL 17");
#endif
}

/* The failover property of a slot (false before PostgreSQL 17). */
static inline bool
pgcdc_slot_failover(ReplicationSlot *slot)
{
#if PG_VERSION_NUM >= 170000
	return slot->data.failover;
#else
	return false;
#endif
}

/*
 * The query that creates a permanent pgoutput slot named $1, synchronized
 * to standbys with failover (only where pgcdc_failover_slots_supported()).
 */
static inline const char *
pgcdc_create_slot_query(bool failover)
{
#if PG_VERSION_NUM >= 170000
	if (failover)
		return "SELECT lsn FROM pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput', "
			"false, false, true)";
#else
	Assert(!failover);
#endif
	return "SELECT lsn FROM pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')";
}

/*
 * Does synchronized_standby_slots name any standby?  Without one, the
 * primary does not hold back logical changes for the standbys.
 */
static inline bool
pgcdc_standby_slots_configured(void)
{
#if PG_VERSION_NUM >= 170000
	return synchronized_standby_slots != NULL && synchronized_standby_slots[0] != '\0';
#else
	return false;
#endif
}

/*
 * Have the standbys named in synchronized_standby_slots flushed the WAL
 * up to lsn?  True when none are named (and before PostgreSQL 17).
 */
static inline bool
pgcdc_standby_slots_flushed(XLogRecPtr lsn)
{
#if PG_VERSION_NUM >= 170000
	return StandbySlotsHaveCaughtup(lsn, DEBUG1);
#else
	return true;
#endif
}

/* Take ownership of a replication origin for this session. */
static inline void
pgcdc_replorigin_session_setup(RepOriginId origin)
{
#if PG_VERSION_NUM >= 160000
	replorigin_session_setup(origin, 0);
#else
	replorigin_session_setup(origin);
#endif
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
#if PG_VERSION_NUM >= 160000
	/* update = false, noDupErr = false, onlySummarizing = false */
	return ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL, false);
#else
	return ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
#endif
}

/* Make a one-relation range table for an executor state of our own. */
static inline void
pgcdc_init_range_table(EState *estate, RangeTblEntry *rte)
{
#if PG_VERSION_NUM >= 180000
	ExecInitRangeTable(estate, list_make1(rte), NIL, bms_make_singleton(1));
#elif PG_VERSION_NUM >= 160000
	ExecInitRangeTable(estate, list_make1(rte), NIL);
#else
	ExecInitRangeTable(estate, list_make1(rte));
#endif
}

/* The number of our PGPROC, by which others can set our latch. */
static inline int
pgcdc_my_procno(void)
{
#if PG_VERSION_NUM >= 170000
	return MyProcNumber;
#else
	return MyProc->pgprocno;
#endif
}

/* Set the latch of the process with that PGPROC number. */
static inline void
pgcdc_set_latch_of(int procno)
{
#if PG_VERSION_NUM >= 170000
	SetLatch(&GetPGProcByNumber(procno)->procLatch);
#else
	SetLatch(&ProcGlobal->allProcs[procno].procLatch);
#endif
}

/*
 * Write a non-transactional logical message and flush it, so that it is
 * in the WAL a walsender may send.
 */
static inline XLogRecPtr
pgcdc_log_flushed_message(const char *prefix)
{
	XLogRecPtr	lsn;

#if PG_VERSION_NUM >= 170000
	lsn = LogLogicalMessage(prefix, "", 0, false, true);
#else
	lsn = LogLogicalMessage(prefix, "", 0, false);
#endif
	XLogFlush(lsn);
	return lsn;
}

/* The OID of a table's primary key index, deferrable or not, or Invalid. */
static inline Oid
pgcdc_primary_key_index(Relation rel)
{
#if PG_VERSION_NUM >= 180000
	return RelationGetPrimaryKeyIndex(rel, true);
#else
	return RelationGetPrimaryKeyIndex(rel);
#endif
}

/* Wait for a transaction to end if that needs no waiting; true if it ended. */
static inline bool
pgcdc_xact_ended(TransactionId xid)
{
#if PG_VERSION_NUM >= 180000
	return ConditionalXactLockTableWait(xid, false);
#else
	return ConditionalXactLockTableWait(xid);
#endif
}

/*
 * Why a slot was invalidated, in the words of pg_replication_slots'
 * invalidation_reason (17+), or NULL if it is valid.  15 records only that
 * the WAL was removed; 16 adds the cause; 18 the idle timeout.  Caller
 * holds the slot's mutex.
 */
static inline const char *
pgcdc_slot_invalidation_reason(ReplicationSlot *slot)
{
#if PG_VERSION_NUM >= 160000
	switch (slot->data.invalidated)
	{
		case RS_INVAL_NONE:
			return NULL;
		case RS_INVAL_WAL_REMOVED:
			return "wal_removed";
		case RS_INVAL_HORIZON:
			return "rows_removed";
		case RS_INVAL_WAL_LEVEL:
			return "wal_level_insufficient";
#if PG_VERSION_NUM >= 180000
		case RS_INVAL_IDLE_TIMEOUT:
			return "idle_timeout";
#endif
	}
	return "invalidated";
#else
	if (!XLogRecPtrIsInvalid(slot->data.invalidated_at) &&
		XLogRecPtrIsInvalid(slot->data.restart_lsn))
		return "wal_removed";
	return NULL;
#endif
}

/*
 * A wait event set owned by no resource owner (the caller frees it):
 * 15 and 16 take a memory context, 17 and later a resource owner.
 */
static inline WaitEventSet *
pgcdc_create_wait_event_set(int nevents)
{
#if PG_VERSION_NUM >= 170000
	return CreateWaitEventSet(NULL, nevents);
#else
	return CreateWaitEventSet(CurrentMemoryContext, nevents);
#endif
}

#endif							/* PGCDC_COMPAT_H */
