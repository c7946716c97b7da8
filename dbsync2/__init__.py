"""The dbsync2 command line: one console script that starts every service and operator tool."""
