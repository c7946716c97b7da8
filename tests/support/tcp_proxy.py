"""A cuttable TCP proxy for tests: the chaos harness's proxy, under the names tests use."""

from __future__ import annotations

from ops.chaos.tcp_proxy import CuttableProxy


class TcpProxy(CuttableProxy):
    """Forwards 127.0.0.1:`port` to a target; `cut()` resets connections and refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        super().__init__((target_host, target_port))

    def restore(self) -> None:
        """Forward new connections again (same port)."""
        self.heal()
