"""Benchmarks: okta_bearer against the cost floor and the peers (``python -m benchmarks.run``)."""
