"""The webhook relay consumer group: POSTs transaction events to a web service, in contact order.

Guarantees: at-least-once delivery under a stable idempotency id (the event id), strict order per
contact, up to 10 attempts per event and then the group's dead-letter topic, and a circuit
breaker that pauses the relay (instead of dead-lettering) while the endpoint is down for everyone.
See docs/webhook-relay.md.
"""
