"""Loaded by every Python process the mutation runner starts (this folder is on PYTHONPATH):
the one module named by HP_MUTANT ("dotted.name=/path/to/mutant.py") is imported from the
mutant's file instead of the repository, in the test process and in every subprocess a test
starts (hp-infer, hp-serve), while the working tree stays untouched."""

import os
import sys

_MUTANT = os.environ.get("HP_MUTANT")
if _MUTANT:
    import importlib.abc
    import importlib.util

    _NAME, _PATH = _MUTANT.split("=", 1)

    class _MutantFinder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname != _NAME:
                return None
            return importlib.util.spec_from_file_location(fullname, _PATH)

    sys.meta_path.insert(0, _MutantFinder())
