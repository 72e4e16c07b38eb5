"""Fixtures are plugins under tests/fixtures/; helpers are plain modules under tests/helpers/."""

pytest_plugins = ["tests.fixtures.database", "tests.fixtures.supabase_cli"]
