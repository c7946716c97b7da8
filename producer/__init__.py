"""The dbsync2 producer: polls one Dialfire campaign and publishes every change to Kafka."""
