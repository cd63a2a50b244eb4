"""Hypothesis settings for the fuzz and hostile-input suites, chosen by environment.

``HYPOTHESIS_PROFILE=ci`` (the default) keeps CI short and reproducible: about
200 examples per test, derandomized so every CI run explores the same inputs.
``HYPOTHESIS_PROFILE=long`` is for a long local run: random seeds and
``FUZZ_MAX_EXAMPLES`` examples per test (default 100 000)::

    HYPOTHESIS_PROFILE=long FUZZ_MAX_EXAMPLES=250000 .venv/bin/python -m pytest tests/fuzz

The settings are applied per test as decorators, never loaded globally, so
other suites keep Hypothesis' own defaults.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE not in ("ci", "long"):
    raise RuntimeError(f"HYPOTHESIS_PROFILE must be 'ci' or 'long', not {PROFILE!r}")
LONG = PROFILE == "long"
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "100000")) if LONG else 200


def fuzz_settings(scale: float = 1.0) -> settings:
    """Settings for one property test; ``scale`` shrinks the budget of slow tests."""
    return settings(
        max_examples=max(10, int(MAX_EXAMPLES * scale)),
        derandomize=not LONG,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
