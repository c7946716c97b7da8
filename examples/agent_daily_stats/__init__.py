"""Example custom consumer group: calls and talk time per agent per day, in SQLite or PostgreSQL."""

from examples.agent_daily_stats.group import AgentDailyStats, TransactionStats, stats_of

__all__ = ["AgentDailyStats", "TransactionStats", "stats_of"]
