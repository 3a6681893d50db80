"""Make ``import sim`` resolve to the repository's package.

An editable install made before ``sim/__init__.py`` existed registers ``sim`` as a
namespace package; putting the repository root first on ``sys.path`` sidesteps it (a
fresh ``pip install -e .`` fixes it for good).
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
if "sim" in sys.modules and getattr(sys.modules["sim"], "__file__", None) is None:
    for name in [m for m in sys.modules if m == "sim" or m.startswith("sim.")]:
        del sys.modules[name]
