"""AutoModelForSequenceClassification fine-tuned with the Hugging Face Trainer (uses a GPU when present)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.utils.class_weight import compute_class_weight

from training.config.schema import FineTuneModel
from training.errors import UserInputError
from training.models.base import Classifier
from training.models.encoder import pair_arguments

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

PREDICT_BATCH = 64
SETTINGS_FILE = "settings.json"


class FineTunedClassifier(Classifier):
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
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(encoder_path, local_files_only=True)
        return cls(task, tokenizer, None, config.max_length, config, encoder_path, seed)

    def _tokenize(self, inputs: pd.DataFrame) -> dict[str, list]:
        first, second = pair_arguments(inputs)
        return self.tokenizer(
            first, second, truncation="only_second" if second is not None else True, max_length=self.max_length
        )

    def fit(self, inputs: pd.DataFrame, y: Sequence[str]) -> None:
        import torch
        from datasets import Dataset
        from transformers import (
            AutoModelForSequenceClassification,
            DataCollatorWithPadding,
            Trainer,
            TrainingArguments,
            set_seed,
        )

        assert self.config is not None and self.encoder_path is not None, "fit needs an untrained classifier"
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

        def weighted_loss(outputs: object, labels: torch.Tensor, num_items_in_batch: int | None = None) -> torch.Tensor:
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

        assert self.model is not None, "predict needs a trained model"
        first, second = pair_arguments(inputs)
        chunks: list[np.ndarray] = []
        for start in range(0, len(first), PREDICT_BATCH):
            stop = start + PREDICT_BATCH
            encoded = self.tokenizer(
                first[start:stop],
                second[start:stop] if second is not None else None,
                padding=True,
                truncation="only_second" if second is not None else True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.model.device)
            with torch.inference_mode():
                logits: torch.Tensor = self.model(**encoded).logits
            chunks.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, len(self.labels)), dtype=np.float32)

    def _save_weights(self, directory: Path) -> None:
        assert self.model is not None
        self.model.save_pretrained(directory / "model")
        self.tokenizer.save_pretrained(directory / "model")
        (directory / SETTINGS_FILE).write_text(json.dumps({"max_length": self.max_length}), encoding="utf-8")

    @classmethod
    def _load_weights(cls, directory: Path, task: str, labels: list[str]) -> FineTunedClassifier:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = directory / "model"
        model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True).eval()
        model.to("cuda" if _cuda() else "cpu")
        settings = json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        classifier = cls(task, tokenizer, model, settings["max_length"])
        # id2label fixes the order of the logits; metadata that disagrees would put probabilities under wrong labels.
        id2label = [model.config.id2label[index] for index in range(model.config.num_labels)]
        if id2label != labels:
            raise UserInputError(
                f"{path}: the model's id2label ({', '.join(id2label)}) does not match the saved labels ({', '.join(labels)})"
            )
        classifier.labels = id2label
        return classifier


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
