"""``python -m hubtools``: the same as the ``hubtools`` command."""

import sys

from hubtools.cli import main

sys.exit(main())
