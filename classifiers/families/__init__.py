"""The model families. Each module declares one family and registers it; importing this package
registers them all (their heavy dependencies, torch and transformers, load only when used)."""

from classifiers.families import descriptions, ensemble, finetuned, frozen_encoder, pair_features, setfit_descriptions, tfidf

__all__ = ["descriptions", "ensemble", "finetuned", "frozen_encoder", "pair_features", "setfit_descriptions", "tfidf"]
