"""Local single-node Apache Kafka (KRaft) broker for development and tests, without Docker."""
