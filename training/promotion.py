"""Champion/challenger: the registry alias `champion` moves only to a version that beats it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.tracking import MlflowClient

from classifiers.errors import UserInputError
from classifiers.store import CHAMPION

logger = logging.getLogger(__name__)


PRIMARY_METRIC_TAG = "primary_metric"
DATA_DIGEST_TAG = "data_digest"
NO_CHAMPION_ERRORS = {ErrorCode.Name(RESOURCE_DOES_NOT_EXIST), ErrorCode.Name(INVALID_PARAMETER_VALUE)}


@dataclass(frozen=True)
class Evidence:
    """What a version was scored on: the run's primary metric and the evaluation data digest."""

    version: str
    metric: str
    value: float | None
    digest: str | None

    def describe(self) -> str:
        value = "n/a" if self.value is None else f"{self.value:.4f}"
        return f"version {self.version}: {self.metric} = {value} on data {self.digest or 'unknown'}"


@dataclass(frozen=True)
class Promotion:
    """The outcome of a promotion attempt: `previous` is the champion's version before it (None if none)."""

    name: str
    version: str
    promoted: bool
    previous: str | None
    reason: str


class PromotionRefused(UserInputError):
    """The candidate does not beat the champion (or is not comparable); the message gives both figures."""


def _evidence(client: MlflowClient, version: ModelVersion) -> Evidence:
    run = client.get_run(version.run_id)
    metric = run.data.tags.get(PRIMARY_METRIC_TAG, "macro_f1")
    return Evidence(str(version.version), metric, run.data.metrics.get(metric), run.data.tags.get(DATA_DIGEST_TAG))


def champion_version(client: MlflowClient, name: str) -> ModelVersion | None:
    """The version the `champion` alias points at; None when the name or the alias does not exist yet."""
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as err:
        # A missing name is RESOURCE_DOES_NOT_EXIST, a missing alias INVALID_PARAMETER_VALUE; anything else
        # (an unreachable or broken store) must not read as "no champion", which would promote blindly.
        if err.error_code in NO_CHAMPION_ERRORS:
            return None
        raise


def _candidate(client: MlflowClient, name: str, version: str | None) -> ModelVersion:
    versions = client.search_model_versions(f"name='{name}'")
    if not versions:
        raise UserInputError(f"no registered model named '{name}': train one first")
    if version is None:
        return max(versions, key=lambda found: int(found.version))
    for found in versions:
        if str(found.version) == str(version):
            return found
    known = ", ".join(str(number) for number in sorted(int(found.version) for found in versions))
    raise UserInputError(f"'{name}' has no version {version} (versions: {known})")


def judge(candidate: Evidence, champion: Evidence) -> tuple[bool, str]:
    """Whether the candidate may replace the champion, and why (with both figures)."""
    if candidate.metric != champion.metric:
        return False, f"not comparable: candidate ranks by {candidate.metric}, champion by {champion.metric}"
    if candidate.digest is None or candidate.digest != champion.digest:
        return False, (
            f"not comparable: evaluated on different data ({candidate.describe()}; champion {champion.describe()})"
        )
    if candidate.value is None or champion.value is None:
        return False, f"missing {candidate.metric} ({candidate.describe()}; champion {champion.describe()})"
    if candidate.value > champion.value:
        return True, f"{candidate.metric} {candidate.value:.4f} beats champion version {champion.version}'s {champion.value:.4f}"
    return False, (
        f"{candidate.metric} {candidate.value:.4f} does not beat champion version {champion.version}'s "
        f"{champion.value:.4f} (same data {champion.digest})"
    )


def promote(client: MlflowClient, name: str, version: str | None = None, force: bool = False) -> Promotion:
    """Move `champion` to the candidate (default: newest version) if it wins or `force`; else refuse.

    Raises PromotionRefused when the candidate loses; the first version of a name always wins.
    """
    candidate = _candidate(client, name, version)
    champion = champion_version(client, name)
    if champion is not None and str(champion.version) == str(candidate.version):
        return Promotion(name, str(candidate.version), False, str(champion.version), f"version {candidate.version} is already {CHAMPION}")
    if champion is None:
        reason = "first champion of this name"
    else:
        wins, verdict = judge(_evidence(client, candidate), _evidence(client, champion))
        if not wins and not force:
            raise PromotionRefused(f"refused to promote {name} version {candidate.version}: {verdict}")
        reason = verdict if wins else f"forced (--force) although {verdict}"
    previous = str(champion.version) if champion is not None else None
    _record(client, name, candidate, previous, reason)
    logger.info("%s version %s is now %s: %s", name, candidate.version, CHAMPION, reason)
    return Promotion(name, str(candidate.version), True, previous, reason)


def _record(client: MlflowClient, name: str, candidate: ModelVersion, previous: str | None, reason: str) -> None:
    """Write the promotion's tags and description, then move the alias: a failed write leaves the old champion."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for key, value in {"promoted_at": now, "promoted_from": previous or "none", "promotion_reason": reason}.items():
        client.set_model_version_tag(name, candidate.version, key, value)
    note = f"{now}: became {CHAMPION} (previous: {previous or 'none'}); {reason}"
    description = f"{candidate.description}\n{note}" if candidate.description else note
    client.update_model_version(name, candidate.version, description=description)
    client.set_registered_model_alias(name, CHAMPION, candidate.version)


def restore_champion(client: MlflowClient, name: str, version: str, previous: ModelVersion | None) -> None:
    """Give `champion` back to `previous` if it now points at `version` (about to be deleted with its aliases)."""
    current = champion_version(client, name)
    if previous is None or current is None or str(current.version) != str(version):
        return
    client.set_registered_model_alias(name, CHAMPION, previous.version)
    logger.warning("%s: %s is back on version %s", name, CHAMPION, previous.version)
