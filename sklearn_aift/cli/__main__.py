"""``python -m sklearn_aift.cli``: the ``sklearn-aift`` command."""

import sys

from . import main

sys.exit(main())
