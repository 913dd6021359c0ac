"""`python -m evals ...` (`qa eval ...` runs this): score a dataset, write reports, gate on pinned scores."""

from __future__ import annotations

from evals.cli import app

if __name__ == "__main__":
    app(prog_name="python -m evals")
