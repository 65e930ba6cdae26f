# teda-desk: the two set-up commands of README.md are `make run` and `make test`.
# Each one works on a fresh machine with only python3 on it: it installs uv when it is missing,
# installs the locked dependencies, then does its job.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# `pip install --user uv` puts uv into ~/.local/bin, which is often not on PATH yet.
export PATH := $(HOME)/.local/bin:$(PATH)

# Never re-resolve or rewrite uv.lock from make: install exactly what is locked.
UV_RUN := uv run --frozen

# Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-x tests/desk"`.
PYTEST_ARGS ?=

.PHONY: help uv system test-system sync init run test lint bench makemigrations

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

uv: ## install uv if it is missing
	@if ! command -v uv >/dev/null 2>&1; then \
		echo "uv not found: installing it with pip"; \
		python3 -m pip install --user uv \
			|| pip install uv \
			|| python3 -m pip install --user --break-system-packages uv; \
	fi
	@command -v uv >/dev/null 2>&1 || { \
		echo "error: uv is still not on PATH; install it (https://docs.astral.sh/uv/) and retry" >&2; \
		exit 1; }

# Debian packages used at run time: a Chinese font for the briefing's charts. Installed when
# missing and we may (root with apt-get); otherwise a warning says what to install.
SYSTEM_PACKAGES := fonts-wqy-microhei
system: ## install the Debian packages the desk needs (a CJK font), when missing and root
	@if find /usr/share/fonts /usr/local/share/fonts -iname '*wqy*' -o -iname '*cjk*' 2>/dev/null | grep -q .; then \
		:; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing $(SYSTEM_PACKAGES) (a Chinese font for the charts of the monthly briefing)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null \
			|| { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; }; \
	else \
		echo "warning: no Chinese font found: the briefing's charts will lack Chinese labels; install $(SYSTEM_PACKAGES) (Debian) or fonts-noto-cjk" >&2; \
	fi

# Debian packages only the tests need: Chromium, driven headless by Playwright for the admin-web
# tests (tests/admin). Playwright's own browser download is never used (`playwright install`
# fetches from outside the package registries): the tests launch /usr/bin/chromium.
TEST_SYSTEM_PACKAGES := chromium
test-system: ## install the Debian packages the tests need (Chromium), when missing and root
	@if command -v chromium >/dev/null 2>&1; then \
		:; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing $(TEST_SYSTEM_PACKAGES) (headless browser for the admin-web tests)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(TEST_SYSTEM_PACKAGES) >/dev/null \
			|| { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(TEST_SYSTEM_PACKAGES) >/dev/null; }; \
	else \
		echo "warning: chromium not found: the admin-web tests will fail under DESK_REQUIRE_SERVICES=1; install $(TEST_SYSTEM_PACKAGES) (Debian)" >&2; \
	fi

# Bytecode is compiled at install time: where PYTHONDONTWRITEBYTECODE is set (as in many CI
# images and containers) Python never caches it, and every start would compile jieba's 1.3 MB
# HMM table and all of PTB again (start-up 2.3 s -> 1.1 s, RSS -28 MB, bench/footprint.py).
PROJECT_PACKAGES := admin bot desk handlers models nlp
sync: uv system ## install the locked dependencies into .venv (dev tools included)
	uv sync --frozen --compile-bytecode
	$(UV_RUN) python -m compileall -q $(PROJECT_PACKAGES) >/dev/null

init: sync ## create or migrate the schema, load default departments (idempotent)
	mkdir -p data
	$(UV_RUN) desk init

run: init ## README quick start: install, init, run the service desk (SQLite unless DESK_DATABASE_URL says otherwise)
	$(UV_RUN) desk run

# The PostgreSQL and Redis tests must run, not skip: DESK_REQUIRE_SERVICES=1 turns an
# unreachable service into a failure. (`make test DESK_REQUIRE_SERVICES=0` lets them skip.)
# pytest's exit code 5 ("no tests ran") is a failure here, with a message saying so.
test: export DESK_REQUIRE_SERVICES := 1
test: sync test-system ## README quick start: install and run the whole test suite (needs PostgreSQL and Redis)
	@echo "DESK_REQUIRE_SERVICES=$$DESK_REQUIRE_SERVICES $(UV_RUN) pytest $(PYTEST_ARGS)"
	@status=0; $(UV_RUN) pytest $(PYTEST_ARGS) || status=$$?; \
	if [ "$$status" -eq 5 ]; then \
		echo "make test: pytest collected no tests (exit code 5); that is a failure" >&2; \
	fi; \
	exit "$$status"

lint: sync ## ruff, mypy and the import-layer contracts
	$(UV_RUN) ruff check .
	$(UV_RUN) mypy
	$(UV_RUN) lint-imports

bench: sync ## routing figures on ../shared/data/routing_dev.jsonl
	$(UV_RUN) python bench/route_eval.py

makemigrations: sync ## write a migration after changing models/ (apply it with `make init`)
	$(UV_RUN) python -m tortoise makemigrations
