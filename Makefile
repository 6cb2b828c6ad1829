# Ticket-Flow: `make run` serves the API on SQLite, `make test` runs every check.
# Needs only Python 3.11+, pip and make; the virtual environment is created on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck pytest worker bench lock clean vendor-jsqr vendor-fonts catalogues

run: $(STAMP)
	$(BIN)/ticketflow run --host $(HOST) --port $(PORT)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests migrations bench deploy
	$(BIN)/ruff format --check src tests migrations bench deploy

typecheck: $(STAMP)
	$(BIN)/mypy

# Coverage of src/ is printed at the end: only the files with lines not run are listed.
# Measuring it costs CPU (see the README's test section): `make test PYTEST_COV=` runs without it.
PYTEST_COV ?= --cov --cov-report=term:skip-covered
# The tests run on two pytest-xdist workers (`auto`: one per core), each with its own MariaDB,
# redis-server and temporary folders; `make test PYTEST_WORKERS=0` runs them in this one process.
PYTEST_WORKERS ?= 2
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_COV) $(PYTEST_ARGS)

worker: $(STAMP)
	$(BIN)/ticketflow worker

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Texts for translators: extract every marked text into messages.pot, merge it into each
# language's messages.po (then translate the new or fuzzy entries), and compile to check them.
# The application compiles the .po files itself when it starts; no .mo file is kept.
LOCALE_DIR := src/ticketflow/locale
catalogues: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext --sort-by-file --no-location --no-wrap --project Ticket-Flow \
		--msgid-bugs-address "" --omit-header -o $(LOCALE_DIR)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) -D messages --no-wrap \
		--no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d $(LOCALE_DIR) -D messages --statistics
	rm -f $(LOCALE_DIR)/*/LC_MESSAGES/messages.mo

# Re-pin every dependency after changing pyproject.toml (needs network access).
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The scanner page's QR decoder, vendored from the npm registry (see the README beside it).
JSQR_VERSION ?= 1.4.0
JSQR_DIR := src/ticketflow/domain/checkin/static/scan/vendor/jsqr

vendor-jsqr:
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent jsqr@$(JSQR_VERSION) >/dev/null && tar xzf jsqr-$(JSQR_VERSION).tgz) \
	  && cp $$tmp/package/dist/jsQR.js $$tmp/package/LICENSE $(JSQR_DIR)/ && rm -rf $$tmp
	sha256sum $(JSQR_DIR)/jsQR.js

# The PDF tickets' font for text outside Windows-1252, vendored from the npm registry and cut to
# the scripts it is used for (see the README beside it).
DEJAVU_VERSION ?= 2.37.3
FONTS_DIR := src/ticketflow/lib/fonts
FONT_UNICODES := U+0020-007E,U+00A0-058F,U+10A0-10FF,U+1E00-1FFF,U+2000-206F,U+20A0-20CF,U+2100-214F,U+FFFD

vendor-fonts: $(STAMP)
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent dejavu-fonts-ttf@$(DEJAVU_VERSION) >/dev/null \
	  && tar xzf dejavu-fonts-ttf-$(DEJAVU_VERSION).tgz) \
	  && for font in DejaVuSans DejaVuSans-Bold; do \
	    $(BIN)/pyftsubset $$tmp/package/ttf/$$font.ttf --unicodes="$(FONT_UNICODES)" --layout-features='' \
	      --no-hinting --name-IDs='*' --output-file=$(FONTS_DIR)/$$font.ttf; done \
	  && cp $$tmp/package/LICENSE $(FONTS_DIR)/ && rm -rf $$tmp
	sha256sum $(FONTS_DIR)/*.ttf
