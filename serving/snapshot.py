"""The models a request is served with: one immutable snapshot of both tasks, swapped as a whole."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from classifiers.interface import Predictor

Task = Literal["topic", "stance"]
TASKS: tuple[Task, ...] = ("topic", "stance")


@dataclass(frozen=True)
class LoadedModel:
    """A classifier loaded from one exact registered version, with what the API reports about it."""

    task: Task
    name: str
    version: str
    run_id: str | None
    configured_uri: str
    labels: tuple[str, ...]
    family: str
    metrics: Mapping[str, float]
    loaded_at: datetime
    classifier: Predictor = field(repr=False, compare=False)
    # Set while the version the configured URI names could not be loaded (this is an earlier champion, or the
    # version served before a reload failed): says why.
    fallback: str | None = None

    @property
    def uri(self) -> str:
        """The exact URI that was loaded."""
        return f"models:/{self.name}/{self.version}"


class ModelUnavailable(Exception):
    """A task has no loaded model; the message says why and what to do. `lasting`: the server is configured without
    the task, so no reload or retry will bring it."""

    def __init__(self, message: str, lasting: bool = False) -> None:
        super().__init__(message)
        self.lasting = lasting


@dataclass(frozen=True)
class ModelSnapshot:
    """Loaded models by task, and for each task without one the reason (never both)."""

    models: Mapping[Task, LoadedModel] = field(default_factory=dict)
    problems: Mapping[Task, str] = field(default_factory=dict)
    # The tasks the server is configured to serve; the others have a problem that says so, and never a model.
    served: tuple[Task, ...] = TASKS

    def __post_init__(self) -> None:
        # Read-only views: a snapshot shared by in-flight requests must never change under them.
        object.__setattr__(self, "models", MappingProxyType(dict(self.models)))
        object.__setattr__(self, "problems", MappingProxyType(dict(self.problems)))

    @property
    def ready(self) -> bool:
        """True when every served task has a loaded model."""
        return all(task in self.models for task in self.served)

    def require(self, task: Task) -> LoadedModel:
        """The task's model, or ModelUnavailable with the reason it is missing."""
        model = self.models.get(task)
        if model is None:
            raise ModelUnavailable(self.problems.get(task, f"no {task} model is loaded"), lasting=task not in self.served)
        return model

    def noting(self, notes: Mapping[Task, str]) -> ModelSnapshot:
        """The same models, each task in `notes` that has one carrying its note as `fallback`: why the version its
        URI names is not the one served."""
        models = {task: replace(model, fallback=notes[task]) if task in notes else model for task, model in self.models.items()}
        return ModelSnapshot(models, self.problems, self.served)

    def versions(self) -> dict[Task, str | None]:
        """Loaded version per task (None where a task has no model)."""
        return {task: self.models[task].version if task in self.models else None for task in TASKS}
