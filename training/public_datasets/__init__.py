"""Public benchmarks (FNC-1, SemEval-2016 Task 6A, BBC News): adapters from their official layout, and scorers."""
