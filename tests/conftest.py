"""Shared test settings: a hypothesis profile with predictable CI times."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "pollchat",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("pollchat")

# The loopback server fixtures (``harness``, ``make_harness``) live in tests/harness.py.
pytest_plugins = ["tests.harness", "tests.postgres", "tests.redis"]
