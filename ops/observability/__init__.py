"""Metrics, health endpoints, JSON logs and Kafka lag inspection (imports no service)."""

from ops.observability.health import HealthServer, Readiness
from ops.observability.json_logs import JsonLogFormatter, configure_logging
from ops.observability.metrics import METRIC_HELP, MetricName, PipelineMetrics

__all__ = [
    "METRIC_HELP",
    "HealthServer",
    "JsonLogFormatter",
    "MetricName",
    "PipelineMetrics",
    "Readiness",
    "configure_logging",
]
