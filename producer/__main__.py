"""`python -m producer`: the same as `dbsync2 producer`."""

import sys

from producer.service import main

sys.exit(main())
