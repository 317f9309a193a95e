"""Shared test configuration: hypothesis profiles for the property tests.

``ci`` (the default) is bounded and derandomized, so every run of the suite tries the same
cases and stays fast; ``thorough`` (``HYPOTHESIS_PROFILE=thorough``) tries many more, with
fresh random cases each run, to hunt for new failures.
"""

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=40, derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
