"""``python -m labs.stack``: see :mod:`labs.stack.cli`."""

import sys

from labs.stack.cli import main

sys.exit(main())
