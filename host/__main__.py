"""`python -m wzcodec`: the `wzcodec` command."""

import sys

from wzcodec.cli.main import main

sys.exit(main())
