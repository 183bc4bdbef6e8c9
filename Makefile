# kb: `make run` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
KB := $(VENV)/bin/kb
DOCS ?= data/docs
STAMP := $(VENV)/.installed
# The ONNX embedding model (fp32, fused), built from the shipped weights (kb/onnx_build.py).
ONNX_MODEL := $(VENV)/share/kb/all-MiniLM-L6-v2.onnx
UI_BUILD := server/static/index.html
UI_SOURCES := $(shell find ui -path ui/node_modules -prune -o -type f -print 2>/dev/null)
# A local Chroma server (`make chroma`); `.ci/run` sets all four for a temporary one.
CHROMA_PORT ?= 8001
CHROMA_DIR ?= data/chroma-server
CHROMA_LOG ?= data/logs/chroma.log
CHROMA_PID ?= $(CHROMA_DIR).pid
CHROMA_URL := http://127.0.0.1:$(CHROMA_PORT)
CHROMA_UP := $(PY) -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' $(CHROMA_URL)/api/v2/heartbeat 2>/dev/null
# Team mode on this machine: the index and the chat database on PostgreSQL, vectors on Chroma.
PG_URL ?= postgresql://postgres@127.0.0.1:5432
TEAM_DB ?= kb
TEAM_ENV := KB_INDEX_URL=$(PG_URL)/$(TEAM_DB) KB_CHROMA_URL=$(CHROMA_URL) \
	KB_DATABASE_URL=$(subst postgresql:,postgresql+asyncpg:,$(PG_URL))/$(TEAM_DB)

.PHONY: install run test ingest serve eval bench logs lint format clean browser ocr \
	chroma chroma-stop team

install: $(STAMP) $(ONNX_MODEL) $(UI_BUILD) ocr

# torch comes first from the local CPU wheel: a plain resolve would pull GBs of CUDA.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(ONNX_MODEL): $(STAMP) kb/onnx_build.py
	$(PY) -m kb.onnx_build --force

$(UI_BUILD): $(UI_SOURCES)
	@if [ -f ui/package.json ]; then \
		cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build; \
	fi

# Debian's Tesseract for OCR of scans and images; where it cannot be installed (not root,
# not Debian) kb still runs and says OCR is unavailable.
ocr:
	@command -v tesseract >/dev/null || { apt-get update -qq && apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null; } || echo "kb: could not install tesseract-ocr; OCR will be unavailable"

# Debian's Chromium for the browser tests (Playwright must not download its own).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

run: install
	$(KB) ingest $(DOCS)
	$(KB) serve

ingest: install
	$(KB) ingest $(DOCS)

serve: install
	$(KB) serve

test: install browser
	$(PY) -m pytest
	@if [ -f ui/package.json ]; then cd ui && npm test; fi

# Starts `chroma run` in the background and waits for its heartbeat; a no-op when a server
# already answers on CHROMA_PORT.
chroma: $(STAMP)
	@$(CHROMA_UP) && echo "Chroma already answers at $(CHROMA_URL)" && exit 0; \
	mkdir -p $(CHROMA_DIR) $(dir $(CHROMA_LOG)); \
	nohup $(VENV)/bin/chroma run --path $(CHROMA_DIR) --host 127.0.0.1 --port $(CHROMA_PORT) \
		</dev/null >$(CHROMA_LOG) 2>&1 & echo $$! >$(CHROMA_PID); \
	for _ in $$(seq 120); do $(CHROMA_UP) && echo "Chroma at $(CHROMA_URL)" && exit 0; sleep 0.5; done; \
	echo "kb: Chroma did not start on port $(CHROMA_PORT); see $(CHROMA_LOG)" >&2; exit 1

# Stops the server `make chroma` started, waiting for its clean shutdown (SIGTERM).
chroma-stop:
	@pid=$$(cat $(CHROMA_PID) 2>/dev/null) || exit 0; \
	kill $$pid 2>/dev/null; for _ in $$(seq 150); do kill -0 $$pid 2>/dev/null || break; sleep 0.2; done; \
	rm -f $(CHROMA_PID)

# Team mode: the index on PostgreSQL (database TEAM_DB, created when missing) and a Chroma
# server, then `kb ingest` and `kb serve` with two worker processes sharing them.
team: install chroma
	$(PY) -c 'import sys, psycopg; db = psycopg.connect(sys.argv[1], autocommit=True); \
		db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [sys.argv[2]]).fetchone() \
		or db.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(sys.argv[2])))' \
		$(PG_URL)/postgres $(TEAM_DB)
	$(TEAM_ENV) $(KB) ingest $(DOCS)
	$(TEAM_ENV) $(KB) serve --workers 2

eval: install
	$(KB) eval evaluation/sample-docs
	$(KB) eval ../shared/eval/scifact
	$(KB) eval ../shared/eval/sec-10-q --answers
	$(PY) -m evaluation.scanned ../shared/eval/sec-10-q data/eval/sec-10-q-scanned
	$(KB) eval data/eval/sec-10-q-scanned

bench: install
	$(KB) bench --backends embedded,servers --postgres $(PG_URL)/postgres
	$(KB) bench --soak

logs: install
	$(KB) logs

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	cd ui && npx tsc --noEmit

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) ui/node_modules server/static
