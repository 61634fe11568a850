/*-------------------------------------------------------------------------
 *
 * role_guard.h
 *		DROP ROLE and REASSIGN OWNED against the owners recorded in the
 *		extension's tables of the current database.
 *
 * Copyright (c) 2026, pgcdc_drasi developers
 *
 * IDENTIFICATION
 *		src/role_guard.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCDC_ROLE_GUARD_H
#define PGCDC_ROLE_GUARD_H

extern void pgcdc_role_guard_install(void);

#endif							/* PGCDC_ROLE_GUARD_H */
