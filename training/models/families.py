"""Which class implements each model family, and fresh untrained models for an experiment."""

from __future__ import annotations

from collections.abc import Callable

from training.config.schema import FineTuneModel, FrozenEncoderModel, PairFeaturesModel, TfidfModel
from training.errors import UserInputError
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
        case "pair_features":
            from training.models.pair_features import PairFeaturesClassifier

            return PairFeaturesClassifier
    raise ValueError(f"unknown model family '{family}'")


def classifier_factory(
    config: TfidfModel | FrozenEncoderModel | FineTuneModel | PairFeaturesModel, task: str, seed: int
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
        case PairFeaturesModel():
            from training.models.encoder import MeanPooledEncoder, resolve_encoder
            from training.models.pair_features import PairFeaturesClassifier

            if task != "stance":
                raise UserInputError("the pair_features family scores a text against a target: use it for stance")
            shared = None
            if config.encoder is not None:
                shared = MeanPooledEncoder(resolve_encoder(config.encoder), config.max_length, config.batch_size, cache=True)
            return lambda: PairFeaturesClassifier.untrained(task, config, shared, seed)
