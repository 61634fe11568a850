/*-------------------------------------------------------------------------
 *
 * target.h
 *		Targets: the delivery worker that sends a source's queued events
 *		to Redis Streams exactly once or to an HTTP endpoint, and the
 *		options of a target.
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
#include "utils/jsonb.h"

typedef enum PgcdcTargetKind
{
	PGCDC_TARGET_REDIS,
	PGCDC_TARGET_HTTP
} PgcdcTargetKind;

typedef enum PgcdcHttpFormat
{
	PGCDC_HTTP_FORMAT_DRASI,	/* Drasi's HTTP source */
	PGCDC_HTTP_FORMAT_WEBHOOK	/* our payloads in a JSON array */
} PgcdcHttpFormat;

/* The options of a target (targets.options), with their defaults filled in. */
typedef struct PgcdcTargetOptions
{
	PgcdcTargetKind kind;
	int			batch_size;		/* events per round trip */
	int			timeout_ms;		/* per connection step and round trip */
	bool		start_latest;	/* start_at "latest" (create_target only) */
	/* redis */
	char	   *stream;			/* the Redis stream key; default: the target
								 * id */
	int64		maxlen;			/* MAXLEN ~ n on every XADD; 0: no trimming */
	/* http */
	PgcdcHttpFormat format;
	int			nheaders;
	char	  **headers;		/* "Name: value" lines; may hold secrets */
	char	   *ca_file;		/* NULL: the system's CAs */
} PgcdcTargetOptions;

/* What became of a batch sent to an HTTP target. */
typedef enum PgcdcHttpOutcome
{
	PGCDC_HTTP_DELIVERED,		/* 2xx */
	PGCDC_HTTP_RETRY,			/* no response, 408, 429 or 5xx */
	PGCDC_HTTP_REFUSED,			/* another status: stop */
	PGCDC_HTTP_PARTIAL			/* 2xx, but Drasi refused some events */
} PgcdcHttpOutcome;

struct PgcdcHttp;

extern PgcdcTargetKind pgcdc_target_kind(const char *kind);
extern void pgcdc_target_parse_options(const char *target_id, PgcdcTargetKind kind,
									   const char *options_json, PgcdcTargetOptions *out);
extern int64 pgcdc_target_option_int(const char *owner, const char *key, JsonbValue *v,
									 int64 min, int64 max);
extern void pgcdc_target_check_url(const char *target_id, PgcdcTargetKind kind,
								   const char *url);
extern PgcdcHttpOutcome pgcdc_target_http_send(struct PgcdcHttp *http,
											   const PgcdcTargetOptions *options,
											   const char *url, const char *source_id,
											   int n, const int64 *seqs, char **payloads,
											   int *sent, char **message, char **detail);
extern char *pgcdc_target_redis_entry(const char *source_id, const char *event_id,
									  const char *payload);
extern PGDLLEXPORT void pgcdc_target_main(Datum main_arg);

#endif							/* PGCDC_TARGET_H */
