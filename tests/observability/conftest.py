"""Fixtures shared with the producer tests: a fresh campaign id and a Dialfire simulator."""

from tests.producer.conftest import campaign_id, start_sim

__all__ = ["campaign_id", "start_sim"]
