"""Test helpers shared by every test package (importable as tests.support)."""
