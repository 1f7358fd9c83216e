import sys

from cascade.cli.main import main

sys.exit(main())
