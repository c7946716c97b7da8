"""Render `dbsync2 --help`: purpose, the original README's two examples, flags, env, subcommands."""

from __future__ import annotations

from collections.abc import Iterable

from dbsync2 import __version__
from dbsync2.legacy_flags import FLAGS

_INTRO = """\
dbSync2 v{version} (Kafka edition)

Exports all transactions on contacts of one campaign (--c) to a DBMS or a web service.
It needs the campaign's Sync Client token (--ct). An optional start date (--s) limits the export.
Every change goes through Kafka ({kafka}); the producer and the matching consumer group run
in this one process.

Usage:
  dbsync2 --a db_init|db_update|db_sync|webhook --c ID --ct TOKEN --url URL [flags]
  dbsync2 <subcommand> [args]      (see "Subcommands" below; each has its own --help)

Modes (--a):
  db_init     load the whole campaign into the database, then exit 0 with a summary
  db_update   load what changed since --s (default: 7 days ago), then exit 0 with a summary
  db_sync     load since --s (or the checkpoint), then keep syncing until SIGTERM/SIGINT
  webhook     POST every new or updated transaction to --url until SIGTERM/SIGINT

Example 1: transfer all transactions since 1 February 2018 of campaign MY_CAMPAIGN_ID to a local
SQL Server; only updates made by a user in tasks starting with 'fc_' or 'qc_':

  dbsync2 --a db_sync --fm hi_updates_only --fp 'fc_,qc_' --c MY_CAMPAIGN_ID \\
      --ct MY_CAMPAIGN_TOKEN --s 2018-02-01 \\
      --url 'sqlserver://my_user:my_password@localhost:1433/my_database'

Example 2: transfer all future transactions of campaign MY_CAMPAIGN_ID to a web service. The
service must accept JSON POSTs and answer with a status between 200 and 299:

  dbsync2 --a webhook --c MY_CAMPAIGN_ID --ct MY_CAMPAIGN_TOKEN \\
      --url 'https://example.com/api/transactions/'

Database URLs: mysql://user:password@host:3306/db, postgres://user:password@host:5432/db,
sqlserver://user:password@host:1433/instance/db, sqlite:///path/to/file.sqlite
(SQLAlchemy URLs such as postgresql+psycopg2://... work too).
"""

_ENV_NOTE = """\
Every flag can also be set as an environment variable prefixed by 'DBSYNC_' in all upper case,
e.g. DBSYNC_C, DBSYNC_CT, DBSYNC_A, DBSYNC_URL, DBSYNC_CT_FILE (the token read from a file).
A flag on the command line beats the environment variable. Kafka: KAFKA_BOOTSTRAP_SERVERS
(default 127.0.0.1:9092). Flags may be written --c X, --c=X or -c X.
"""

_SUBCOMMAND_HELP = {
    "producer": "run the producer service (Dialfire -> Kafka)",
    "consume sql": "run the SQL consumer group (Kafka -> tables)",
    "consume webhook": "run the webhook relay consumer group (Kafka -> HTTP POST)",
    "consume custom": "run your own consumer group (--group module:Class)",
    "dlq": "list, inspect and redrive dead letters",
    "simulate": "run the Dialfire simulator (no Dialfire account needed)",
    "topics": "create the campaign's topics from the catalogue (topics apply --c ID)",
    "kafka": "start/stop a local Kafka broker without Docker",
    "replay": "re-apply events: move a stopped group's offsets (earliest|latest|time)",
    "resync sql": "rebuild a SQL group's tables in shadow tables from Kafka, then swap",
    "status": "lag, members, dead letters and health of every consumer group",
    "health": "container healthcheck: Kafka answers (and $DBSYNC_HEALTH_URL, if set)",
}


def _flag_lines() -> list[str]:
    lines = []
    for spec in FLAGS:
        value = "" if spec.is_bool else " value"
        default = f"default {spec.default}; " if spec.default else ""
        lines.append(f"  --{spec.name}{value}".ljust(24) + spec.help)
        lines.append(" " * 24 + f"{default}env: {', '.join(spec.env_names)}")
    return lines


def render_help(subcommands: Iterable[str], kafka_default: str = "127.0.0.1:9092") -> str:
    """Return the complete help text; `subcommands` are the dispatcher's subcommand names."""
    parts = [_INTRO.format(version=__version__, kafka=kafka_default), "Flags:"]
    parts.extend(_flag_lines())
    parts.append("  -h, --help".ljust(24) + "show this help and exit")
    parts.append("")
    parts.append(_ENV_NOTE)
    parts.append("Subcommands (services and tools, for containers and operators):")
    for name in subcommands:
        parts.append(f"  dbsync2 {name}".ljust(28) + _SUBCOMMAND_HELP.get(name, ""))
    parts.append("")
    parts.append("Exit codes: 0 done (or stopped by SIGTERM/SIGINT in db_sync/webhook), 1 error.")
    return "\n".join(parts) + "\n"
