/*-------------------------------------------------------------------------
 *
 * sink_redis.h
 *		The redis sink of a source: events written straight from the
 *		stream to a Redis stream, with no queue rows.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/sink_redis.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_SINK_REDIS_H
#define PGCDC_SINK_REDIS_H

#include "mapping.h"

/* The options of a source's redis sink (source_redis.options). */
typedef struct PgcdcSinkRedisOptions
{
	char	   *stream;			/* the stream key; default: the source id */
	int64		maxlen;			/* MAXLEN ~ n on every XADD; 0: no trimming */
	int			batch_size;		/* entries per round trip (and in memory) */
	int			timeout_ms;		/* per connection step and round trip */
} PgcdcSinkRedisOptions;

/* For the SQL functions */
extern void pgcdc_sink_redis_check_url(const char *source_id, const char *url);
extern void pgcdc_sink_redis_parse_options(const char *source_id, const char *options_json,
										   PgcdcSinkRedisOptions *out);

/* For the source worker */
extern void pgcdc_sink_redis_start(const char *source_id);
extern void pgcdc_sink_redis_add(PgcdcTxContext *tx, PgcdcEvent *event);
extern void pgcdc_sink_redis_flush(void);

#endif							/* PGCDC_SINK_REDIS_H */
