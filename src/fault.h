/*-------------------------------------------------------------------------
 *
 * fault.h
 *		Fault injection for tests: named points where a developer setting
 *		makes a process raise an error or sleep.
 *
 * Only assertion-enabled builds (-DUSE_ASSERT_CHECKING, as CI and
 * test/run.sh build) define the setting pgcdc_drasi.debug_fault and
 * compile the points; elsewhere PGCDC_FAULT() is nothing at all.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/fault.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_FAULT_H
#define PGCDC_FAULT_H

#ifdef USE_ASSERT_CHECKING

extern void pgcdc_fault_define_guc(void);
extern void pgcdc_fault_at(const char *point);

/* A named point: acts if pgcdc_drasi.debug_fault names it. */
#define PGCDC_FAULT(point)	pgcdc_fault_at(point)

#else

#define PGCDC_FAULT(point)	((void) 0)

#endif							/* USE_ASSERT_CHECKING */

#endif							/* PGCDC_FAULT_H */
