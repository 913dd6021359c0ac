"""`python -m evals ...` is `qa eval ...`: one command, one set of options."""

from __future__ import annotations

import sys

from qa.cli import main

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "eval", *sys.argv[1:]]
    main()
