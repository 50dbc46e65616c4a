# todo — build, run and test.
#
#   make run     install missing system packages, build, serve on http://127.0.0.1:8000
#   make test    the same set-up, then every test layer (unit, black-box on SQLite and
#                PostgreSQL, the web UI in a browser, the sanitizer run, short fuzz runs,
#                chart and image, the chart on a cluster), side by side where they can be:
#                TEST_LAYERS below, run by scripts/test-layers; see docs/testing.md
#   make fuzz    every libFuzzer target for FUZZ_SECONDS (mk/fuzz.mk, docs/robustness.md)
#
# System libraries come from pkg-config; yyjson is vendored in third_party/.

VERSION  := $(shell cat VERSION)
REVISION := $(shell git rev-parse --short=7 HEAD 2>/dev/null || echo unknown)

CC       ?= cc
PKGS     := libmicrohttpd sqlite3 libpq libsodium libcrypto libcurl zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla \
            -Wno-unused-parameter
CPPFLAGS += -D_GNU_SOURCE -Isrc -Ithird_party/yyjson \
            -DTODO_VERSION=\"$(VERSION)\" -DTODO_REVISION=\"$(REVISION)\"
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -pthread -fno-strict-aliasing $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -pthread

SRC      := $(shell find src -name '*.c' | sort)
# Generated C sources (embedded assets, documents) under $(BUILD)/gen; mk/*.mk add to it.
GEN_SRC  :=
include $(sort $(wildcard mk/*.mk))
SRC      += $(GEN_SRC)
LIB_SRC  := $(filter-out src/main.c,$(SRC))
TP_SRC   := third_party/yyjson/yyjson.c
UNIT_SRC := $(wildcard tests/unit/test_*.c)

# Build flavours: release objects under build/obj, sanitizer objects under build/asan/obj.
BUILD    ?= build
OBJDIR   := $(BUILD)/obj
ASANDIR  := $(BUILD)/asan
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined

objs = $(patsubst %.c,$(1)/%.o,$(2))

.PHONY: all build asan run test unit unit-asan blackbox blackbox-asan drills deploy-test k8s-test deps test-deps \
        format format-check image bench minikube-deploy clean venv test-prep test-image print-test-layers

all: build
build: $(BUILD)/todo

$(BUILD)/todo: $(call objs,$(OBJDIR),$(SRC) $(TP_SRC))
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OBJDIR)/third_party/%.o: third_party/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

# --- sanitizer build (ASan + UBSan) ------------------------------------------------
asan: $(ASANDIR)/todo

$(ASANDIR)/todo: $(call objs,$(ASANDIR)/obj,$(SRC) $(TP_SRC))
	@echo "  LD-SAN  $@"
	@$(CC) $(CFLAGS) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(ASANDIR)/obj/third_party/%.o: third_party/%.c
	@mkdir -p $(dir $@)
	@echo "  CC-SAN  $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -MMD -MP -c -o $@ $<

$(ASANDIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC-SAN  $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) $(WARN) -MMD -MP -c -o $@ $<

# --- unit tests (cmocka) ------------------------------------------------------------
UNIT_BINS      := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
UNIT_ASAN_BINS := $(patsubst tests/unit/%.c,$(ASANDIR)/tests/%,$(UNIT_SRC))

$(BUILD)/tests/%: tests/unit/%.c $(call objs,$(OBJDIR),$(LIB_SRC) $(TP_SRC))
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $^ $(LDLIBS) -lcmocka

$(ASANDIR)/tests/%: tests/unit/%.c $(call objs,$(ASANDIR)/obj,$(LIB_SRC) $(TP_SRC))
	@mkdir -p $(dir $@)
	@echo "  CCLD-SAN $@"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) $(WARN) -o $@ $^ $(LDLIBS) -lcmocka

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

unit-asan: $(UNIT_ASAN_BINS)
	@set -e; for t in $(UNIT_ASAN_BINS); do echo "== $$t (asan)"; $$t; done

# --- black-box tests (pytest against the real binary, SQLite and PostgreSQL) -------
VENV := build/venv
venv: $(VENV)/.stamp
$(VENV)/.stamp: tests/requirements.txt tests/openapi/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
	@touch $@

# BACKENDS: the backends to run (sqlite, postgres or both). `make test` runs each in its own
# process, and BACKEND_FREE=skip leaves the tests that take no backend to the SQLite one.
BACKENDS ?= sqlite,postgres
BACKEND_FREE ?= run
blackbox: $(BUILD)/todo venv
	TODO_BIN=$(CURDIR)/$(BUILD)/todo TODO_BACKENDS=$(BACKENDS) TODO_BACKEND_FREE=$(BACKEND_FREE) \
	$(VENV)/bin/pytest -q --durations=10 tests/blackbox

# The fault drills (tests/blackbox/drills, docs/robustness.md "Fault drills"): kill -9 under
# writes, a stopped database, a replica's SIGTERM behind the web role, hung and trickling model
# providers, slowloris and 10,000 idle connections. Release build only (they measure latency
# and load), both backends in one process; `make blackbox` leaves them out (norecursedirs).
drills: $(BUILD)/todo venv
	TODO_BIN=$(CURDIR)/$(BUILD)/todo TODO_BACKENDS=$(BACKENDS) \
	$(VENV)/bin/pytest -q --durations=20 tests/blackbox/drills

blackbox-asan: $(ASANDIR)/todo venv
	TODO_BIN=$(CURDIR)/$(ASANDIR)/todo TODO_ASAN=1 TODO_BACKENDS=$(BACKENDS) TODO_BACKEND_FREE=$(BACKEND_FREE) \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	$(VENV)/bin/pytest -q --durations=10 tests/blackbox

# --- chart and image ----------------------------------------------------------------
deploy-test:
	bash tests/deploy/run.sh

# The chart on a real cluster: KUBECONFIG, or kube-local (KUBE_LOCAL, default
# /work/shared/kube-local) brought up and down around the run (tests/deploy/k8s.sh).
k8s-test:
	bash tests/deploy/run.sh k8s

# The images deploy-test and k8s-test use (the project's and the PostgreSQL stand-in), built
# once before both: `make test` then runs them side by side with TODO_IMAGE=$(TEST_IMAGE).
TEST_IMAGE := todo:$(VERSION)-$(REVISION)
test-image:
	bash tests/deploy/run.sh images

image:
	bash deploy/build-image.sh

minikube-deploy:
	bash deploy/minikube-deploy.sh

# --- the two commands -----------------------------------------------------------------
deps:
	@scripts/install-deps

test-deps:
	@scripts/install-deps --test

run: deps
	@$(MAKE) --no-print-directory build
	$(BUILD)/todo serve

# --- the layers of `make test` --------------------------------------------------------------
# One line per layer: name, the layers it needs first (comma-separated, or -), how much of one
# core it keeps busy (percent: 100 for a compiler, less for a suite that mostly waits on
# servers, timers or a cluster), and what `make` runs for it. scripts/test-layers starts each
# layer once its needs have passed, while the cpu of the running layers adds up to less than
# TEST_CPU (default 100 per core), earlier lines first. Heavy layers (cpu >= 100: the two
# that compile, and the fuzzers) run only beside each other, so no timing test runs beside a
# compiler or a fuzzer. Each layer writes build/test-logs/<name>.log; a failed layer's log is
# printed and the run fails naming it; a table of durations ends the output (docs/testing.md).
# Adding a layer is adding its line here. `make test LAYERS="ui unit"` runs only those (and
# what they need); TEST_SERIAL=1 runs one layer at a time.
define TEST_LAYERS
image            -       100  test-image
prep             -       100  -j2 test-prep
fuzz             prep    100  fuzz-smoke
k8s              image    40  k8s-test TODO_IMAGE=$(TEST_IMAGE)
deploy           image    40  deploy-test TODO_IMAGE=$(TEST_IMAGE)
blackbox-asan-pg prep     40  blackbox-asan BACKENDS=postgres BACKEND_FREE=skip
blackbox-pg      prep     30  blackbox BACKENDS=postgres BACKEND_FREE=skip
ui               prep     30  ui-test
blackbox-asan-sq prep     40  blackbox-asan BACKENDS=sqlite
blackbox-sqlite  prep     30  blackbox BACKENDS=sqlite
docs             prep     40  docs-test
unit             prep     50  unit
unit-asan        prep     50  unit-asan
drills           prep     30  drills
endef
export TEST_LAYERS
LAYERS ?=

# Everything the layers share, built once before them (they would race to build it).
# The network-bound steps (npm ci, the venv) first, so they overlap the compiler.
test-prep: $(NPM_STAMP) venv format-check $(BUILD)/todo $(ASANDIR)/todo $(UNIT_BINS) $(UNIT_ASAN_BINS) \
           $(FUZZ_BINS)

test: test-deps
	@scripts/test-layers $(LAYERS)

print-test-layers:
	@printf '%s\n' "$$TEST_LAYERS"

bench: $(BUILD)/todo
	bash bench/run.sh
	TODO_BIN=$(BUILD)/todo bash bench/chat.sh

# --- style ------------------------------------------------------------------------------
FMT_FILES = $(shell find src tests/unit fuzz -name '*.[ch]' | sort)
format:
	clang-format -i $(FMT_FILES)
format-check:
	@echo "  FORMAT  check $(words $(FMT_FILES)) files"
	@clang-format --dry-run --Werror $(FMT_FILES)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- the README's configuration table, generated from src/core/config.c -----------------
.PHONY: config-table
config-table: $(BUILD)/todo
	@python3 scripts/readme-config-table $(BUILD)/todo README.md
