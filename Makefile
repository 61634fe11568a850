# pgcdc_drasi: PGXS build
EXTENSION = pgcdc_drasi
MODULE_big = pgcdc_drasi
DATA = pgcdc_drasi--0.1.sql
PGFILEDESC = "pgcdc_drasi - change data capture into Drasi node events"

OBJS = \
	src/init.o \
	src/shmem.o \
	src/launcher.o \
	src/worker.o \
	src/walstream.o \
	src/decode.o \
	src/mapping.o \
	src/value.o \
	src/sink_queue.o \
	src/sink_notify.o \
	src/bootstrap.o \
	src/sql_common.o \
	src/sql_sources.o \
	src/sql_consumers.o \
	src/sql_snapshots.o

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers $(if $(WERROR),-Werror)

# pg_regress suites run on a throwaway instance that preloads the library.
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --temp-config=$(srcdir)/test/regress.conf --temp-instance=./tmp_check

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Every object depends on the shared headers (PGXS tracks no dependencies).
$(OBJS): src/pgcdc_drasi.h src/compat.h src/sql_common.h

# Code layout: PostgreSQL's pgindent with its typedefs.list plus ours
# (scripts/pgindent.sh); "make typedefs" regenerates our typedefs.list.
.PHONY: indent typedefs
indent:
	$(srcdir)/scripts/pgindent.sh

typedefs:
	$(srcdir)/scripts/typedefs.sh
