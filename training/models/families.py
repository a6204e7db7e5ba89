"""Which class implements each model family, and fresh untrained models for an experiment."""

from __future__ import annotations

from collections.abc import Callable

from training.config.schema import FineTuneModel, FrozenEncoderModel, TfidfModel
from training.models.base import Classifier


def family_class(family: str) -> type[Classifier]:
    """The class of a model family, imported on use so serving a TF-IDF model never imports torch."""
    match family:
        case "tfidf":
            from training.models.tfidf import TfidfClassifier

            return TfidfClassifier
        case "frozen_encoder":
            from training.models.frozen_encoder import FrozenEncoderClassifier

            return FrozenEncoderClassifier
        case "finetune":
            from training.models.finetuned import FineTunedClassifier

            return FineTunedClassifier
    raise ValueError(f"unknown model family '{family}'")


def classifier_factory(
    config: TfidfModel | FrozenEncoderModel | FineTuneModel, task: str, seed: int
) -> Callable[[], Classifier]:
    """A function returning a new untrained classifier; expensive shared parts are built once here."""
    match config:
        case TfidfModel():
            from training.models.tfidf import TfidfClassifier, build_pipeline

            return lambda: TfidfClassifier(task, build_pipeline(config, task, seed))
        case FrozenEncoderModel():
            from training.models.encoder import MeanPooledEncoder, resolve_encoder
            from training.models.frozen_encoder import FrozenEncoderClassifier

            encoder = MeanPooledEncoder(resolve_encoder(config.encoder), config.max_length, config.batch_size, cache=True)
            return lambda: FrozenEncoderClassifier.untrained(task, config, encoder, seed)
        case FineTuneModel():
            from training.models.encoder import resolve_encoder
            from training.models.finetuned import FineTunedClassifier

            path = resolve_encoder(config.encoder)
            return lambda: FineTunedClassifier.untrained(task, config, path, seed)
