"""Scrape a service's health server like Prometheus does, and run a service as a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]


def get(port: int, path: str) -> tuple[int, str]:
    """GET a path of the health server; (status, body), also for 4xx/5xx; (0, "") if refused."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return 0, ""


def metric(port: int, name: str, **labels: str) -> float | None:
    """Sum the samples of `name` (with these labels) from /metrics; None when there is none."""
    status, body = get(port, "/metrics")
    if status != 200:
        return None
    values = [
        sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]
    return sum(values) if values else None


def ready(port: int) -> int:
    """The /readyz status code (0 while the server is not up)."""
    return get(port, "/readyz")[0]


@contextmanager
def service_process(
    argv: list[str], env: Mapping[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `python -m dbsync2.cli <argv>` with stdout/stderr in `log_path`; SIGTERM at the end."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dbsync2.cli", *argv],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM the service and return its exit code."""
    process.send_signal(signal.SIGTERM)
    return process.wait(60)


def json_lines(text: str) -> list[dict[str, object]]:
    """Parse every line that looks like a JSON object (a service may print a plain banner)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
