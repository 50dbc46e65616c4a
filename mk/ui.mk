# The web UI (ui/): TypeScript + Preact, built by Vite into $(BUILD)/ui and embedded by
# mk/assets.mk at / (index.html, the manifest and icons revalidated; assets/ hashed and
# immutable). See docs/ui.md.
#
#   make ui          build it (npm ci first when the lock file changed)
#   make ui-check    tsc --noEmit and eslint
#   make ui-test     ui-check, then the browser tests (tests/ui) against the real binary
#
# The build runs only when a file under ui/, the lock file or this file changes. Vite's
# output is deterministic (content hashes, no timestamps), so the same sources give the same
# binary.

UI_OUT     := $(BUILD)/ui
UI_STAMP   := $(UI_OUT)/.stamp
UI_SOURCES := $(shell find ui -type f ! -name '.*' 2>/dev/null | LC_ALL=C sort)
NODE       ?= node
UI_TEST_OUT := $(BUILD)/ui-test

ASSET_TREES += /=$(UI_OUT)
$(ASSETS_C): $(UI_STAMP)

.PHONY: ui ui-check ui-test

ui: $(UI_STAMP)

$(UI_STAMP): $(UI_SOURCES) mk/ui.mk $(NPM_STAMP)
	@echo "  VITE    $(UI_OUT)"
	@UI_OUT_DIR=$(CURDIR)/$(UI_OUT) $(NODE) node_modules/vite/bin/vite.js build \
	    --config ui/vite.config.mjs
	@touch $@

ui-check: $(NPM_STAMP)
	$(NODE) node_modules/typescript/bin/tsc -p ui/tsconfig.json --noEmit
	$(NODE) node_modules/eslint/bin/eslint.js -c ui/eslint.config.mjs --max-warnings 0 ui tests/ui

# One node process, one browser, several contexts (tests/ui/README.md).
ui-test: ui-check $(BUILD)/todo
	TODO_BIN=$(CURDIR)/$(BUILD)/todo UI_TEST_OUT=$(CURDIR)/$(UI_TEST_OUT) \
	    $(NODE) --test --test-reporter=spec tests/ui/all.test.mjs
