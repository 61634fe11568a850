/*-------------------------------------------------------------------------
 *
 * worker.h
 *		The source worker, started by the launcher once per enabled
 *		source.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/worker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_WORKER_H
#define PGCDC_WORKER_H

#include "fmgr.h"

extern PGDLLEXPORT void pgcdc_source_main(Datum main_arg);

#endif							/* PGCDC_WORKER_H */
