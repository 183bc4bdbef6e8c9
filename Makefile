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

.PHONY: install run test ingest serve eval bench logs lint format clean browser ocr

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

eval: install
	$(KB) eval ../shared/eval/scifact
	$(KB) eval ../shared/eval/sec-10-q --answers
	$(PY) -m evaluation.scanned ../shared/eval/sec-10-q data/eval/sec-10-q-scanned
	$(KB) eval data/eval/sec-10-q-scanned

bench: install
	$(KB) bench
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
