"""Integration tests for the local infrastructure: Kafka broker, launcher, databases."""
