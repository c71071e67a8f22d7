"""`python .` from the repository root runs the same command line as `python -m instamini`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from instamini.cli import main  # noqa: E402

sys.exit(main())
