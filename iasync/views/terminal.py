"""Whether output may be coloured: only on a terminal, never when asked not to."""

from __future__ import annotations

import os
import sys


def use_colour(no_color: bool) -> bool:
    """Colour only on a terminal, and never when asked not to (https://no-color.org)."""
    return not no_color and not os.environ.get("NO_COLOR") and sys.stdout.isatty()
