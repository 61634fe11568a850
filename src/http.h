/*-------------------------------------------------------------------------
 *
 * http.h
 *		An HTTP client for the delivery workers: URLs and POST requests
 *		over libcurl's multi interface.
 *
 * Every wait is on the process latch and curl's sockets together, with
 * curl's own timers and a deadline, so a worker stays interruptible
 * however slow the server is.  Errors are returned as messages
 * (palloc'd), never raised, so that the caller decides between retrying
 * and failing; no message holds the URL's user, password or query, nor
 * a header.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/http.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_HTTP_H
#define PGCDC_HTTP_H

/* The most of a response body kept (for target_status and the log). */
#define PGCDC_HTTP_MAX_BODY		8192

typedef struct PgcdcHttp PgcdcHttp;

/* Called at least once a second while a request waits; may exit. */
typedef void (*PgcdcHttpCheck) (void);

extern bool pgcdc_http_check_url(const char *url, char **error);
extern char *pgcdc_http_describe_url(const char *url);
extern bool pgcdc_http_check_header(const char *name, const char *value, char **error);

extern PgcdcHttp *pgcdc_http_create(int timeout_ms, const char *ca_file, int nheaders,
									char **headers, PgcdcHttpCheck check, char **error);
extern void pgcdc_http_close(PgcdcHttp *http);
extern uint64 pgcdc_http_connections(PgcdcHttp *http);
extern bool pgcdc_http_post(PgcdcHttp *http, const char *url, const char *idempotency_key,
							const char *body, size_t len, long *status, char **response,
							char **error);

#endif							/* PGCDC_HTTP_H */
