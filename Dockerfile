# syntax=docker/dockerfile:1
# dbsync2: one image for every service (producer, consume sql|webhook, simulate, topics, dlq).
# Stage 1 builds a virtualenv with the project and its wheels; stage 2 copies only that venv
# into a slim runtime with the ODBC driver for SQL Server (FreeTDS) and runs as a non-root user.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential unixodbc-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
WORKDIR /src
# README.m[d]: the glob lets the build work before the README exists (pyproject names it).
COPY pyproject.toml README.m[d] ./
COPY schemas ./schemas
COPY producer ./producer
COPY consumers ./consumers
COPY ops ./ops
COPY simulator ./simulator
COPY dbsync2 ./dbsync2
RUN /opt/venv/bin/pip install .

FROM python:3.11-slim-bookworm AS runtime
# unixodbc + tdsodbc: pyodbc's driver manager and the FreeTDS driver (sqlserver profile).
RUN apt-get update \
 && apt-get install -y --no-install-recommends unixodbc tdsodbc \
 && odbcinst -i -d -f /usr/share/tdsodbc/odbcinst.ini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/dbsync2 dbsync2 \
 && mkdir -p /var/lib/dbsync2 /var/log/dbsync2 /var/opt/dbsync2 \
 && chown dbsync2:dbsync2 /var/lib/dbsync2 /var/log/dbsync2 /var/opt/dbsync2
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER dbsync2:dbsync2
WORKDIR /var/lib/dbsync2
VOLUME ["/var/lib/dbsync2"]
# Healthy = the Kafka cluster answers (plus $DBSYNC_HEALTH_URL when a service serves one).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["dbsync2", "health"]
ENTRYPOINT ["dbsync2"]
CMD ["--help"]
