"""Run the dbsync2 command line with `python -m dbsync2`."""

import sys

from dbsync2.cli import main

sys.exit(main())
