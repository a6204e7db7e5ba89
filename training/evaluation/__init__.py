"""Metrics, grouped cross-validation and the report artifacts of a run."""
