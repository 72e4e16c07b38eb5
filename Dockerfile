# beproduct-sync: the webhook receiver (`serve`) and the workers (`worker`) in one image.
# There is no embedded PostgreSQL in it: DATABASE_URL must point at a server.
#
#   docker build -t beproduct-sync .
#   docker run --rm -e DATABASE_URL=... -e BEPRODUCT_WEBHOOK_SECRET=... -p 8000:8000 beproduct-sync
#
# Apply migrations once with the owner's URL (`docker run ... beproduct-sync migrate`), then run
# the service as a role that is a member of beproduct_sync_service, with
# BEPRODUCT_SYNC_AUTO_MIGRATE=false (see deploy/README.md).

FROM python:3.12-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# The project alone, as a wheel; its dependencies are installed from the index below.
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/beproduct-sync/bin:$PATH
# Installed without extras: the `embedded` extra (pgserver) is only for running without a
# DATABASE_URL on a laptop.
COPY --from=build /wheels /wheels
RUN python -m venv /opt/beproduct-sync \
    && /opt/beproduct-sync/bin/pip install /wheels/*.whl \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 beproduct \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin beproduct

# Listen on every interface of the container; logs as JSON lines.
ENV BEPRODUCT_SYNC_HOST=0.0.0.0 \
    BEPRODUCT_SYNC_PORT=8000 \
    BEPRODUCT_SYNC_LOG_FORMAT=json
WORKDIR /app
USER 10001:10001
EXPOSE 8000

# Liveness of `serve` with the standard library only (no curl in a slim image). A `worker`
# container has no HTTP server unless given --metrics-port: override or disable it there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('BEPRODUCT_SYNC_PORT', '8000') + '/healthz', timeout=4)"]

# serve handles SIGTERM itself: stops accepting, lets workers finish, exits 0.
ENTRYPOINT ["beproduct-sync"]
CMD ["serve"]
