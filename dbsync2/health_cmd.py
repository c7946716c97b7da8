"""`dbsync2 health`: the container HEALTHCHECK: Kafka answers, and an optional HTTP probe is 2xx.

Exit 0 healthy, 1 not. Kafka is checked with one metadata request; DBSYNC_HEALTH_URL (for a
service that serves /healthz) is fetched when set. Nothing here ever prints a secret.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.request
from collections.abc import Sequence

# A healthcheck runs every 30 s; 5 s per probe keeps a slow answer from stacking up checks.
PROBE_TIMEOUT_S = 5.0


def probe_kafka(bootstrap: str, timeout: float) -> str | None:
    """Return None when the cluster answers, else the reason."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=timeout)
    except KafkaException as exc:
        return f"Kafka at {bootstrap} does not answer: {exc.args[0] if exc.args else exc}"
    return None


def probe_http(url: str, timeout: float) -> str | None:
    """Return None when `url` answers 2xx, else the reason."""
    if not url.startswith(("http://", "https://")):
        return "DBSYNC_HEALTH_URL must be an http(s) URL"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) only
            status = int(response.status)
    except OSError as exc:
        return f"health URL does not answer: {type(exc).__name__}"
    return None if 200 <= status < 300 else f"health URL answered {status}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks; print one line; return 0 when healthy."""
    parser = argparse.ArgumentParser(prog="dbsync2 health", description=__doc__)
    parser.add_argument(
        "--bootstrap-servers",
        default=None,
        help="Kafka (default $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("DBSYNC_HEALTH_URL", ""),
        help="optional HTTP probe ($DBSYNC_HEALTH_URL)",
    )
    parser.add_argument("--skip-kafka", action="store_true", help="only run the HTTP probe")
    args = parser.parse_args(argv)
    bootstrap = (
        args.bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092"
    )
    problems = []
    if not args.skip_kafka:
        problems.append(probe_kafka(bootstrap, PROBE_TIMEOUT_S))
    if args.url:
        problems.append(probe_http(args.url, PROBE_TIMEOUT_S))
    found = [p for p in problems if p]
    if found:
        print("unhealthy: " + "; ".join(found), file=sys.stderr)
        return 1
    print("healthy")
    return 0
