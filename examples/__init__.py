"""Worked examples of dbsync2 extensions (not part of the installed package)."""
