"""The consumer runtime every group shares: outcomes, envelopes, Kafka config, dead letters."""
