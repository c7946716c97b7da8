"""The `--fm`/`--fp` event filters: server-side E4 query and client-side per-transaction test.

Both halves follow the original (behaviour doc §2.3 and §4.7 step 2). The server-side query only
decides which contacts are fetched; the client-side test decides which of their transactions
become events, in every mode (the original skipped it in webhook mode, W20).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FILTER_MODES = ("updates_only", "hi_updates_only")


@dataclass(frozen=True)
class TransactionFilter:
    """Which transactions to publish: a type (`update`), human-initiated only, task prefixes."""

    transaction_type: str | None = None
    human_only: bool = False
    task_prefixes: tuple[str, ...] = ()

    @classmethod
    def from_flags(cls, filter_mode: str | None, prefixes: str | None) -> TransactionFilter:
        """Build from `--fm` and `--fp`; unknown `--fm` values are refused (the original ignored
        them silently, which turned a typo into 'no filter')."""
        mode = (filter_mode or "").strip()
        if mode and mode not in FILTER_MODES:
            raise ValueError(f"--fm must be one of {', '.join(FILTER_MODES)}, not {mode!r}")
        items = tuple(p.strip() for p in (prefixes or "").split(",") if p.strip())
        return cls(
            transaction_type="update" if mode else None,
            human_only=mode == "hi_updates_only",
            task_prefixes=items,
        )

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return bool(self.transaction_type or self.human_only or self.task_prefixes)

    def query_params(self) -> dict[str, str]:
        """Return the E4 query parameters (`type`, `hi`, `tasks`); requests URL-encodes them."""
        params: dict[str, str] = {}
        if self.transaction_type:
            params["type"] = self.transaction_type
        if self.human_only:
            params["hi"] = "true"
        if self.task_prefixes:
            params["tasks"] = ",".join(self.task_prefixes)
        return params

    def accepts(self, transaction: Mapping[str, Any]) -> bool:
        """Return whether a transaction passes, exactly as §4.7 step 2.

        - a type filter skips a transaction that has a `type` key with another value;
        - `hi` skips one without a `user` key or whose `status_detail` is `$assigned`;
        - prefixes skip one with a non-null `task` that starts with none of them.
        "Exists" means the key is present, as a Go map lookup sees it (a JSON null is present).
        """
        wrong_type = "type" in transaction and transaction["type"] != self.transaction_type
        if self.transaction_type is not None and wrong_type:
            return False
        if self.human_only and (
            "user" not in transaction or transaction.get("status_detail") == "$assigned"
        ):
            return False
        if self.task_prefixes:
            task = transaction.get("task")
            if task is not None and not str(task).startswith(self.task_prefixes):
                return False
        return True
