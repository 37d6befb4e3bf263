"""`hp-bench`: not implemented yet (issue: one table across formats and the speed targets)."""

import sys


def main() -> None:
    sys.stderr.write("hp-bench: error: not implemented yet\n")
    raise SystemExit(1)
