/*-------------------------------------------------------------------------
 *
 * walstream.h
 *		The logical replication connection of a source worker.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/walstream.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_WALSTREAM_H
#define PGCDC_WALSTREAM_H

#include "access/xlogdefs.h"
#include "port.h"

typedef struct PgcdcStream PgcdcStream;

extern char *pgcdc_stream_conninfo(const char *override, const char *dbname,
								   const char *username);
extern PgcdcStream *pgcdc_stream_connect(const char *conninfo, const char *appname);
extern void pgcdc_stream_start(PgcdcStream *stream, const char *slot_name,
							   const char *publication, XLogRecPtr startpos, bool streaming);
extern int	pgcdc_stream_receive(PgcdcStream *stream, char **buf, pgsocket *wait_fd);
extern void pgcdc_stream_send_feedback(PgcdcStream *stream, XLogRecPtr write_lsn,
									   XLogRecPtr flush_lsn, bool request_reply);
extern char *pgcdc_stream_create_slot(PgcdcStream *stream, const char *slot_name,
									  bool failover, XLogRecPtr *consistent_lsn);
extern void pgcdc_stream_check_failover(bool failover);
extern void pgcdc_stream_set_slot_failover(PgcdcStream *stream, const char *slot_name,
										   bool failover);
extern void pgcdc_stream_drop_slot(PgcdcStream *stream, const char *slot_name);
extern void pgcdc_stream_disconnect(PgcdcStream *stream);
extern XLogRecPtr pgcdc_stream_slot_lsn(const char *slot_name);
extern bool pgcdc_stream_slot_is_ours(const char *slot_name, XLogRecPtr recorded, bool *exists);
extern void pgcdc_stream_check_slot(const char *source_id, const char *slot_name);

#endif							/* PGCDC_WALSTREAM_H */
