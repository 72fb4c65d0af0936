"""terrmap — sales-territory planning on an H3 grid.

The package is UI-free: load and validate accounts and reps, score workload and
opportunity, grid them on H3 cells, design balanced contiguous territories, plan
routes, and persist plans. The Streamlit dashboard (``app.py``, ``pages/``) and the
``terrmap`` command line sit on top.
"""

from __future__ import annotations

from terrmap.errors import InfeasibleError, InputError, Problem, TerrmapError

__all__ = ["InfeasibleError", "InputError", "Problem", "TerrmapError", "__version__"]
__version__ = "0.1.0"
