"""The SQL materializer consumer group: events topic -> the dbsync2 tables, effectively once."""
