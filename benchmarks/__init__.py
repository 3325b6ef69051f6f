"""trayproxy benchmarks (not part of the test run): `python benchmarks/run.py [--quick]`."""
