"""Test suite for dbsync2."""
