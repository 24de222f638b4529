"""Hypothesis profiles: `dev` (the default), `ci` (reproducible: the same examples on every run) and `deep`
(`make test-deep`: ten times the examples). Property tests give their example counts through `examples()`."""

import os

from hypothesis import HealthCheck, settings

DEEP_FACTOR = 10

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile(
    "deep", deadline=None, print_blob=True, max_examples=settings.default.max_examples * DEEP_FACTOR,
    suppress_health_check=[HealthCheck.too_slow],
)


def profile():
    return os.environ.get("HYPOTHESIS_PROFILE", "dev")


def load_profile():
    settings.load_profile(profile())


def examples(count):
    """A property test's number of examples: `count` (what it has always run), ten times that in the deep profile."""
    return count * DEEP_FACTOR if profile() == "deep" else count
