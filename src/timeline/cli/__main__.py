"""``python -m timeline.cli``: the ``timeline`` command."""

import sys

from timeline.cli.main import main

sys.exit(main())
