"""Hypothesis profiles: ``ci`` on CI (``CI=true``), ``dev`` locally, ``FAST=1`` to cut examples."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile("fast", max_examples=10, deadline=None)

if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
elif os.environ.get("FAST"):
    settings.load_profile("fast")
elif os.environ.get("CI"):
    settings.load_profile("ci")
else:
    settings.load_profile("dev")

# The CLI reads its log from EVENTSTATE_DB when --db is absent: a value in the
# shell that runs the tests must not redirect the tests' logs.
os.environ.pop("EVENTSTATE_DB", None)
