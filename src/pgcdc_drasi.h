/*-------------------------------------------------------------------------
 *
 * pgcdc_drasi.h
 *		Names and limits of the extension, and its configuration
 *		parameters.
 *
 * Each module has its own header; this one holds only what every layer
 * may need.  The layers, from the outside in, are listed in
 * docs/design.md ("Source layout").
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/pgcdc_drasi.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_DRASI_H
#define PGCDC_DRASI_H

#define PGCDC_EXTENSION_NAME	"pgcdc_drasi"
#define PGCDC_SCHEMA_NAME		"pgcdc_drasi"
#define PGCDC_SOURCE_ID_MAXLEN	48
/* Labels (set_table_label): short enough for a NOTIFY reference payload. */
#define PGCDC_LABEL_MAXLEN		1024

/* Configuration parameters (init.c) */
extern int	pgcdc_max_sources;
extern int	pgcdc_max_targets;
extern char *pgcdc_conninfo;
extern int	pgcdc_retry_min_interval;
extern int	pgcdc_retry_max_interval;
extern int	pgcdc_create_slot_timeout;
extern int	pgcdc_batch_size;
extern int	pgcdc_group_timeout;
extern int	pgcdc_retention;
extern int	pgcdc_notify_max_pending;
extern double pgcdc_notify_max_usage;

extern void pgcdc_pin_worker_settings(void);

#endif							/* PGCDC_DRASI_H */
