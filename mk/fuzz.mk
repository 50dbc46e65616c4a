# --- fuzzing: libFuzzer targets of fuzz/ (Debian's clang; docs/robustness.md) -------------
#
#   make fuzz         each target for FUZZ_SECONDS (60) from its seeds (fuzz/corpus/<name>);
#                     what it finds that is new goes to build/fuzz/corpus/<name>, a crash to
#                     build/fuzz/artifacts/ (make it a seed and a regression unit test)
#   make fuzz-smoke   each target briefly (FUZZ_SMOKE_SECONDS, 3) on its seeds: the layer
#                     `make test` runs
#
# Every object is built with clang's -fsanitize=fuzzer-no-link,address,undefined; a target
# is fuzz/<name>.c (LLVMFuzzerTestOneInput) linked with fuzz/fuzz.c and the program.

FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 3
BUILD              ?= build
FUZZ_DIR           := $(BUILD)/fuzz
FUZZ_SAN           := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_FLAGS         := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $(FUZZ_SAN)
FUZZ_NAMES         := $(patsubst fuzz/%.c,%,$(filter-out fuzz/fuzz.c,$(wildcard fuzz/*.c)))
FUZZ_BINS          := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))
# The program's sources as the Makefile lists them (it sets LIB_SRC only after including
# mk/*.mk, and a rule's prerequisites are read at once): src/ but main.c, the generated
# sources the mk files before this one add, yyjson, and the targets' shared fuzz/fuzz.c.
FUZZ_LIB_SRC       := $(filter-out src/main.c,$(shell find src -name '*.c' | sort)) $(GEN_SRC) \
                      third_party/yyjson/yyjson.c fuzz/fuzz.c
FUZZ_LIB_OBJS      := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_LIB_SRC))

.PHONY: fuzz fuzz-build fuzz-smoke
.SECONDARY: $(FUZZ_LIB_OBJS) $(patsubst %,$(FUZZ_DIR)/obj/fuzz/%.o,$(FUZZ_NAMES))

fuzz-build: $(FUZZ_BINS)

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/fuzz/%.o $(FUZZ_LIB_OBJS)
	@echo "  LD-FUZZ $@"
	@$(FUZZ_CC) $(CFLAGS) -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(FUZZ_DIR)/obj/third_party/%.o: third_party/%.c
	@mkdir -p $(dir $@)
	@echo "  CC-FUZZ $<"
	@$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS) $(FUZZ_FLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC-FUZZ $<"
	@$(FUZZ_CC) $(CPPFLAGS) -Ifuzz $(CFLAGS) $(FUZZ_FLAGS) $(WARN) -MMD -MP -c -o $@ $<

# One target: fuzz_run NAME SECONDS CORPUS-DIR. Seeds are read from fuzz/corpus/NAME and new
# inputs written to CORPUS-DIR; exits non-zero on a crash, a leak or a sanitizer report.
fuzz_run = mkdir -p $(3) $(FUZZ_DIR)/artifacts && \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	$(FUZZ_DIR)/fuzz_$(1) -max_total_time=$(2) -print_final_stats=1 -timeout=10 \
	  -rss_limit_mb=2048 -artifact_prefix=$(FUZZ_DIR)/artifacts/$(1)- \
	  $(if $(wildcard fuzz/$(1).dict),-dict=fuzz/$(1).dict) $(3) fuzz/corpus/$(1) \
	  >$(FUZZ_DIR)/$(1).log 2>&1 \
	|| { tail -60 $(FUZZ_DIR)/$(1).log; echo "fuzz: $(1) failed (log: $(FUZZ_DIR)/$(1).log)"; exit 1; }; \
	echo "  FUZZ    $(1): $$(awk '/stat::number_of_executed_units/ {n=$$2} /stat::average_exec_per_sec/ {r=$$2} END {print n " runs, " r "/s"}' $(FUZZ_DIR)/$(1).log)"

fuzz: $(FUZZ_BINS)
	@set -e; $(foreach t,$(FUZZ_NAMES),$(call fuzz_run,$(t),$(FUZZ_SECONDS),$(FUZZ_DIR)/corpus/$(t));)

fuzz-smoke: $(FUZZ_BINS)
	@set -e; $(foreach t,$(FUZZ_NAMES),rm -rf $(FUZZ_DIR)/smoke/$(t); $(call fuzz_run,$(t),$(FUZZ_SMOKE_SECONDS),$(FUZZ_DIR)/smoke/$(t));)
