"""Service configuration from the environment: `NEWS_*` variables (and `MLFLOW_TRACKING_URI`)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, AliasChoices, BeforeValidator, Field, PositiveInt, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from classifiers import store
from classifiers.encoder_settings import Precision, RowsPerCall, Runtime
from classifiers.onnx_encoder import CACHE_VARIABLE
from classifiers.store import CHAMPION, DEFAULT_REGISTERED_NAMES
from serving.snapshot import TASKS, Task

ENV_PREFIX = "NEWS_"
# The NEWS_* variables the project reads besides the server's settings, which a server's environment (a shared .env or
# compose file) may well hold: the export cache, read wherever a model loads, and training's data folder
# (training/locations.py, which serving may not import). tests/serving/test_settings.py checks it against the source.
OTHER_VARIABLES = frozenset({CACHE_VARIABLE, "NEWS_DATA_DIR"})


def _registry_uri(uri: str) -> str:
    if not uri.strip():
        return ""  # the task is not served (a topic-only newsroom): see ServingSettings.served_tasks
    if not store.REGISTERED_MODEL_URI.match(uri):
        raise ValueError(f"expected models:/<name>@<alias> or models:/<name>/<version>, got {uri!r}")
    return uri


RegistryUri = Annotated[str, AfterValidator(_registry_uri)]

# Each poll queries the registry, per task, worker and replica: more often than this only loads it.
MIN_POLL_SECONDS = 1
# What a body holds besides its longest text: JSON syntax, a title, targets.
BODY_OVERHEAD_BYTES = 1024
# The bytes of one character of a text written as JSON, at most outside the astral planes: `\u00e9`, as Python's
# json.dumps writes every non-ASCII character by default (UTF-8 itself takes up to 4).
JSON_BYTES_PER_CHAR = 6


def _poll_interval(seconds: float) -> float:
    if 0 < seconds < MIN_POLL_SECONDS:
        raise ValueError(f"must be 0 (off) or at least {MIN_POLL_SECONDS} s")
    return seconds


# 16 characters from even a 26-letter alphabet are 75 bits: out of reach of guessing over HTTP.
MIN_ADMIN_KEY_CHARS = 16


def _blank_is_unset(value: object) -> object:
    # An empty `NEWS_ADMIN_API_KEY=` is how shells and compose files write "unset".
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _blank_is_default_store(value: object) -> object:
    # As in training: an empty tracking URI means what an unset one does (MLFLOW_TRACKING_URI, else the project's own
    # store), not MLflow's default in the cwd; a blank NEWS_TRACKING_URI hid MLFLOW_TRACKING_URI, which training used.
    if isinstance(value, str) and not value.strip():
        return store.tracking_uri()
    return value


def _openable_store(uri: str) -> str:
    # Else the server starts and answers 503 for good, its log full of MLflow's tracebacks.
    problem = store.store_problem(uri)
    if problem is not None:
        raise ValueError(f"the store {problem}")
    return uri


def _strong_key(key: SecretStr | None) -> SecretStr | None:
    if key is None:
        return None
    value = key.get_secret_value()
    # The header arrives as latin-1 bytes: a key outside printable ASCII could never match it.
    if not all(" " < char < "\x7f" for char in value):
        raise ValueError("must be printable ASCII without spaces (an HTTP header could never carry it)")
    if len(value) < MIN_ADMIN_KEY_CHARS:
        raise ValueError(
            f"is too weak: use at least {MIN_ADMIN_KEY_CHARS} random characters, e.g. from `openssl rand -hex 24`"
        )
    return key


class ServingSettings(BaseSettings):
    """Everything the server reads from its environment; every field is `NEWS_<FIELD>`."""

    # Errors never echo a value: it may be the admin key or a tracking URI with a password.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", validate_by_name=True, hide_input_in_errors=True, frozen=True
    )

    tracking_uri: Annotated[str, BeforeValidator(_blank_is_default_store), AfterValidator(_openable_store)] = Field(
        store.DEFAULT_TRACKING_URI,
        validation_alias=AliasChoices("NEWS_TRACKING_URI", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking and registry store (NEWS_TRACKING_URI, else MLFLOW_TRACKING_URI).",
    )
    topic_model_uri: RegistryUri = f"models:/{DEFAULT_REGISTERED_NAMES['topic']}@{CHAMPION}"
    stance_model_uri: RegistryUri = f"models:/{DEFAULT_REGISTERED_NAMES['stance']}@{CHAMPION}"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: PositiveInt = 1
    access_log: bool = Field(False, description="uvicorn's per-request access log (costs CPU under load).")
    encoder_precision: Precision = Field(
        "auto",
        description="How encoder models compute: auto (bfloat16 on a CPU with AMX or AVX512-BF16, about 2x as fast, else float32), "
        "float32 or bfloat16.",
    )
    encoder_runtime: Runtime = Field(
        "auto",
        description="What runs encoder models: auto (ONNX Runtime for a BERT encoder computing in float32 on a CPU, about "
        "1.2-1.3x as fast there, else PyTorch), torch, onnxruntime, or onnxruntime-int8 (ONNX Runtime with int8 weights: "
        "about 1.5x as fast again, and a few labels in a hundred change).",
    )
    encoder_rows_per_call: RowsPerCall = Field(
        "auto",
        description="Texts per forward pass of an encoder model: auto (at most 4 under ONNX Runtime; under PyTorch the "
        "model's batch size on a GPU or a CPU with AMX, else at most 8, which embeds a batch of mixed lengths faster on "
        "other CPUs) or a number.",
    )
    max_items: PositiveInt = Field(256, description="Items per /v1/classify request; segments per article.")
    max_text_chars: PositiveInt = Field(20_000, description="Characters per /v1/classify text and per article title.")
    max_request_chars: PositiveInt = Field(
        512_000,
        description="Characters of all the texts of one /v1/classify request together: the encoder models read a long "
        "text whole, 256 word pieces at a time, so this bounds the work one request asks for.",
    )
    max_target_chars: PositiveInt = Field(
        200, description="Characters per target, and per /v1/classify document name (a name, as a target is)."
    )
    max_targets: PositiveInt = Field(20, description="Targets per /v1/articles request.")
    max_article_chars: PositiveInt = Field(200_000, description="Characters of a /v1/articles body.")
    max_body_bytes: PositiveInt = Field(8 * 1024 * 1024, description="Larger request bodies get 413.")
    admin_api_key: Annotated[SecretStr | None, BeforeValidator(_blank_is_unset), AfterValidator(_strong_key)] = Field(
        None,
        description=(
            f"X-API-Key for /v1/models/reload: at least {MIN_ADMIN_KEY_CHARS} printable ASCII characters;"
            " unset or blank disables it."
        ),
    )
    poll_seconds: Annotated[float, AfterValidator(_poll_interval)] = Field(
        0.0,
        ge=0,
        # An infinite interval would make Retry-After an overflow.
        allow_inf_nan=False,
        description=(
            f"Check the aliases every N seconds (0: off, else at least {MIN_POLL_SECONDS}); reload on a move or after a"
            " failed load."
        ),
    )

    reload_broadcast_file: Path | None = Field(
        None,
        description=(
            "A file the workers of one server share: a manual reload in one worker makes the others reload"
            " too. `python -m serving` with several workers sets it; unset: a reload reaches one worker."
        ),
    )
    max_header_bytes: int = Field(
        32 * 1024,
        ge=1024,
        description="Request line plus headers of one request; larger ones get 431 and the connection closes.",
    )
    request_read_timeout_s: float = Field(
        10.0,
        gt=0,
        # "inf" or "nan" would switch the timeout off without saying so; a real bound is what the setting is for.
        allow_inf_nan=False,
        description=(
            "Seconds a client has to send a whole request (headers and body), or its first request after"
            " connecting; a late one gets 408 and the connection closes."
        ),
    )
    keep_alive_timeout_s: float = Field(
        5.0, gt=0, allow_inf_nan=False, description="An idle keep-alive connection closes after N seconds."
    )
    max_concurrency: PositiveInt = Field(
        256,
        description="Open connections (idle keep-alive ones too) and running requests per worker; beyond: 503 (not /health).",
    )

    @model_validator(mode="after")
    def _serves_something(self) -> ServingSettings:
        if not self.served_tasks:
            raise ValueError("NEWS_TOPIC_MODEL_URI and NEWS_STANCE_MODEL_URI are both empty: the server would serve nothing")
        return self

    @model_validator(mode="after")
    def _body_holds_a_text(self) -> ServingSettings:
        # A body limit below the text limits answers 413 to texts those limits allow (to every request, at 100 bytes).
        longest, name = max(
            (self.max_text_chars, "NEWS_MAX_TEXT_CHARS"), (self.max_article_chars, "NEWS_MAX_ARTICLE_CHARS")
        )
        # Counted in bytes as written: the same characters as ASCII took a sixth of it, and such a text was allowed at
        # start, then refused with 413.
        least = longest * JSON_BYTES_PER_CHAR + BODY_OVERHEAD_BYTES
        if self.max_body_bytes < least:
            raise ValueError(
                f"NEWS_MAX_BODY_BYTES is {self.max_body_bytes}: a body that small cannot hold one text of {name} "
                f"({longest}) characters written as JSON (up to {JSON_BYTES_PER_CHAR} bytes each); set it to at least "
                f"{least}"
            )
        return self

    @model_validator(mode="after")
    def _request_holds_a_text(self) -> ServingSettings:
        if self.max_request_chars < self.max_text_chars:
            # Raising NEWS_MAX_TEXT_CHARS alone trips this: say the other value is the default, not the user's.
            default = "" if "max_request_chars" in self.model_fields_set else " (the default)"
            raise ValueError(
                f"NEWS_MAX_REQUEST_CHARS is {self.max_request_chars}{default}: a request that small cannot hold one "
                f"text of NEWS_MAX_TEXT_CHARS ({self.max_text_chars}) characters; set it to at least {self.max_text_chars}"
            )
        return self

    def model_uri(self, task: Task) -> str:
        """The configured registry URI of a task's model ("" for a task this server does not serve)."""
        uris: dict[Task, str] = {"topic": self.topic_model_uri, "stance": self.stance_model_uri}
        return uris[task]

    @property
    def served_tasks(self) -> tuple[Task, ...]:
        """The tasks with a model URI: an empty one (NEWS_STANCE_MODEL_URI=) leaves its task out of the service."""
        return tuple(task for task in TASKS if self.model_uri(task))


def known_variables() -> frozenset[str]:
    """Every NEWS_* variable something in the project reads: each setting's (and its aliases') and the others."""
    names = set(OTHER_VARIABLES)
    for field_name, field in ServingSettings.model_fields.items():
        names.add(f"{ENV_PREFIX}{field_name.upper()}")
        if isinstance(field.validation_alias, AliasChoices):
            names.update(choice for choice in field.validation_alias.choices if isinstance(choice, str))
    return frozenset(name for name in names if name.startswith(ENV_PREFIX))


def unknown_variables(environ: Mapping[str, str]) -> dict[str, str | None]:
    """Each NEWS_* variable of the environment that nothing reads (a misspelling, most likely), with the known name
    closest to it, if any."""
    known = sorted(known_variables())
    # pydantic-settings reads the server's variables in any case (news_port is NEWS_PORT); the others are read by
    # os.environ, by their exact name.
    settings = known_variables() - OTHER_VARIABLES
    unknown: dict[str, str | None] = {}
    for name in sorted(environ):
        upper = name.upper()
        if upper.startswith(ENV_PREFIX) and upper not in settings and name not in OTHER_VARIABLES:
            closest = difflib.get_close_matches(upper, known, n=1)
            unknown[name] = closest[0] if closest else None
    return unknown
