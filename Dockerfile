# teda-desk: one process (web + Telegram bot + outbox sender + scheduler).
# Build: docker build -t teda-desk .   Run with PostgreSQL and Redis: docker compose up --build
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install --no-cache-dir uv

WORKDIR /app

# Dependencies first, from the lock file only, so this layer is reused while only code changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the project itself (.dockerignore keeps out tests, caches, .env and local data).
COPY . .
RUN uv sync --frozen --no-dev \
    && /app/.venv/bin/python -m compileall -q admin bot desk handlers models nlp >/dev/null

# Run as an unprivileged user; data/ holds the SQLite file when no DESK_DATABASE_URL is given.
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin desk \
    && mkdir -p /app/data \
    && chown desk:desk /app/data
USER desk

ENV PATH="/app/.venv/bin:$PATH" \
    DESK_HTTP_HOST=0.0.0.0 \
    DESK_HTTP_PORT=8080

EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('DESK_HTTP_PORT', '8080'), timeout=4)" || exit 1

# `desk init` applies pending migrations and loads default departments (idempotent), then the
# service replaces the shell so it receives SIGTERM directly.
CMD ["sh", "-c", "desk init && exec desk run"]
