"""Request and response bodies. Requests reject unknown fields; the lengths limited by runtime settings are checked
against the validation context (serving.limits passes the server's), the counts in serving.limits, and all are written
into the OpenAPI schema by serving.openapi."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from classifiers.blank_text import NON_BLANK_PATTERN, is_blank
from classifiers.target_context import known_targets, target_identity
from serving.snapshot import LoadedModel, Task

if TYPE_CHECKING:
    from serving.model_holder import RegistryCheck

EXAMPLE_TEXT = "Israeli jets struck Hezbollah positions in southern Lebanon."


def _valid_unicode(value: str) -> str:
    # JSON's \ud800 escapes decode to lone surrogates, which no model, pandas string or JSON answer can carry.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise PydanticCustomError("invalid_unicode", "must be valid Unicode (it contains a lone surrogate)") from err
    return value


def _not_blank(value: str) -> str:
    if is_blank(value):
        raise PydanticCustomError("blank_text", "must not be empty or whitespace")
    return value


def _unique(values: list[str]) -> list[str]:
    # "Iran" and "iran " find the same mentions: each would get the same answer.
    seen: dict[tuple[frozenset[str], ...], str] = {}
    for value in values:
        key = target_identity(value)
        if key in seen:
            # pydantic fills `{name}` placeholders from the context, with no format spec or conversion.
            message = "target '{target}' is given twice" + ("" if seen[key] == value else " (as '{first}')")
            raise PydanticCustomError("duplicate_target", message, {"target": value, "first": seen[key]})
        seen[key] = value
    return values


def _at_most(setting: str) -> AfterValidator:
    """A string no longer than the validation context's `setting` (a server setting such as max_text_chars) allows;
    unbounded where the context gives none."""

    def check(value: str, info: ValidationInfo) -> str:
        limit = (info.context or {}).get(setting)
        if limit is not None and len(value) > limit:
            message = "must be at most {limit} characters, got {length}"
            raise PydanticCustomError("string_too_long", message, {"limit": limit, "length": len(value)})
        return value

    return AfterValidator(check)


Text = Annotated[str, AfterValidator(_valid_unicode)]
# The schema says what the validator enforces, so generated clients and fuzzers know "" is refused.
NonBlank = Annotated[
    Text, AfterValidator(_not_blank), Field(json_schema_extra={"minLength": 1, "pattern": NON_BLANK_PATTERN})
]


class RequestBody(BaseModel):
    """Requests reject fields they do not define."""

    model_config = ConfigDict(extra="forbid")


# --- requests ---------------------------------------------------------------------------------


class ClassifyItem(RequestBody):
    """A text to classify by topic, and by stance toward a target where one is given."""

    text: Annotated[NonBlank, _at_most("max_text_chars")] = Field(
        description=(
            "The text to classify: a paragraph, as the models were trained on. A model whose long_texts is truncated "
            "(GET /v1/models; the stance default) reads only its first max_length word pieces (about 1,200 characters), "
            "so send a longer text in paragraphs, or to /v1/articles, which cuts it so."
        ),
        examples=[EXAMPLE_TEXT],
    )
    target: Annotated[NonBlank, _at_most("max_target_chars")] | None = Field(
        None,
        description=(
            "Classify the stance toward this target too. A target of GET /v1/models' known_targets is found by all its "
            "names there; send it by the name given there."
        ),
        examples=["Israel"],
    )
    document: Annotated[NonBlank, _at_most("max_target_chars")] | None = Field(
        None,
        description=(
            "Items that give the same document are read as that document's segments, in request order: a topic model "
            "with a neighbour weight mixes each one's topic probabilities with those of the items of its document just "
            "before and after it, as /v1/articles does. Items without a document are read alone. At most "
            "NEWS_MAX_TARGET_CHARS characters."
        ),
        examples=["article-1"],
    )


class ClassifyRequest(RequestBody):
    """The texts of one /v1/classify call."""

    items: list[ClassifyItem] = Field(min_length=1, description="Classified together in one model call per task.")


class ArticleRequest(RequestBody):
    """A whole article for /v1/articles: cut into segments, each classified, and summarised."""

    # Echoed back, so bounded like any other text.
    title: Annotated[Text, _at_most("max_text_chars")] = Field(
        description="Reported back; not classified (ingest does not segment titles either). "
        "At most NEWS_MAX_TEXT_CHARS characters.",
        examples=["Strikes in southern Lebanon"],
    )
    body: Annotated[NonBlank, _at_most("max_article_chars")] = Field(
        description="Paragraphs separated by line breaks.",
        examples=[f"{EXAMPLE_TEXT}\nAid agencies said thousands of families had fled their homes."],
    )
    targets: Annotated[list[Annotated[NonBlank, _at_most("max_target_chars")]], AfterValidator(_unique)] = Field(
        default_factory=list,
        description="Targets whose stance the summary reports.",
        examples=[["Israel", "Hezbollah"]],
        json_schema_extra={"uniqueItems": True},
    )


# --- predictions ------------------------------------------------------------------------------


class ResponseBody(BaseModel):
    """Answers send every field, null ones too, so the OpenAPI schema lists every field as required (else generated
    clients make a field with a default, such as `stance`, an optional property that may be absent)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class Prediction(ResponseBody):
    """A model's answer for one text: the label it chose, with its probabilities."""

    label: str
    score: float = Field(description="Probability of the label.")
    probabilities: dict[str, float] = Field(description="Probability of every label of the model.")


class StancePrediction(Prediction):
    """The stance toward one target."""

    target: str
    mentioned: bool = Field(
        description="Whether the text names the target (by one of its aliases, the stance model's own included). The "
        "stance is answered either way, since a text may speak of a target without naming it; a client that wants only "
        "stances voiced where the target is named keeps the mentioned ones."
    )


class ModelRef(ResponseBody):
    """A registered model version: its registry name and version number."""

    name: str
    version: str

    @classmethod
    def of(cls, model: LoadedModel) -> ModelRef:
        """The name and version of a loaded model."""
        return cls(name=model.name, version=model.version)


class ModelsUsed(ResponseBody):
    """The exact versions that classified a response."""

    topic: ModelRef | None = Field(
        description="The topic model; null on a stance-only server (NEWS_TOPIC_MODEL_URI empty)."
    )
    stance: ModelRef | None = Field(
        None, description="The stance model; null when no item had a target, so no stance was classified."
    )

    @classmethod
    def of(cls, topic: LoadedModel | None, stance: LoadedModel | None) -> ModelsUsed:
        """The models a response was classified with (none for a task that was not needed or is not served)."""
        return cls(
            topic=ModelRef.of(topic) if topic is not None else None,
            stance=ModelRef.of(stance) if stance is not None else None,
        )


class ItemResult(ResponseBody):
    """The answer for one request item."""

    topic: Prediction | None = Field(
        description="null on a stance-only server (NEWS_TOPIC_MODEL_URI empty), which answers items with a target only."
    )
    stance: StancePrediction | None = None


class ClassifyResponse(ResponseBody):
    """The answer of /v1/classify."""

    models: ModelsUsed
    results: list[ItemResult] = Field(description="One per request item, in order.")


# --- articles ---------------------------------------------------------------------------------


class SegmentResult(ResponseBody):
    """One segment of an article, as classified."""

    position: int
    text: str
    topic: Prediction | None = Field(description="null on a stance-only server (NEWS_TOPIC_MODEL_URI empty).")
    stances: list[StancePrediction] = Field(description="Stance toward each requested target the segment mentions.")


class TopicShare(ResponseBody):
    """How many of an article's segments have a topic."""

    label: str
    count: int
    share: float


class StanceEvidence(ResponseBody):
    """A segment that mentions a target, with the stance found there."""

    position: int
    label: str
    score: float


class TargetStance(ResponseBody):
    """An article's stance toward one target, over the segments that mention it."""

    target: str
    mentioned: bool = Field(description="False when no segment mentions the target: then label and score are null.")
    label: str | None = Field(description="Argmax of the mean stance probabilities over the mentioning segments.")
    score: float | None
    probabilities: dict[str, float] | None
    segments: list[StanceEvidence]


class ArticleSummary(ResponseBody):
    """An article's topics and stances in sum."""

    segments: int
    topics: list[TopicShare] = Field(
        description="Every topic label, most frequent first; empty on a stance-only server (NEWS_TOPIC_MODEL_URI empty)."
    )
    stances: list[TargetStance] = Field(description="One per requested target, in order.")


class ArticleResponse(ResponseBody):
    """The answer of /v1/articles."""

    models: ModelsUsed
    title: str
    segments: list[SegmentResult]
    summary: ArticleSummary


# --- health and models ------------------------------------------------------------------------


class Health(ResponseBody):
    """The process is up (liveness); says nothing about the models."""

    status: Literal["ok"] = "ok"


class ModelStatus(ResponseBody):
    """The version that serves a task."""

    task: Task
    name: str
    version: str
    run_id: str | None = Field(description="The training run that registered the version.")
    fallback: str | None = Field(
        None,
        description=(
            "Set while the version the configured URI names could not be loaded (at startup an earlier champion serves, "
            "after a failed reload the version served before): says why. Cleared once the URI's version loads."
        ),
    )

    @classmethod
    def of(cls, model: LoadedModel) -> ModelStatus:
        """Which exact version serves a task."""
        return cls(
            task=model.task, name=model.name, version=model.version, run_id=model.run_id, fallback=model.fallback
        )


class RegistryStatus(ResponseBody):
    """The model registry as this worker last reached it."""

    reachable: bool | None = Field(description="Whether the registry answered the last check; null: not asked yet.")
    checked_at: datetime | None
    problem: str | None = Field(None, description="Why it did not answer.")

    @classmethod
    def of(cls, check: RegistryCheck | None) -> RegistryStatus:
        """The last registry check of this worker."""
        if check is None:
            return cls(reachable=None, checked_at=None)
        return cls(reachable=check.reachable, checked_at=check.checked_at, problem=check.problem)


class Ready(ResponseBody):
    """Every served task has a loaded model (readiness)."""

    status: Literal["ready"] = "ready"
    models: list[ModelStatus]
    worker: str = Field(description="The process that answered (host:pid): replicas and workers each have their own.")
    registry: RegistryStatus = Field(
        description="The registry as this worker last saw it; the loaded models keep serving while it is away."
    )


class NotReady(ResponseBody):
    """A served task has no loaded model: why, with what is loaded and the registry as this worker last saw it."""

    status: Literal["not_ready"] = "not_ready"
    detail: str = Field(description="Why each missing model is missing, and how to get it.")
    models: list[ModelStatus] = Field(description="The models that are loaded (they answer their task meanwhile).")
    worker: str = Field(description="The process that answered (host:pid).")
    registry: RegistryStatus = Field(description="The registry as this worker last saw it: an unreachable one is often why.")


class ModelInfo(ModelStatus):
    """A loaded model: its version, labels, how it reads texts and how it scored in training."""

    configured_uri: str
    uri: str
    family: str
    labels: list[str]
    neighbour_weight: float = Field(
        description=(
            "The share of a segment's probabilities that /v1/articles (and /v1/classify, for items naming a document) "
            "takes from the segments around it (0: none)."
        )
    )
    long_texts: Literal["whole", "truncated"] = Field(
        description=(
            "How the model reads a text longer than max_length word pieces: whole (in windows of max_length word pieces, "
            "or every word for a model without an encoder) or truncated (its first max_length word pieces only)."
        )
    )
    max_length: int | None = Field(
        description="Word pieces the model's encoder reads in one pass; null for a model without an encoder."
    )
    target_aliases: dict[str, list[str]] = Field(
        description=(
            "Stance: the other names the model knows targets by, besides the shipped table's, by target (case-folded): "
            "where it, and /v1/articles, look for a target's mentions."
        )
    )
    known_targets: dict[str, list[str]] = Field(
        description=(
            "Stance: every target the model finds by more than its own words, with all the names it is found by (the "
            "shipped table's and the model's own). Send a target by the name given here: another of its names, such as "
            "US for United States, is a target of its own, found by its own words only and read by the model as written."
        )
    )
    metrics: dict[str, float] = Field(
        description=(
            "The training run's evaluation figures (macro_f1, accuracy; for the defaults, each seed article scored by a "
            "model trained without it). A model with a neighbour weight was scored reading each segment beside its "
            "neighbours, as /v1/articles and /v1/classify items naming a document are read: a text read alone scores "
            "lower (README gives both figures for the defaults)."
        )
    )
    loaded_at: datetime

    @classmethod
    def of(cls, model: LoadedModel) -> ModelInfo:
        """Everything /v1/models reports about a loaded model."""
        reading = model.classifier.reading()
        return cls(
            task=model.task,
            name=model.name,
            version=model.version,
            run_id=model.run_id,
            fallback=model.fallback,
            configured_uri=model.configured_uri,
            uri=model.uri,
            family=model.family,
            labels=list(model.labels),
            neighbour_weight=model.classifier.neighbour_weight,
            long_texts="whole" if reading.whole else "truncated",
            max_length=reading.max_length,
            target_aliases=model.classifier.target_aliases.as_dict(),
            known_targets=known_targets(model.classifier.target_aliases) if model.task == "stance" else {},
            metrics=dict(model.metrics),
            loaded_at=model.loaded_at,
        )


class Unavailable(ResponseBody):
    """A task no model serves, and why."""

    task: Task
    reason: str


class ModelsResponse(ResponseBody):
    """The answer of /v1/models: the loaded models and the tasks without one."""

    models: list[ModelInfo]
    unavailable: list[Unavailable]


class ModelChange(ResponseBody):
    """The version a reload left serving a task, and the one before it."""

    task: Task
    name: str
    version: str
    previous_version: str | None


class ReloadResponse(ResponseBody):
    """The answer of a reload: what changed."""

    changed: bool
    models: list[ModelChange]
    unavailable: list[Unavailable]
    workers_notified: bool = Field(
        description="True when the other worker processes of this server were told to reload as well."
    )


class ErrorResponse(ResponseBody):
    """An error: what was wrong, in one sentence."""

    detail: str


class FieldError(ResponseBody):
    """One problem of a request body: where it is and what is wrong."""

    model_config = ConfigDict(extra="allow")

    type: str
    loc: list[str | int] = Field(description='Where: ["body", "items", 3, "text"] is the text of the fourth item.')
    msg: str = Field(description="The path and the reason: `items[3].text: must not be empty or whitespace`.")


class ValidationErrorResponse(ResponseBody):
    """A request body refused: each of its problems."""

    detail: list[FieldError]


class ReloadError(ErrorResponse):
    """A reload that failed for some task: the models served before keep serving."""

    failures: dict[Task, str] = Field(description="Why each failed model could not be loaded.")
