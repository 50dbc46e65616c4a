# Embedded static assets: scripts/embed-assets turns them into $(BUILD)/gen/assets.c, which
# the binary serves through src/web/static.c and src/handlers/docs.c.
#
#   build/ui/<file>       -> /<file>               the web UI, built by mk/ui.mk (index.html also at /)
#   web/docs.html         -> /docs                 the API reference page
#   web/docs/<file>       -> /docs/assets/<file>   the page's own script
#   swagger-ui-dist files -> /docs/assets/<file>   vendored from npm (package-lock.json)
#   docs/openapi.json     -> /openapi.json         the OpenAPI document (source of truth)
#
# node_modules comes from `npm ci` on the committed package-lock.json, run only when
# node_modules is missing or older than package.json / package-lock.json (a fresh clone,
# or a bumped version). --ignore-scripts: no package needs an install script, and one of
# swagger-ui-dist's dependencies (@scarf/scarf) would only phone home.
# Text, JavaScript, JSON and SVG assets are stored gzipped (level 9, zero timestamp, so the
# build stays reproducible) when that saves at least 10 %; the server sends them as stored to
# clients that accept gzip and inflates them with zlib for the others.
# The C file is regenerated when any asset, the generator, this file or the set of files
# changes. Asset file names must not contain spaces.

BUILD ?= build

ASSETS_C       := $(BUILD)/gen/assets.c
ASSETS_LIST    := $(BUILD)/gen/assets.list
NPM_STAMP      := node_modules/.todo-npm-ci
SWAGGER_DIR    := node_modules/swagger-ui-dist
SWAGGER_FILES  := swagger-ui.css swagger-ui-bundle.js favicon-32x32.png
# URL prefixes whose files never change under the same URL: vendored (pinned by the lock
# file) and a UI build's hashed outputs (Vite writes them to assets/).
ASSETS_IMMUTABLE := /docs/assets/ /assets/

WEB_FILES      := $(shell find web -type f ! -name '.*' 2>/dev/null | LC_ALL=C sort)
WEB_DOCS_FILES := $(filter web/docs/%,$(WEB_FILES))
SWAGGER_PATHS  := $(addprefix $(SWAGGER_DIR)/,$(SWAGGER_FILES))
# Extra npm ci flags; an image build that needs only the embedded files can pass --omit=dev
# (skips playwright-core, which only the docs-page test uses).
NPM_CI_FLAGS   ?=

ASSET_SPECS := /docs=web/docs.html \
               $(foreach f,$(WEB_DOCS_FILES),$(patsubst web/docs/%,/docs/assets/%,$(f))=$(f)) \
               $(foreach f,$(SWAGGER_FILES),/docs/assets/$(f)=$(SWAGGER_DIR)/$(f)) \
               /openapi.json=docs/openapi.json
ASSET_FILES := $(WEB_FILES) $(SWAGGER_PATHS) docs/openapi.json

GEN_SRC += $(ASSETS_C)

.PHONY: assets npm-deps assets-list-check docs-test

assets: $(ASSETS_C)
npm-deps: $(NPM_STAMP)

$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || \
	    { echo "assets: npm is missing (apt-get install nodejs npm)" >&2; exit 1; }
	@echo "  NPM     ci"
	@npm ci --no-audit --no-fund --ignore-scripts --loglevel=error $(NPM_CI_FLAGS)
	@touch $@

# The vendored files are made by npm ci.
$(SWAGGER_PATHS): $(NPM_STAMP) ;

# The list of asset specs, rewritten only when it changes, so that adding or removing a
# file regenerates the C source even though no remaining file is newer.
$(ASSETS_LIST): assets-list-check
	@mkdir -p $(dir $@)
	@echo '$(ASSET_SPECS)' | cmp -s - $@ 2>/dev/null || echo '$(ASSET_SPECS)' > $@
assets-list-check: ;

# ASSET_TREES (directories embedded whole, "/prefix/=dir") come from mk/ui.mk, which also
# makes this file depend on the build that fills them.
$(ASSETS_C): scripts/embed-assets mk/assets.mk $(ASSETS_LIST) $(ASSET_FILES)
	@echo "  EMBED   $@"
	@python3 scripts/embed-assets -o $@ $(addprefix --immutable-prefix ,$(ASSETS_IMMUTABLE)) \
	    $(addprefix --tree ,$(ASSET_TREES)) $(ASSET_SPECS)

# The OpenAPI contract tests (tests/openapi): the document's validity, the live server
# against it (schemathesis) and the /docs page rendered by Debian's chromium. Needs the
# venv with tests/openapi/requirements.txt and node_modules (playwright-core).
docs-test: $(BUILD)/todo venv $(NPM_STAMP)
	TODO_BIN=$(CURDIR)/$(BUILD)/todo TODO_BUILD_DIR=$(CURDIR)/$(BUILD) \
	    $(VENV)/bin/pytest -q tests/openapi
