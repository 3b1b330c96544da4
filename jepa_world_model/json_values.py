"""Values made ready for ``json.dumps``: what the demo and the experiments write to JSON.

numpy scalars and arrays are not JSON types, and NaN/inf would be written as the
non-standard tokens ``NaN``/``Infinity`` that strict readers refuse, so they become null.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ['json_safe']


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf replaced by None and numpy scalars/arrays made plain.

    Dict keys become strings, tuples and arrays lists; anything else is returned as is.
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    # bool before int: bool is a subclass of int and must stay true/false.
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    return value
