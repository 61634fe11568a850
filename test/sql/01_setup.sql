-- The extension installs and its launcher runs.  The shared helpers
-- (include/helpers.sql) create the extension and wait for the launcher.
\set VERBOSITY terse
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/helpers.sql
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgcdc_drasi launcher';
