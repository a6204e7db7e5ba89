"""The experiment config: frozen pydantic models that reject unknown keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, field_validator, model_validator

from training import locations

PACKAGED_ENCODER = "all-MiniLM-L6-v2"


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- data -------------------------------------------------------------------------------------


class SeedData(Strict):
    """The project's labelled seed corpus."""

    source: Literal["seeds"] = "seeds"
    segments: Path = locations.SEGMENTS_PATH
    labels: Path = locations.LABELS_PATH


class JsonlData(Strict):
    """Any labelled JSONL file: `text`, `label`, `target` (stance) and an optional group column."""

    source: Literal["jsonl"]
    path: Path
    group_column: str | None = Field(None, description="Rows sharing a value stay on one side of every split.")


class BenchmarkData(Strict):
    """A public benchmark read in its official layout from a data directory."""

    source: Literal["benchmark"]
    name: Literal["fnc1", "semeval2016", "bbc_news"]
    data_dir: Path = locations.DEFAULT_DATA_DIR
    split: str | None = Field(None, description="Default: the dataset's training split (train; all for bbc_news).")
    limit: PositiveInt | None = Field(None, description="Keep only the first N groups (quick runs).")


DataConfig = Annotated[SeedData | JsonlData | BenchmarkData, Field(discriminator="source")]


# --- models -----------------------------------------------------------------------------------


class TfidfModel(Strict):
    """TF-IDF word and character n-grams with a linear classifier."""

    family: Literal["tfidf"]
    classifier: Literal["logreg", "linear_svm"] = "logreg"
    C: PositiveFloat = 1.0
    class_weight: Literal["balanced"] | None = "balanced"
    word_ngrams: tuple[PositiveInt, PositiveInt] = (1, 2)
    char_ngrams: tuple[PositiveInt, PositiveInt] | None = (2, 5)
    min_df: PositiveInt = 1
    stop_words: Literal["english"] | None = Field(None, description="Drop scikit-learn's English stop words.")
    sublinear_tf: bool = True
    max_iter: PositiveInt = 5000
    context_window: int = Field(
        1,
        ge=0,
        description="Stance: sentences on each side of a target mention that form the target's context.",
    )

    @field_validator("word_ngrams", "char_ngrams")
    @classmethod
    def _ordered_range(cls, ngrams: tuple[int, int] | None) -> tuple[int, int] | None:
        if ngrams is not None and ngrams[0] > ngrams[1]:
            raise ValueError(f"an n-gram range is (shortest, longest): {ngrams[0]} is longer than {ngrams[1]}")
        return ngrams


class FrozenEncoderModel(Strict):
    """Mean-pooled embeddings of a frozen transformer encoder with a logistic-regression head."""

    family: Literal["frozen_encoder"]
    encoder: str = Field(PACKAGED_ENCODER, description=f"'{PACKAGED_ENCODER}' (packaged) or a local model folder.")
    max_length: PositiveInt = 256
    batch_size: PositiveInt = 32
    C: PositiveFloat = 1.0
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: PositiveInt = 5000


class FineTuneModel(Strict):
    """AutoModelForSequenceClassification fine-tuned with the Hugging Face Trainer."""

    family: Literal["finetune"]
    encoder: str = Field(PACKAGED_ENCODER, description=f"'{PACKAGED_ENCODER}' (packaged) or a local model folder.")
    max_length: PositiveInt = 256
    epochs: PositiveFloat = 5.0
    max_steps: int = Field(-1, description="Stop after this many optimiser steps (-1: run all epochs).")
    learning_rate: PositiveFloat = 5e-5
    batch_size: PositiveInt = 16
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    class_weight: Literal["balanced"] | None = "balanced"

    @model_validator(mode="after")
    def _steps(self) -> FineTuneModel:
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError("max_steps must be -1 (all epochs) or a positive number of steps")
        return self


class PairFeaturesModel(Strict):
    """Stance of a text toward a long target (FNC-1 headline vs body): relatedness and cue features,
    gradient-boosted trees on top."""

    family: Literal["pair_features"]
    encoder: str | None = Field(PACKAGED_ENCODER, description="Embedding similarity features; null to leave them out.")
    max_length: PositiveInt = 128
    batch_size: PositiveInt = 64
    max_sentences: PositiveInt = Field(40, description="Body sentences compared with the target (from the start).")
    top_sentences: PositiveInt = Field(3, description="Most target-like sentences whose cues and embeddings are used.")
    svd_components: PositiveInt = 100
    embedding_interactions: bool = Field(True, description="Add target x best-sentences embedding products and gaps.")
    learning_rate: PositiveFloat = 0.1
    max_iter: PositiveInt = 300
    max_leaf_nodes: PositiveInt = 31
    l2_regularization: float = Field(0.0, ge=0)
    class_weight: Literal["balanced"] | None = None


ModelConfig = Annotated[
    TfidfModel | FrozenEncoderModel | FineTuneModel | PairFeaturesModel, Field(discriminator="family")
]


# --- evaluation and the experiment ------------------------------------------------------------


class EvaluationConfig(Strict):
    """How models are compared: grouped cross-validation or a grouped hold-out split."""

    cv: Literal["leave_one_group_out", "group_kfold", "holdout", "disjoint_holdout"] = Field(
        "leave_one_group_out",
        description=(
            "disjoint_holdout (stance): hold out a share of the groups and a share of the targets; test on pairs "
            "of both, train on pairs of neither, so every tested text and target is unseen (as in FNC-1's test)."
        ),
    )
    n_splits: int = Field(5, ge=2, description="Folds for group_kfold.")
    holdout_fraction: float = Field(
        0.2, gt=0, lt=1, description="Share of groups (and, for disjoint_holdout, of targets) held out."
    )
    primary_metric: str = Field(
        "macro_f1",
        description=(
            "Metric that ranks sweep children and promotions: accuracy, macro_f1, their fold means "
            "(accuracy_cv_mean, macro_f1_cv_mean), f1_/precision_/recall_<label>, or a benchmark's official metric."
        ),
    )


DEFAULT_REGISTERED_NAMES = {"topic": "news-topic", "stance": "news-stance"}


class ExperimentConfig(Strict):
    """One experiment: what to train, on which data, how to evaluate and where to register it."""

    task: Literal["topic", "stance"]
    model: ModelConfig
    data: DataConfig = SeedData()
    evaluation: EvaluationConfig = EvaluationConfig()
    registered_model: str = Field("", description="Registry name; defaults to news-topic or news-stance.")
    experiment: str = Field("", description="MLflow experiment; defaults to '<task>-<dataset>'.")
    seed: int = 13
    promote: Literal["auto", "never"] = Field(
        "never", description="auto: make the new version champion when it beats the current one."
    )
    sweep: dict[str, list[Any]] = Field(
        default_factory=dict, description="Grid: dotted key -> values; each combination is a child run."
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_task(cls, values: Any) -> Any:
        if isinstance(values, dict) and values.get("task") in DEFAULT_REGISTERED_NAMES:
            values = dict(values)
            values.setdefault("registered_model", DEFAULT_REGISTERED_NAMES[values["task"]])
        return values

    @model_validator(mode="after")
    def _checks(self) -> ExperimentConfig:
        if not self.registered_model:
            raise ValueError("registered_model must not be empty")
        empty = [key for key, values in self.sweep.items() if not values]
        if empty:
            raise ValueError(f"sweep values must be non-empty lists: {', '.join(empty)}")
        return self

    @property
    def dataset_name(self) -> str:
        match self.data:
            case SeedData():
                return "seeds"
            case JsonlData(path=path):
                return path.stem
            case BenchmarkData(name=name):
                return name

    @property
    def experiment_name(self) -> str:
        return self.experiment or f"{self.task}-{self.dataset_name}"
