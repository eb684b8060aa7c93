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

.PHONY: demo test install assets store serve bench clean

install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

assets: install

store: install
	$(BIN)/needsmap ingest all --area "$(AREA)"

serve: install assets
	$(BIN)/streamlit run dashboard/app.py --server.port $(PORT)

demo: install assets store serve

test: install assets
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) build *.egg-info dashboard/static/vendor test-artifacts
