/*-------------------------------------------------------------------------
 *
 * target.h
 *		Targets: the delivery worker that sends a source's queued events
 *		to Redis Streams exactly once, and the options of a target.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/target.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_TARGET_H
#define PGCDC_TARGET_H

#include "fmgr.h"

/* The options of a target (targets.options), with their defaults filled in. */
typedef struct PgcdcTargetOptions
{
	char	   *stream;			/* the Redis stream key; default: the target
								 * id */
	int64		maxlen;			/* MAXLEN ~ n on every XADD; 0: no trimming */
	int			batch_size;		/* events per round trip */
	int			timeout_ms;		/* per connection step and round trip */
	bool		start_latest;	/* start_at "latest" (create_target only) */
} PgcdcTargetOptions;

extern void pgcdc_target_parse_options(const char *target_id, const char *options_json,
									   PgcdcTargetOptions *out);
extern PGDLLEXPORT void pgcdc_target_main(Datum main_arg);

#endif							/* PGCDC_TARGET_H */
