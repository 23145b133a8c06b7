"""Test-bed fixtures live in tests/fixtures/ as plugins, one module per real service."""

pytest_plugins = [
    "tests.fixtures.app",
    "tests.fixtures.dns",
    "tests.fixtures.postfixadmin",
    "tests.fixtures.pop3",
    "tests.fixtures.postgres",
]
