"""Batch scoring: a registered model applied to a JSONL or Parquet file, written as Parquet (`python -m training score`)."""

from training.scoring.orchestration import DEFAULT_CHUNK_ROWS, Engine, ScoreResult, score

__all__ = ["DEFAULT_CHUNK_ROWS", "Engine", "ScoreResult", "score"]
