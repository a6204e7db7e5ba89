"""Which names MLflow takes for a run's params and metrics (the rule its `log_param` and `log_metric` document), for
a registered model and for a logged model: checked here, before the work whose results they name, rather than by
MLflow's private checks."""

from __future__ import annotations

import os
import posixpath
import re

# What every MLflow store takes (`mlflow.log_param`'s docs); some take longer names.
MAX_NAME_LENGTH = 250
# The documented characters; MLflow also takes a colon, except on Windows, as its error message says.
_CHARACTERS = re.compile(r"[\w./ -]*" if os.name == "nt" else r"[\w./ :-]*")
NAME_RULE = (
    "MLflow names may only contain letters, digits, underscores (_), dashes (-), periods (.), spaces, slashes (/)"
    + ("" if os.name == "nt" else " and colons (:)")
    + f", may not read as another path (a//b, /a, a/, a/../b) and are at most {MAX_NAME_LENGTH} characters."
)


def name_taken(name: str) -> bool:
    """Whether MLflow takes `name` as a param's or a metric's name (it refuses the whole batch they are logged in
    otherwise)."""
    return len(name) <= MAX_NAME_LENGTH and bool(_CHARACTERS.fullmatch(name)) and not _reads_as_another_path(name)


def model_name_problem(name: str) -> str | None:
    """Why MLflow's registry refuses `name` for a registered model; None where it takes it."""
    if not name.strip():
        return "a registered model needs a name"
    if "/" in name or ":" in name:
        return f"Invalid model name '{name}'. Names cannot contain '/' or ':'."
    if _reads_as_another_path(name):
        return f"Invalid model name '{name}': it would read as the path {posixpath.normpath(name)!r}."
    return None


# What MLflow refuses in a logged model's name (the one its Models tab lists): the name is a path of its artifacts.
_LOGGED_MODEL_REFUSES = re.compile(r"[/:.%\"']")


def logged_model_name(name: str) -> str:
    """`name` as MLflow takes it for a logged model: each character it refuses there replaced by an underscore."""
    return _LOGGED_MODEL_REFUSES.sub("_", name)


def _reads_as_another_path(name: str) -> bool:
    # A file store keeps each in a file or folder of that name, so MLflow refuses one that a path reads as another.
    normal = posixpath.normpath(name)
    return normal != name or normal == "." or normal.startswith(("..", "/"))
