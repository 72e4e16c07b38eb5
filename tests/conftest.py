"""Fixtures are plugins under tests/fixtures/; helpers are plain modules under tests/helpers/."""

from hypothesis import Phase, settings

pytest_plugins = ["tests.fixtures.database", "tests.fixtures.supabase_cli"]

# scripts/mutation.py runs property tests under this profile: the same examples every run (so
# two runs give the same kill ratio), no example database shared with ordinary runs, and no
# shrinking (a mutation is killed by the first failing example; shrinking it takes minutes).
settings.register_profile(
    "mutation",
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),
)
