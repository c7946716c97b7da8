"""Dialfire-compatible HTTP simulator serving a seeded synthetic campaign for tests and demos."""
