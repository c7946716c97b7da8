#!/usr/bin/env bash
# One command for a fresh Debian/Ubuntu machine without Docker: install what is missing, then run
# Kafka + the Dialfire simulator + db_sync into SQLite + the webhook relay to a demo receiver.
#
#   bash ops/quickstart.sh          start (safe to run again: running pieces are left alone)
#   bash ops/quickstart.sh status   which pieces run
#   bash ops/quickstart.sh stop     stop everything it started (by pid file, never by name)
#
# State, data and logs: .state/quickstart/ (override with QUICKSTART_STATE_DIR).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
command=${1:-start}

if [[ "$command" == "start" ]]; then
    # Kafka runs on the JVM and the launcher resolves its jars with Maven (no Docker needed).
    # gcc and the Python headers build the two optional C speed-ups (schemas/_avro_record.c,
    # consumers/sql/_text_cells.c); without them the same code runs in pure Python, slower.
    if ! command -v java >/dev/null || ! command -v mvn >/dev/null || ! command -v gcc >/dev/null \
            || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        SUDO=""
        [[ $(id -u) -eq 0 ]] || SUDO="sudo"
        echo "==> installing Java, Maven, python3-venv and gcc (apt)"
        $SUDO apt-get update -q
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
            openjdk-17-jdk-headless maven python3-venv python3-dev gcc
    fi
    if [[ ! -x .venv/bin/python ]]; then
        echo "==> creating .venv"
        python3 -m venv .venv
    fi
    if ! .venv/bin/python -c 'import dbsync2, producer, consumers, simulator' 2>/dev/null; then
        echo "==> installing dbsync2 into .venv"
        .venv/bin/python -m pip install -q --disable-pip-version-check -e .
    fi
fi
exec .venv/bin/python -m ops.quickstart "$command"
