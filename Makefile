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
	src/fault.o \
	src/shmem.o \
	src/launcher.o \
	src/catalog.o \
	src/worker.o \
	src/snapshot_sync.o \
	src/walstream.o \
	src/proto.o \
	src/relation.o \
	src/relations.o \
	src/sql_relations.o \
	src/mapping.o \
	src/value.o \
	src/snapshot.o \
	src/sink_queue.o \
	src/queue_row.o \
	src/queue_read.o \
	src/sink_redis.o \
	src/sink_notify.o \
	src/sql_common.o \
	src/sql_sources.o \
	src/sql_consumers.o \
	src/sql_snapshots.o \
	src/sql_payload.o \
	src/sql_targets.o \
	src/role_guard.o \
	src/target.o \
	src/target_http.o \
	src/redis.o \
	src/http.o

# Redis targets: Debian's libhiredis (libhiredis-dev); HTTP targets:
# libcurl (libcurl4-openssl-dev).
SHLIB_LINK = -lhiredis -lcurl

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter $(if $(WERROR),-Werror)

# pg_regress suites (test/sql, test/expected) run in name order on a
# throwaway instance that preloads the library; each suite also runs alone
# (make installcheck REGRESS=03_keys).
REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=$(srcdir)/test --temp-config=$(srcdir)/test/regress.conf --temp-instance=./tmp_check

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


# Extra compiler flags, e.g. make PGCDC_CFLAGS=-DUSE_ASSERT_CHECKING (CI).
override CFLAGS += $(PGCDC_CFLAGS)

# Perl TAP tests test/t/*.pl (PostgreSQL::Test::Cluster), each starting its
# own clusters; logs in test/tmp_check/log (TESTDIR tells PostgreSQL 15's
# test modules where, TESTDATADIR and TESTLOGDIR those of 16 and later).
# One file:
#   make prove_installcheck PROVE_TESTS=test/t/001_restart.pl
# TAP_KEEP_TMP=1 keeps the logs of earlier runs in test/tmp_check.
override PROVE_FLAGS += -I $(srcdir)/test/t
.PHONY: prove_installcheck
prove_installcheck:
	$(if $(TAP_KEEP_TMP),,rm -rf '$(CURDIR)'/test/tmp_check)
	$(MKDIR_P) '$(CURDIR)'/test/tmp_check
	cd $(srcdir) && TESTDIR='$(CURDIR)/test' PATH="$(bindir):$$PATH" PGPORT='6$(DEF_PGPORT)' \
		TESTDATADIR='$(CURDIR)/test/tmp_check' TESTLOGDIR='$(CURDIR)/test/tmp_check/log' \
		PG_REGRESS='$(top_builddir)/src/test/regress/pg_regress' \
		$(PROVE) $(PG_PROVE_FLAGS) $(PROVE_FLAGS) $(if $(PROVE_TESTS),$(PROVE_TESTS),test/t/*.pl)

# pgTAP files test/pgtap/*.sql, each in a fresh database of a throwaway
# cluster that preloads the library (test/pgtap.sh).  Some files:
#   make pgtapcheck PGTAP_TESTS=test/pgtap/010_api.sql
.PHONY: pgtapcheck
pgtapcheck:
	PGBIN='$(bindir)' bash $(srcdir)/test/pgtap.sh $(if $(PGTAP_TESTS),$(PGTAP_TESTS),$(sort $(wildcard $(srcdir)/test/pgtap/*.sql)))
