"""The dbsync2 command line: one console script that starts every service and operator tool."""

from importlib import metadata

try:
    __version__ = metadata.version("dbsync2")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "2.0.0.dev0"
