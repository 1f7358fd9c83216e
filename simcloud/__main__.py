"""``python -m simcloud``: the same as the ``simcloud`` command."""
import sys

from simcloud.cli import main

sys.exit(main())
