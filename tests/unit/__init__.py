"""Unit tier: pure logic, no model and no subprocess (fakes allowed). Runs in `make quick`."""
