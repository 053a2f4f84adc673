"""How tests start fireline as a separate process."""

from __future__ import annotations

import sys
from pathlib import Path

# The console script, as responders and CI jobs start it. (`python -m runner` differs in one way: CPython
# itself may end such a process with SIGINT after fireline returned 130, when the signal landed in an import
# or in the interpreter's exit.)
_SCRIPT = Path(sys.executable).with_name("fireline")
FIRELINE: list[str] = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "runner"]
