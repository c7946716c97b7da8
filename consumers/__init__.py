"""Consumer groups that turn the event topic into SQL tables, webhooks and custom side effects."""
