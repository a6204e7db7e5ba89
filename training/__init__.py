"""Training side of the news classifier: seed corpus, experiments, MLflow tracking and registry."""
