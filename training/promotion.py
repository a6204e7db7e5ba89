"""Champion/challenger: the registry alias `champion` moves only to a version that beats it.

Every move of `champion` made here happens under the name's promotion lock, which lives in the
registry itself, so concurrent promoters (threads, processes, hosts sharing a tracking server)
take turns instead of overwriting each other's decisions.
"""

from __future__ import annotations

import logging
import re
import shlex
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    ErrorCode,
)
from mlflow.tracking import MlflowClient

from classifiers.errors import UserInputError
from classifiers.lineage import (
    DATA_DIGEST_TAG,
    NO_PREVIOUS_CHAMPION,
    PRIMARY_METRIC_TAG,
    PROMOTED_FROM_TAG,
    UnfinishedVersion,
    check_finished,
)
from classifiers.store import CHAMPION, DEFAULT_REGISTERED_NAMES, LOCK_SUFFIX, store_names_said
from training import stop_requests
from training.config.schema import SPLIT_SETTINGS
from training.evaluation.logged_predictions import logged_predictions
from training.evaluation.metrics import group_bootstrap_interval

logger = logging.getLogger(__name__)


NO_CHAMPION_ERRORS = {ErrorCode.Name(RESOURCE_DOES_NOT_EXIST), ErrorCode.Name(INVALID_PARAMETER_VALUE)}
PROMOTED_AT_TAG = "promoted_at"
REFUSED_AT_TAG = "promotion_refused_at"
REPLACED_AT_TAG = "replaced_at"
REPLACED_BY_TAG = "replaced_by"
# The columns of two runs' out-of-fold predictions that must match row by row for a paired comparison.
PAIRED_ON = ("group", "label")
LOCK_OWNER_TAG = "owner"
LOCK_DESCRIPTION = "Held while `python -m training promote` (or training) moves the champion alias; removed after."
LOCK_POLL_S = 0.05
# MLflow's registry keeps a version's description in a column of 5,000 characters, which PostgreSQL enforces (SQLite
# does not): a version promoted and replaced often enough could no longer be promoted, its next note refused.
DESCRIPTION_MAX_CHARS = 5000
NOTES_LEFT_OUT = "older promotion notes left out: the registry keeps 5,000 characters of a description"
_NOTE_START = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00: ")
# A promotion is a handful of registry calls: a lock whose holder has not changed for this long was
# left by a killed promoter.
STALE_LOCK_S = 60.0
# The holder of a lock without an owner tag. A lock gets its tag in the call that creates it, but a reader may see
# the model a moment before its tag; one that stays without for this long was registered by someone else.
UNOWNED = ""
UNOWNED_GRACE_S = 5.0
# Creating the lock answers RESOURCE_DOES_NOT_EXIST too when the lock it collided with was released meanwhile.
LOCK_BUSY_ERRORS = {ErrorCode.Name(RESOURCE_ALREADY_EXISTS), ErrorCode.Name(RESOURCE_DOES_NOT_EXIST)}


@dataclass(frozen=True)
class Evidence:
    """What a version was scored on: the run's primary metric, the evaluation data digest, how the data was split to
    score it, and the labels the version answers."""

    version: str
    metric: str
    value: float | None
    digest: str | None
    evaluation: str | None = None
    labels: str | None = None

    def describe(self) -> str:
        """The figure and data a verdict quotes."""
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


@dataclass
class PromotionProgress:
    """How far a promotion of `name` got, kept as it goes: what a stopped `promote` says it left."""

    name: str
    candidate: str | None = None  # the version to promote, once chosen
    champion: str | None = None  # the version that held `champion` when read under the lock
    recorded: bool = False  # the candidate made champion: the writes that do so are all made (a stop waits for them)

    def describe(self) -> str:
        """What the registry holds of it, in a few words."""
        if self.recorded:
            replacing = f" (replacing version {self.champion})" if self.champion is not None else ""
            return f"{self.name} version {self.candidate} is now {CHAMPION}{replacing}"
        if self.candidate is None:
            return f"no version of {self.name} was made {CHAMPION}; the {CHAMPION} alias left as it was"
        if self.candidate == self.champion:
            return f"{self.name} version {self.candidate} was {CHAMPION} already and stays so"
        if self.champion is None:
            return f"{self.name} version {self.candidate} was not made {CHAMPION}; the {CHAMPION} alias left as it was"
        return f"{self.name} version {self.candidate} was not made {CHAMPION}; {CHAMPION} stays version {self.champion}"


class PromotionRefused(UserInputError):
    """The candidate does not beat the champion (or is not comparable); the message gives both figures."""


def evaluation_scheme(params: dict[str, str]) -> str | None:
    """How a run's rows were split to score it, from its logged config (`holdout (holdout_fraction 0.2, seed 1)`); None
    for a run that logged no config. Two runs scored alike on the same data were scored on the same rows."""
    cv = params.get("evaluation.cv")
    if cv is None:
        return None
    read = [f"evaluation.{name}" for name in SPLIT_SETTINGS.get(cv, ())]
    # Every scheme but leave-one-group-out draws its split with the config's seed.
    keys = [*read, "seed"] if cv in SPLIT_SETTINGS and cv != "leave_one_group_out" else read
    settings = ", ".join(f"{key.split('.')[-1]} {params.get(key)}" for key in keys)
    return f"{cv} ({settings})" if settings else cv


def _evidence(version: ModelVersion, run: Run) -> Evidence:
    metric = run.data.tags.get(PRIMARY_METRIC_TAG, "macro_f1")
    return Evidence(
        str(version.version),
        metric,
        run.data.metrics.get(metric),
        run.data.tags.get(DATA_DIGEST_TAG),
        evaluation_scheme(run.data.params),
        version.tags.get("labels"),
    )


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


def name_versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    """Every version of a registered model (none when the name does not exist)."""
    # The filter's quotes must not be the name's own (a name may hold an apostrophe).
    quote = '"' if "'" in name else "'"
    return list(client.search_model_versions(f"name={quote}{name}{quote}"))


def check_task(client: MlflowClient, name: str, task: str) -> None:
    """Refuse to train a `task` model into a name whose versions are of another task: the server loads a name's
    champion for one task and refuses a model of the other, so one such promotion takes that task offline."""
    _check_task(name, task, name_versions(client, name))


def _check_task(name: str, task: str, versions: list[ModelVersion], candidate: str | None = None) -> None:
    """`check_task` over the name's `versions`, the candidate's (a version of them) left out."""
    which = f"version {candidate} is" if candidate is not None else "this config trains"
    served = {served_name: served_task for served_task, served_name in DEFAULT_REGISTERED_NAMES.items()}
    if served.get(name, task) != task:
        raise UserInputError(
            f"'{name}' is the name the server loads its {served[name]} model from, and {which} a {task} model; "
            f"give it a name of its own (`registered_model=...`)"
        )
    others = [found for found in versions if str(found.version) != str(candidate)]
    foreign = [found for found in others if found.tags.get("task", task) != task]
    if foreign:
        held = foreign[0].tags["task"]
        numbers = ", ".join(str(number) for number in sorted(int(found.version) for found in foreign))
        raise UserInputError(
            f"'{name}' holds {held} models (versions {numbers}) and {which} a {task} model: a server loading this name "
            f"for one task refuses a model of the other; give it a name of its own (`registered_model=...`), or "
            f"delete those versions if they are the strays"
        )


def _candidate(versions: list[ModelVersion], name: str, version: str | None) -> ModelVersion:
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
    if candidate.labels != champion.labels:
        return False, (
            f"not comparable: it answers other labels ({candidate.labels or 'unknown'}; champion version "
            f"{champion.version}: {champion.labels or 'unknown'}), which the server's callers may not know; where the "
            "labels changed on purpose, `promote --force` makes it champion"
        )
    if candidate.digest is None or candidate.digest != champion.digest:
        return False, (
            f"not comparable: evaluated on different data ({candidate.describe()}; champion {champion.describe()}): "
            "other rows, labels or groups; where the data changed on purpose (rows added), `promote --force` makes it "
            "champion"
        )
    if candidate.evaluation != champion.evaluation:
        # Other folds or another seed's hold-out score other rows: a lucky split would win on the same data.
        return False, (
            f"not comparable: scored on other splits of the same data ({candidate.describe()} by "
            f"{candidate.evaluation or 'unknown'}; champion version {champion.version} by {champion.evaluation or 'unknown'}); "
            "train it with the champion's `evaluation` settings (and seed) to compare them"
        )
    if candidate.value is None or champion.value is None:
        return False, f"missing {candidate.metric} ({candidate.describe()}; champion {champion.describe()})"
    if candidate.value > champion.value:
        return True, f"{candidate.metric} {candidate.value:.4f} beats champion version {champion.version}'s {champion.value:.4f}"
    return False, (
        f"{candidate.metric} {candidate.value:.4f} does not beat champion version {champion.version}'s "
        f"{champion.value:.4f} (same data {champion.digest})"
    )


def promote(
    client: MlflowClient,
    name: str,
    version: str | None = None,
    force: bool = False,
    forced_by: str = "--force",
    progress: PromotionProgress | None = None,
) -> Promotion:
    """Move `champion` to the candidate (default: newest version) if it wins or `force`; else refuse.

    Only a version whose training run FINISHED and left its lineage tags is promoted, with `force` or
    without (classifiers.lineage.UnfinishedVersion names the run and what is wrong): `force` overrides
    the metric comparison only. Raises PromotionRefused when the candidate loses; the first version
    of a name always wins.

    Concurrent promotions of one name (threads, processes, or hosts sharing the store) are safe: each
    reads, judges and moves the champion while holding the name's promotion lock, so they take effect
    one after another and each judges against the champion the one before left. Whatever the
    interleaving, `champion` ends on the best of the starting champion and the candidates by the
    primary metric on the same data; a forced promotion holds only until a later one beats it.

    `progress`, where given, is kept up to date as it goes.
    """
    progress = progress or PromotionProgress(name)
    versions = name_versions(client, name)
    if not versions:
        raise UserInputError(
            f"no registered model named '{name}' ({store_names_said(client)}): train one first, or give one of those"
        )
    candidate = _candidate(versions, name, version)
    progress.candidate = str(candidate.version)
    candidate_run = check_finished(client, candidate)
    _check_task(name, candidate.tags.get("task", ""), versions, str(candidate.version))
    with promotion_lock(client, name):
        champion = champion_version(client, name)
        progress.champion = str(champion.version) if champion is not None else None
        if champion is not None and str(champion.version) == str(candidate.version):
            return Promotion(name, str(candidate.version), False, str(champion.version), f"version {candidate.version} is already {CHAMPION}")
        # With the alias removed by hand, the version that held it last is the one to beat.
        last = _last_champion(client, name) if champion is None else None
        restored = last is not None and str(last.version) == str(candidate.version)
        judged_against = champion or (None if restored else last)
        if restored:
            reason = f"no version holds the {CHAMPION} alias (it was removed); version {candidate.version} was the last to hold it"
        elif judged_against is None:
            reason = "first champion of this name"
        else:
            wins, verdict = _judge_against(client, candidate, candidate_run, judged_against)
            if champion is None:
                verdict = (
                    f"no version holds the {CHAMPION} alias (it was removed); judged against version "
                    f"{judged_against.version}, the last to hold it: {verdict}"
                )
            if not wins and not force:
                raise PromotionRefused(f"refused to promote {name} version {candidate.version}: {verdict}")
            reason = verdict if wins else f"forced ({forced_by}) although {verdict}"
        previous = str(champion.version) if champion is not None else None
        # Held like other writes that go together: a stop between two of them left the version tagged as promoted
        # without the alias, which nothing undoes after `promote` (a training undoes the whole version).
        with stop_requests.held():
            _record(client, name, candidate, previous, reason)
            progress.recorded = True
    logger.info("%s version %s is now %s: %s", name, candidate.version, CHAMPION, reason)
    return Promotion(name, str(candidate.version), True, previous, reason)


def _last_champion(client: MlflowClient, name: str) -> ModelVersion | None:
    """The version that was made champion last (its `promoted_at` tag), if any was; read under the lock, since a
    promotion that held it before may have tagged a version meanwhile."""
    versions = name_versions(client, name)
    former = [found for found in versions if PROMOTED_AT_TAG in found.tags]
    return max(former, key=lambda found: (found.tags[PROMOTED_AT_TAG], int(found.version)), default=None)


def _judge_against(client: MlflowClient, candidate: ModelVersion, candidate_run: Run, champion: ModelVersion) -> tuple[bool, str]:
    # A champion alias can be set by hand on a version registered without a run: nothing to compare with.
    if champion.run_id is None:
        return False, f"not comparable: champion version {champion.version} was registered without a training run"
    # Or by hand from a run's model (MLflow fills in the run), or its run failed or is gone: its figures vouch for
    # nothing, and judging them would blame the candidate's labels or data instead.
    try:
        champion_run = check_finished(client, champion)
    except UnfinishedVersion as err:
        return False, f"not comparable: champion {err}; `promote --force` makes the candidate champion"
    candidate_evidence = _evidence(candidate, candidate_run)
    champion_evidence = _evidence(champion, champion_run)
    wins, verdict = judge(candidate_evidence, champion_evidence)
    scored_alike = (candidate_evidence.digest, candidate_evidence.evaluation, candidate_evidence.labels) == (
        champion_evidence.digest, champion_evidence.evaluation, champion_evidence.labels
    )
    if candidate_evidence.metric == "macro_f1" and scored_alike:
        verdict += _paired_difference(client, candidate_run.info.run_id, champion.run_id)
    return wins, verdict


def _paired_difference(client: MlflowClient, candidate_run_id: str, champion_run_id: str) -> str:
    """How sure the comparison is: the paired bootstrap interval of the macro-F1 difference over the evaluation's
    groups (articles), from both runs' out-of-fold predictions; empty where a run has none or they are not of the
    same rows. It informs the verdict, which stays on the point estimates."""
    try:
        candidate, champion = (logged_predictions(client, run_id) for run_id in (candidate_run_id, champion_run_id))
    except (MlflowException, OSError, ValueError, KeyError) as err:
        logger.info("no paired comparison: the out-of-fold predictions could not be read (%s)", err)
        return ""
    same_rows = len(candidate) == len(champion) and all(
        candidate[column].tolist() == champion[column].tolist() for column in PAIRED_ON
    )
    if not same_rows:
        return ""
    gold = candidate["label"].to_numpy()
    labels = sorted({*gold, *candidate["predicted"], *champion["predicted"]})
    interval = group_bootstrap_interval(
        gold, candidate["predicted"].to_numpy(), candidate["group"].to_numpy(), labels, seed=0,
        baseline=champion["predicted"].to_numpy(),
    )
    if interval is None:
        return ""
    low, high = interval
    groups = candidate["group"].nunique()
    noise = "; within the noise, as the interval holds 0" if low <= 0 <= high else ""
    return f" (paired over its {groups} evaluation groups, the difference's 95% interval is {low:+.4f} to {high:+.4f}{noise})"


@contextmanager
def promotion_lock(client: MlflowClient, name: str) -> Iterator[None]:
    """Hold `name`'s promotion lock: the registered model `<name>.promotion-lock`, which one holder at a time creates.

    The registry refuses a second registered model of a name in both backends used (SQLite, and an
    `mlflow server` on PostgreSQL), so this excludes promoters on every host sharing the store, which a
    file lock would not. A lock whose holder stays the same for STALE_LOCK_S is broken.
    """
    lock, owner = f"{name}{LOCK_SUFFIX}", uuid.uuid4().hex
    waiting_on: str | None = None
    since = time.monotonic()
    while True:
        try:
            client.create_registered_model(lock, tags={LOCK_OWNER_TAG: owner}, description=LOCK_DESCRIPTION)
            break
        except MlflowException as err:
            if err.error_code not in LOCK_BUSY_ERRORS:
                raise
        holder = _lock_owner(client, lock)
        if holder != waiting_on:
            waiting_on, since = holder, time.monotonic()
        elif holder == UNOWNED and time.monotonic() - since > UNOWNED_GRACE_S:
            # Never released, and not to be broken: it is someone's model, not a lock.
            raise UserInputError(
                f"the registered model '{lock}' is in the way of promotions: they use that name for their lock, and "
                f"it is not one (no '{LOCK_OWNER_TAG}' tag); rename or delete it"
            )
        elif holder and time.monotonic() - since > STALE_LOCK_S:
            logger.warning("%s: breaking the promotion lock of %s, unchanged for %.0f s", name, holder, STALE_LOCK_S)
            _release(client, lock, holder)
            continue
        time.sleep(LOCK_POLL_S)
    try:
        yield
    finally:
        # Held too: a stop between its read and its removal left the lock, and the next promotion (a stopped training's
        # undoing among them) waited STALE_LOCK_S to break it.
        with stop_requests.held():
            _release(client, lock, owner)


def _lock_owner(client: MlflowClient, lock: str) -> str | None:
    """Who holds the lock now; None when nobody does, UNOWNED when a model of its name has no owner tag."""
    try:
        return client.get_registered_model(lock).tags.get(LOCK_OWNER_TAG, UNOWNED)
    except MlflowException as err:
        if err.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise


def _release(client: MlflowClient, lock: str, owner: str) -> None:
    """Remove the lock if `owner` still holds it: it may have been broken as stale and taken by another."""
    if _lock_owner(client, lock) != owner:
        return
    try:
        client.delete_registered_model(lock)
    except MlflowException as err:
        if err.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise


def _record(client: MlflowClient, name: str, candidate: ModelVersion, previous: str | None, reason: str) -> None:
    """Write the promotion's tags and description, then move the alias: a failed write leaves the old champion. What
    the replaced version is told afterwards is a note: its failure does not undo a promotion that took effect."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    tags = {PROMOTED_AT_TAG: now, PROMOTED_FROM_TAG: previous or NO_PREVIOUS_CHAMPION, "promotion_reason": reason}
    for key, value in tags.items():
        client.set_model_version_tag(name, candidate.version, key, value)
    _clear_replaced(client, name, str(candidate.version))
    _add_to_description(client, name, candidate.version, f"{now}: became {CHAMPION} (previous: {previous or 'none'}); {reason}")
    client.set_registered_model_alias(name, CHAMPION, candidate.version)
    if previous is None:
        return
    # Its promotion tags tell how it became champion once; these, that it no longer is.
    try:
        for key, value in {REPLACED_AT_TAG: now, REPLACED_BY_TAG: str(candidate.version)}.items():
            client.set_model_version_tag(name, previous, key, value)
        _add_to_description(client, name, previous, f"{now}: no longer {CHAMPION}: replaced by version {candidate.version}")
    except MlflowException as err:  # deleted meanwhile (deletion takes no lock), or the store failed
        logger.warning("%s version %s is champion; version %s could not be told it was replaced: %s", name, candidate.version, previous, err)


def _clear_replaced(client: MlflowClient, name: str, version: str) -> None:
    """Take the replaced_* tags off a version that is champion again (its description keeps the history). Read now,
    under the lock: a promotion that replaced it may have written them after the caller read the version."""
    tags = client.get_model_version(name, version).tags
    for key in (REPLACED_AT_TAG, REPLACED_BY_TAG):
        if key in tags:
            client.delete_model_version_tag(name, version, key)


def _add_to_description(client: MlflowClient, name: str, version: str, note: str) -> None:
    """Append a line to the version's description: its promotion history, oldest first."""
    # Read now, not from a copy taken before the lock: another writer may have added a line meanwhile.
    current = client.get_model_version(name, version).description
    client.update_model_version(name, version, description=with_note(current, note))


def with_note(description: str | None, note: str) -> str:
    """The description with the note as its last line. Past DESCRIPTION_MAX_CHARS the oldest promotion notes give way
    to one line saying so; other lines (a reviewer's) stay."""
    lines = [*(description.splitlines() if description else []), note]
    older_notes = [index for index, line in enumerate(lines[:-1]) if _NOTE_START.match(line)]
    left_out = f"({NOTES_LEFT_OUT})"
    for count in range(len(older_notes) + 1):
        gone = set(older_notes[:count])
        kept: list[str] = []
        for index, line in enumerate(lines):
            if index not in gone:
                kept.append(line)
            elif index == older_notes[0] and left_out not in lines:
                kept.append(left_out)
        text = "\n".join(kept)
        if len(text) <= DESCRIPTION_MAX_CHARS:
            return text
    # Other lines longer than the column on their own: the newest characters, the note among them.
    return text[-DESCRIPTION_MAX_CHARS:]


def record_refusal(client: MlflowClient, name: str, version: str, refusal: PromotionRefused) -> None:
    """Say in the version's description why it was not made champion: the registry, not only the console that
    trained it, tells a version that lost from one never tried."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    _add_to_description(client, name, version, f"{now}: not made {CHAMPION}: {refusal}")
    client.set_model_version_tag(name, version, REFUSED_AT_TAG, now)


def was_tried(version: ModelVersion) -> bool:
    """Whether the version was ever judged for champion: made one, or refused."""
    return PROMOTED_AT_TAG in version.tags or REFUSED_AT_TAG in version.tags


def record_not_tried(client: MlflowClient, name: str, version: str, why: str = "its config says `promote: never`") -> None:
    """Say in the version's description that its config kept it from being made champion (`why`), and how to make it
    one."""
    note = (
        f"{datetime.now(UTC).isoformat(timespec='seconds')}: not made {CHAMPION}: {why} "
        f"(python -m training promote --name {shlex.quote(name)} --version {version} makes it {CHAMPION})"
    )
    _add_to_description(client, name, version, note)


def restore_champion(client: MlflowClient, name: str, version: str, previous: ModelVersion | None) -> None:
    """Give `champion` back to `previous` if it now points at `version` (about to be deleted with its aliases)."""
    if previous is None:
        return
    with promotion_lock(client, name):
        current = champion_version(client, name)
        if current is None or str(current.version) != str(version):
            return
        client.set_registered_model_alias(name, CHAMPION, previous.version)
        _clear_replaced(client, name, str(previous.version))
        now = datetime.now(UTC).isoformat(timespec="seconds")
        _add_to_description(client, name, previous.version, f"{now}: {CHAMPION} again: version {version} was removed, its training failed")
    logger.warning("%s: %s is back on version %s", name, CHAMPION, previous.version)
