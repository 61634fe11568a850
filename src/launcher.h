/*-------------------------------------------------------------------------
 *
 * launcher.h
 *		The cluster-wide launcher and the per-database scanners.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/launcher.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_LAUNCHER_H
#define PGCDC_LAUNCHER_H

#include "fmgr.h"

extern void pgcdc_launcher_register(void);
extern PGDLLEXPORT void pgcdc_launcher_main(Datum main_arg);
extern PGDLLEXPORT void pgcdc_scanner_main(Datum main_arg);

#endif							/* PGCDC_LAUNCHER_H */
