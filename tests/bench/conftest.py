"""The `bench` marker: smoke tests that run each bench/ script with --quick.

Each takes 10-30 s (they start gunicorn, the sandbox and a database). Select them with
`pytest -m bench tests/bench`, leave them out with `-m "not bench"`.
"""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "bench: runs a bench/ script with --quick in a subprocess (10-30 s each)")
