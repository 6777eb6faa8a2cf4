"""Hypothesis profiles: `ci` (the default: few examples, the same ones each run, and no
shrinking, so the suite stays fast and never flaky) and `long`
(`HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/properties -n 2`: many random
examples, a failure shrunk to its smallest form)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile(
    "ci",
    max_examples=20,
    deadline=None,  # a shared machine: no example is judged by its time
    suppress_health_check=_SLOW_IS_FINE,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    print_blob=True,
)
settings.register_profile(
    "long", max_examples=1000, deadline=None, suppress_health_check=_SLOW_IS_FINE
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
