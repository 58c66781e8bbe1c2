# Two commands for developers: `make run` and `make test`. Everything else is optional.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INDEX := var/index
CORPUS := corpus/wikinews.jsonl
PORT ?= 8000
WORKERS ?= 2

.PHONY: run test install system-packages browser-deps index lint format bench evaluate screenshots clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,dask,beacons]'
	touch $@

# var/index is an index root: `recommender build --index-root var/index` publishes new versions into it
# while the service runs, and the workers switch to them within seconds.
index: $(INDEX)/current/manifest.json

# index.py holds the index's FORMAT_VERSION: a checkout that reads another format rebuilds the index.
$(INDEX)/current/manifest.json: $(CORPUS) $(VENV)/.installed recommender/indexing/index.py
	$(BIN)/recommender build --corpus $(CORPUS) --index-root $(INDEX) --force

run: install index
	RECOMMENDER_INDEX=$(INDEX) $(BIN)/gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:$(PORT) \
		--workers $(WORKERS) 'service:create_app()'

# The Redis store's tests start a real redis-server (Debian package redis-server).
system-packages:
	@command -v redis-server >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && apt-get install -y -qq redis-server; \
		else \
			echo "redis-server is missing: sudo apt-get install redis-server" >&2; exit 1; \
		fi; }

# The browser tests drive Debian's Chromium headless (Playwright talks to it; nothing is downloaded).
browser-deps:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
		else \
			echo "chromium is missing: sudo apt-get install chromium chromium-driver" >&2; exit 1; \
		fi; }

test: install system-packages browser-deps
	$(BIN)/pytest

# Screenshots of the demo page and the editors' preview for the README, by the browser tests' helper.
screenshots: install browser-deps
	$(BIN)/python -m tests.browser docs/screenshots

# Types: strict for the core, checked for the web layer and the benchmarks (untyped libraries are Any).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict recommender
	$(BIN)/mypy service bench
	@# A module a reader can hold in their head: none over 300 lines (README, Architecture).
	@awk 'FNR == 301 { print FILENAME ": over 300 lines"; bad = 1 } END { exit bad }' $$(find recommender service bench tests -name '*.py')

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks (see bench/*.py docstrings); most need ../shared/corpora and say so when it is absent.
# bench.soak takes 10 minutes (--minutes); it starts its own redis-server.
# bench.serve needs wrk (Debian package wrk), installed here when run as root.
bench: install system-packages
	@command -v wrk >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get install -y -qq wrk; \
		else echo "wrk is missing: sudo apt-get install wrk" >&2; exit 1; fi; }
	$(BIN)/python -m bench.build
	$(BIN)/python -m bench.dask_build
	$(BIN)/python -m bench.relevance
	$(BIN)/python -m bench.recency
	$(BIN)/python -m bench.add
	$(BIN)/python -m bench.popular
	$(BIN)/python -m bench.events
	$(BIN)/python -m bench.reload
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.serve
	$(BIN)/python -m bench.soak

evaluate: install
	@for corpus in bbc reuters21578 mind-sample; do \
		$(BIN)/recommender evaluate --corpus ../shared/corpora/$$corpus/articles.jsonl --k 5 || exit 1; \
	done

clean:
	rm -rf $(VENV) var *.egg-info
