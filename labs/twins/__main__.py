"""``python -m labs.twins NAME [--param value ...] [--json]`` (same as ``python -m labs twin``)."""

import sys

from labs.twins.cli import main

sys.exit(main())
