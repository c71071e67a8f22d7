"""`python -m instamini` runs the command line."""

import sys

from instamini.cli import main

sys.exit(main())
