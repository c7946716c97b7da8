"""Read the producer's checkpoint from its SQLite state file, read-only, without importing it.

The file is `<state dir>/producer-<campaign>.sqlite3` (characters other than letters, digits,
`.`, `_`, `-` in the campaign id become `_`); the checkpoint is the row
`meta(campaign, name='checkpoint_us', value)` in microseconds since the epoch (UTC): everything
the producer saw before it is confirmed by Kafka.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path


def state_file(state_dir: Path, campaign: str) -> Path:
    """Return the path of a campaign's producer state file."""
    return state_dir / ("producer-" + re.sub(r"[^A-Za-z0-9._-]", "_", campaign) + ".sqlite3")


def read_checkpoint(state_dir: Path, campaign: str) -> datetime | None:
    """Return the producer's checkpoint, or None when the file or the row does not exist."""
    path = state_file(state_dir, campaign)
    if not path.exists():
        return None
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT value FROM meta WHERE campaign = ? AND name = 'checkpoint_us'", (campaign,)
        ).fetchone()
    except sqlite3.OperationalError:  # no meta table yet: the producer never committed
        return None
    finally:
        db.close()
    return None if row is None else datetime.fromtimestamp(int(row[0]) / 1_000_000, tz=UTC)
