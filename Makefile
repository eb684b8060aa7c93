# needsmap: two commands for a fresh machine (see README.md)
#   make demo   install, build the Trafford demo store, serve the dashboard on :8501
#   make test   install and run the whole test suite

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
AREA   ?= Trafford
PORT   ?= 8501
# The offline mirror (../shared/data beside this checkout) is used when present.
NEEDSMAP_MIRROR ?= $(if $(wildcard ../shared/data/MANIFEST.md),$(abspath ../shared/data),)
export NEEDSMAP_MIRROR

.PHONY: demo test install assets store serve bench bench-map bench-gaps bench-geocode bench-england check-areas bench-national bench-heard bench-national-map bench-rounds clean

install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# The map's Leaflet/jQuery/Bootstrap/plugin files and axe-core (for the accessibility test),
# pinned in dashboard/assets.json, from the npm registry into dashboard/static/vendor/
# (git-ignored), so the map needs no CDN at run time.
VENDOR_STAMP := dashboard/static/vendor/.installed
assets: $(VENDOR_STAMP)
$(VENDOR_STAMP): dashboard/assets.json dashboard/assets.py $(VENV)/.installed
	$(BIN)/python -m dashboard.assets install build/npm
	touch $@

store: install
	$(BIN)/needsmap ingest all --area "$(AREA)"
	$(BIN)/needsmap tiles build

# .streamlit/config.toml turns on static serving (the vendored assets) and headless mode.
serve: install assets
	$(BIN)/streamlit run dashboard/app.py --server.port $(PORT)

demo: install assets store serve

# The architecture contract first (pyproject.toml [tool.importlinter]), then the suite on
# TEST_JOBS worker processes (pytest-xdist; each module stays on one worker, the England
# modules together: tests/conftest.py). TEST_JOBS=0 runs it in this one process.
TEST_JOBS ?= 2
test: install assets
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest --durations=20 $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadgroup)

bench: install
	$(BIN)/python bench/ingest.py

bench-map: install assets
	$(BIN)/python bench/map_payload.py

bench-gaps: install
	$(BIN)/python bench/gaps.py

bench-geocode: install
	$(BIN)/python bench/geocode.py

# Every authority end to end (ingest all --area X, gaps, summaries, report --pack) and the
# NHS Greater Manchester ICB, with a table of failures; not in `make test` (tests/test_check_areas.py
# runs a sample). JOBS worker processes.
JOBS ?= 2
check-areas: install
	$(BIN)/python bench/check_areas.py --jobs $(JOBS)

bench-england: install assets
	$(BIN)/python bench/england.py

bench-national: install
	$(BIN)/python bench/national_services.py

bench-heard: install
	$(BIN)/python bench/heard.py

# The national map (tiles + MapLibre) against the GeoJSON route for all of England, in Chromium;
# STORE=path reads an England store instead of building one.
bench-national-map: install assets
	$(BIN)/python bench/national_map.py $(if $(STORE),--store $(STORE),)

# Priorities rounds: 10,000 ballots counted and the results page's data built (target 2 s).
bench-rounds: install
	$(BIN)/python bench/rounds.py

clean:
	rm -rf $(VENV) build *.egg-info dashboard/static/vendor test-artifacts
