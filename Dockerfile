# The Rapid Review bot's container image.
#   docker build -t rapid-review-bot .          (or `make image`)
# Runs as a non-root user; installs only the runtime dependencies, from requirements.runtime.lock with their
# sha256 hashes (`make lock` writes it); no secret is baked in: MicrosoftAppId, DATABASE_URL, KEY_VAULT_URL …
# come from the environment at run time (README "Configuration"; docs/operations.md).
# PYTHON_IMAGE: the usual slim Python 3.11 base. Where no container registry can be reached, any Debian root
# with python3.11, python3-venv and ca-certificates can stand in (docs/operations.md, "Building the image").
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
COPY requirements.runtime.lock /tmp/requirements.runtime.lock
# Every package pinned and hashed: pip refuses anything else (--require-hashes); byte-compiled as installed.
# One locked package (aiounittest, required by botbuilder) ships no wheel: it is built with the venv's own
# setuptools (--no-build-isolation), so nothing unpinned is fetched to build it.
# Behind a TLS-inspecting proxy, pass its CA bundle as a build secret (never a layer):
#   docker build --secret id=ca_bundle,src=/path/to/bundle.pem .
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && /opt/venv/bin/pip install --no-deps --require-hashes --no-build-isolation --compile \
        -r /tmp/requirements.runtime.lock \
    && /opt/venv/bin/pip uninstall --yes pip setuptools
WORKDIR /app
# Only what runs: the code, its migrations and timeline profiles, the example partnership file.
COPY bot ./bot
COPY dialogs ./dialogs
COPY cards ./cards
COPY scheduler ./scheduler
COPY config ./config
COPY pyproject.toml README.md ./
# Byte-compiled now, so start-up compiles nothing (and the code's directory need not be writable).
RUN /opt/venv/bin/python -m compileall -q /app/bot /app/dialogs /app/cards /app/scheduler

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 rapidreview \
    && useradd --system --uid 10001 --gid rapidreview --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin rapidreview
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# /app/data: only for a single-instance SQLite trial (mount a volume there); several instances use PostgreSQL.
RUN mkdir /app/data && chown rapidreview:rapidreview /app/data
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# /readyz: database reachable and at the schema head, a scheduler leading, outbox not stuck (within ~1 s).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-m", "bot.healthcheck"]
CMD ["python", "-m", "bot"]
