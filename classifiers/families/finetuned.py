"""AutoModelForSequenceClassification fine-tuned with the Hugging Face Trainer (uses a GPU when present)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import Field, PositiveFloat, PositiveInt, model_validator
from sklearn.exceptions import NotFittedError
from sklearn.utils.class_weight import compute_class_weight

from classifiers.config import CLASS_WEIGHT_HELP, ENCODER_HELP, PACKAGED_ENCODER, FamilyConfig
from classifiers.encoder import (
    ENCODER_REQUIREMENTS,
    encoder_dtype,
    pair_arguments,
    resolve_encoder,
)
from classifiers.errors import UserInputError
from classifiers.interface import Labels, TextReading, Trainable
from classifiers.registry import Factory, Family, register
from classifiers.saved_settings import SavedSettings

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

PREDICT_BATCH = 64
# The longer part of a (target, text) pair is cut first, a word piece at a time: the text, as `only_second` cut it,
# unless the target is the longer, which `only_second` refused (an error; the server's 500). A text alone is cut.
PAIR_TRUNCATION = "longest_first"
SETTINGS_FILE = "settings.json"


class FineTuneModel(FamilyConfig):
    """AutoModelForSequenceClassification fine-tuned with the Hugging Face Trainer."""

    family: Literal["finetune"]
    encoder: str = Field(PACKAGED_ENCODER, description=ENCODER_HELP)
    max_length: PositiveInt = Field(
        256,
        description=(
            "Word pieces of each text (with its target) the model reads, at most the encoder's position limit (512 for "
            "all-MiniLM-L6-v2); the rest is cut."
        ),
    )
    epochs: PositiveFloat = Field(5.0, description="Passes over the training rows (a fraction ends part-way).")
    max_steps: int = Field(-1, description="Stop after this many optimiser steps (-1: run all epochs).")
    learning_rate: PositiveFloat = Field(5e-5, description="AdamW's peak learning rate.")
    batch_size: PositiveInt = Field(16, description="Rows per optimiser step.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW's weight decay.")
    warmup_ratio: float = Field(
        0.1, ge=0, lt=1,
        description="Share of the steps over which the learning rate rises to its peak; it then falls linearly to 0.",
    )
    class_weight: Literal["balanced"] | None = Field(
        "balanced",
        description=CLASS_WEIGHT_HELP,
    )

    @model_validator(mode="after")
    def _steps(self) -> FineTuneModel:
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError("max_steps must be -1 (all epochs) or a positive number of steps")
        return self

    def encoders(self) -> dict[str, str]:
        return {"model.encoder": self.encoder}

    def weighs_rows(self) -> bool:
        """The Hugging Face Trainer's loss takes no row weights."""
        return False


class FineTunedClassifier(Trainable):
    """An encoder fine-tuned with a classification head (FineTuneModel), saved as a transformers model folder."""

    family = "finetune"

    def __init__(
        self,
        task: str,
        tokenizer: PreTrainedTokenizerBase,
        model: PreTrainedModel | None,
        max_length: int,
        config: FineTuneModel | None = None,
        encoder_path: Path | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(task)
        self.tokenizer = tokenizer
        self.model = model
        self.max_length = max_length
        self.config = config
        self.encoder_path = encoder_path
        self.seed = seed

    @classmethod
    def untrained(cls, task: str, config: FineTuneModel, encoder_path: Path, seed: int) -> FineTunedClassifier:
        """A model of the config, to be fitted: the encoder's tokenizer now, its weights when `fit` tunes them."""
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(encoder_path, local_files_only=True)
        return cls(task, tokenizer, None, config.max_length, config, encoder_path, seed)

    def reading(self) -> TextReading:
        return TextReading(whole=False, max_length=self.max_length)

    def _tokenize(self, inputs: pd.DataFrame) -> dict[str, list]:
        first, second = pair_arguments(inputs)
        return self.tokenizer(first, second, truncation=PAIR_TRUNCATION, max_length=self.max_length)

    def fit(self, inputs: pd.DataFrame, y: Labels, sample_weight: np.ndarray | None = None) -> None:
        import torch
        from datasets import Dataset
        from transformers import (
            AutoModelForSequenceClassification,
            DataCollatorWithPadding,
            Trainer,
            TrainingArguments,
            set_seed,
        )

        if self.config is None or self.encoder_path is None:
            raise RuntimeError("fit needs a classifier made by FineTunedClassifier.untrained, not a loaded one")
        if sample_weight is not None and not np.allclose(sample_weight, sample_weight[0]):
            raise UserInputError("the finetune family does not weight rows: leave extra_training weights at 1")
        self.labels = sorted({str(label) for label in y})
        label_ids = {label: index for index, label in enumerate(self.labels)}
        set_seed(self.seed)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            self.encoder_path,
            num_labels=len(self.labels),
            id2label=dict(enumerate(self.labels)),
            label2id=label_ids,
            local_files_only=True,
        )
        encoded = dict(self._tokenize(inputs))
        encoded["labels"] = [label_ids[str(label)] for label in y]
        train_set = Dataset.from_dict(encoded)

        weights = None
        if self.config.class_weight == "balanced":
            weights = torch.tensor(
                compute_class_weight("balanced", classes=np.array(self.labels), y=np.array([str(v) for v in y])),
                dtype=torch.float32,
            )

        def weighted_loss(outputs: Mapping[str, torch.Tensor], labels: torch.Tensor, num_items_in_batch: int | None = None) -> torch.Tensor:
            logits = outputs["logits"]
            weight = weights.to(logits.device) if weights is not None else None
            return torch.nn.functional.cross_entropy(logits, labels, weight=weight)

        with tempfile.TemporaryDirectory(prefix="finetune-") as scratch:
            args = TrainingArguments(
                output_dir=scratch,
                num_train_epochs=self.config.epochs,
                max_steps=self.config.max_steps,
                learning_rate=self.config.learning_rate,
                per_device_train_batch_size=self.config.batch_size,
                weight_decay=self.config.weight_decay,
                warmup_steps=self.config.warmup_ratio,
                seed=self.seed,
                data_seed=self.seed,
                save_strategy="no",
                eval_strategy="no",
                logging_strategy="epoch",
                report_to="none",
                # Batches of similar length waste little compute on padding (it dominates on a CPU).
                train_sampling_strategy="group_by_length",
                dataloader_num_workers=0,
                dataloader_pin_memory=torch.cuda.is_available(),
                # NEWS_ENCODER_PRECISION, as for the frozen encoders: mixed bfloat16 on a CPU that multiplies it natively.
                bf16=_compute_dtype() == torch.bfloat16,
                use_cpu=not _cuda(),  # the Trainer allows bf16 without a GPU only when told it runs on the CPU
            )
            trainer = Trainer(
                model=self.model,
                args=args,
                train_dataset=train_set,
                data_collator=DataCollatorWithPadding(self.tokenizer),
                processing_class=self.tokenizer,
                compute_loss_func=weighted_loss,
            )
            trainer.train()
        self.model.eval()

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        import torch

        if self.model is None:
            raise NotFittedError("predict_proba needs a trained model: call fit first")
        first, second = pair_arguments(inputs)
        dtype = _compute_dtype()
        chunks: list[np.ndarray] = []
        for start in range(0, len(first), PREDICT_BATCH):
            stop = start + PREDICT_BATCH
            encoded = self.tokenizer(
                first[start:stop],
                second[start:stop] if second is not None else None,
                padding=True,
                truncation=PAIR_TRUNCATION,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.model.device)
            # Weights stay float32 (saved as trained); autocast computes the matrix products in bfloat16.
            with torch.inference_mode(), torch.autocast(self.model.device.type, dtype=dtype, enabled=dtype != torch.float32):
                logits: torch.Tensor = self.model(**encoded).logits
            chunks.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, len(self.labels)), dtype=np.float32)

    def save_weights(self, directory: Path) -> None:
        if self.model is None:
            raise NotFittedError("save needs a trained model: call fit first")
        self.model.save_pretrained(directory / "model")
        self.tokenizer.save_pretrained(directory / "model")
        FineTunedSettings(max_length=self.max_length).write(directory / SETTINGS_FILE)

    @classmethod
    def load_weights(cls, directory: Path, task: str, labels: list[str]) -> FineTunedClassifier:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = directory / "model"
        model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True).eval()
        model.to("cuda" if _cuda() else "cpu")
        settings = FineTunedSettings.read(directory / SETTINGS_FILE)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        classifier = cls(task, tokenizer, model, settings.max_length)
        # id2label fixes the order of the logits; metadata that disagrees would put probabilities under wrong labels.
        id2label = [model.config.id2label[index] for index in range(model.config.num_labels)]
        if id2label != labels:
            raise UserInputError(
                f"{path}: the model's id2label ({', '.join(id2label)}) does not match the saved labels ({', '.join(labels)})"
            )
        classifier.labels = id2label
        return classifier


class FineTunedSettings(SavedSettings):
    """A fine-tuned model's settings beside its transformers folder."""

    max_length: int


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _compute_dtype() -> torch.dtype:
    import torch

    return encoder_dtype(torch.device("cuda" if _cuda() else "cpu"))


def _trainer(config: FineTuneModel, task: str, seed: int) -> Factory:
    path = resolve_encoder(config.encoder, config.max_length)
    return lambda: FineTunedClassifier.untrained(task, config, path, seed)


register(Family("finetune", FineTuneModel, FineTunedClassifier, ENCODER_REQUIREMENTS, _trainer))
