"""Benchmarks, and the helpers they share with the tests (tests import `benchmarks.workflow_runs`)."""
