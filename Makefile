# pgcdc_drasi: PGXS build
EXTENSION = pgcdc_drasi
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(srcdir)/pgcdc_drasi.control)
MODULE_big = pgcdc_drasi

# sql/pgcdc_drasi.sql is the current version's script; older full scripts
# stay installed so that upgrades from them can be tested.
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))
EXTRA_CLEAN = $(DATA_built)
PGFILEDESC = "pgcdc_drasi - change data capture into Drasi node events"

OBJS = \
	src/init.o \
	src/shmem.o \
	src/launcher.o \
	src/catalog.o \
	src/worker.o \
	src/snapshot_sync.o \
	src/walstream.o \
	src/proto.o \
	src/relation.o \
	src/mapping.o \
	src/value.o \
	src/snapshot.o \
	src/sink_queue.o \
	src/sink_notify.o \
	src/sql_common.o \
	src/sql_sources.o \
	src/sql_consumers.o \
	src/sql_snapshots.o

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter $(if $(WERROR),-Werror) $(EXTRA_CFLAGS)

# pg_regress suites run on a throwaway instance that preloads the library.
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/0*.sql)))
REGRESS_OPTS = --temp-config=$(srcdir)/test/regress.conf --temp-instance=./tmp_check

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

# PGXS tracks no header dependencies: every object depends on every header.
$(OBJS): $(wildcard src/*.h)

# Code layout: PostgreSQL's pgindent with its typedefs.list plus ours
# (scripts/pgindent.sh); "make typedefs" regenerates our typedefs.list.
.PHONY: indent typedefs
indent:
	$(srcdir)/scripts/pgindent.sh

typedefs:
	$(srcdir)/scripts/typedefs.sh
