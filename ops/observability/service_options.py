"""The observability flags every service shares, and starting its health server from them.

`--metrics-port` (`$DBSYNC_METRICS_PORT`; 0 or unset = no server), `--metrics-host`
(`$DBSYNC_METRICS_HOST`, default 0.0.0.0: scraped from outside the container) and `--log-json`
(`$DBSYNC_LOG_JSON`). Flags win over the environment, as everywhere else in dbsync2.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass

from ops.observability.health import HealthServer, Readiness
from ops.observability.metrics import PipelineMetrics

DEFAULT_METRICS_HOST = "0.0.0.0"  # noqa: S104 - Prometheus scrapes from outside the container
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class ObservabilityOptions:
    """Where to serve /metrics, /healthz and /readyz (port 0 = nowhere), and the log format."""

    metrics_port: int = 0
    metrics_host: str = DEFAULT_METRICS_HOST
    log_json: bool = False


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is not between 0 and 65535")
    return value


def add_observability_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Add --metrics-port, --metrics-host and --log-json, with defaults from `env`."""
    parser.add_argument(
        "--metrics-port",
        type=_port,
        # A string default goes through `type` too, so a bad $DBSYNC_METRICS_PORT is reported.
        default=env.get("DBSYNC_METRICS_PORT") or "0",
        help="serve /metrics /healthz /readyz on this port; 0 = off ($DBSYNC_METRICS_PORT)",
    )
    parser.add_argument(
        "--metrics-host",
        default=env.get("DBSYNC_METRICS_HOST") or DEFAULT_METRICS_HOST,
        help="interface of the metrics port ($DBSYNC_METRICS_HOST)",
    )
    parser.add_argument(
        "--log-json",
        action="store_true",
        default=env.get("DBSYNC_LOG_JSON", "").strip().lower() in _TRUE,
        help="log one JSON object per line ($DBSYNC_LOG_JSON)",
    )


def observability_options(args: argparse.Namespace) -> ObservabilityOptions:
    """Return the options parsed by a parser that `add_observability_arguments` extended."""
    return ObservabilityOptions(
        metrics_port=int(args.metrics_port),
        metrics_host=str(args.metrics_host),
        log_json=bool(args.log_json),
    )


def start_health_server(
    options: ObservabilityOptions, metrics: PipelineMetrics, readiness: Readiness
) -> HealthServer | None:
    """Start serving when a port is configured; the caller stops it in `finally`."""
    if options.metrics_port == 0:
        return None
    server = HealthServer(metrics.registry, readiness, options.metrics_port, options.metrics_host)
    return server.start()
