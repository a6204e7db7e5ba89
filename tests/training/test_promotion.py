import json
import re
import signal
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import mlflow
import pytest
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from classifiers.errors import UserInputError
from classifiers.lineage import UnfinishedVersion
from classifiers.store import CHAMPION, LOCK_SUFFIX
from training import locations, promotion
from training.cli import app
from training.config.resolve import load_config
from training.promotion import (
    LOCK_OWNER_TAG,
    PROMOTED_AT_TAG,
    Promotion,
    PromotionRefused,
    champion_version,
    promote,
)
from training.trainer import train

CONFIG = locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml"
TOPIC = "news-topic"
def champion_number(client: MlflowClient, name: str) -> str:
    """The version number the name's champion alias points at, which must exist."""
    champion = champion_version(client, name)
    assert champion is not None
    return str(champion.version)


LINEAGE = {"task": "topic", "model_family": "tfidf", "primary_metric": "macro_f1", "labels": "conflict,diplomacy"}


def scored_version(
    client: MlflowClient,
    macro_f1: float,
    finished: bool = True,
    lineage: bool = True,
    name: str = TOPIC,
    **lineage_tags: str,
) -> str:
    """A version of `name` from a real run that scored `macro_f1` on the same data as every other one.

    Without `finished` its run stays RUNNING (the process was killed); without `lineage` it has no lineage tags;
    `lineage_tags` replace those of LINEAGE.
    """
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)
    run = client.create_run(experiment_id="0")
    run_id = run.info.run_id
    client.log_metric(run_id, "macro_f1", macro_f1)
    client.set_tag(run_id, "primary_metric", "macro_f1")
    if lineage:
        client.set_tag(run_id, "data_digest", "same-data")
    tags = {**LINEAGE, **lineage_tags, "primary_metric_value": f"{macro_f1:.6f}"} if lineage else {}
    version = client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run_id, tags=tags)
    if finished:
        client.set_terminated(run_id)
    return str(version.version)


@pytest.fixture
def two_versions(store_uri: str) -> tuple[float, float]:
    """v1 (champion) and a worse v2 (C tiny, promote: never) on the same data."""
    first = train(load_config(CONFIG))
    second = train(load_config(CONFIG, ["model.C=0.0001", "promote=never"]))
    assert second.primary_value < first.primary_value
    return first.primary_value, second.primary_value


def test_first_version_becomes_champion(store_uri: str) -> None:
    train(load_config(CONFIG))  # promote: auto
    champion = champion_version(MlflowClient(), "news-topic")
    assert champion is not None and str(champion.version) == "1"
    assert champion.tags["promoted_from"] == "none"


def test_promote_never_leaves_even_a_first_version_to_a_promotion_by_hand(store_uri: str) -> None:
    # A config that says never (the stance configs besides the default) must not take the champion on an empty store:
    # train-defaults would then keep it rather than train the default.
    result = train(load_config(CONFIG, ["promote=never"]))
    assert result.promotion is None
    assert champion_version(MlflowClient(), "news-topic") is None
    promote(MlflowClient(), "news-topic", version=result.version)
    assert champion_number(MlflowClient(), "news-topic") == "1"


def test_no_champion_when_the_name_or_the_alias_is_missing(store_uri: str) -> None:
    client = MlflowClient()
    assert champion_version(client, "news-topic") is None  # no such registered model
    client.create_registered_model("news-topic")
    assert champion_version(client, "news-topic") is None  # the model exists, the alias does not


def test_other_registry_errors_are_not_read_as_no_champion() -> None:
    class Unavailable(MlflowClient):
        def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
            raise MlflowException("registry is down", error_code=TEMPORARILY_UNAVAILABLE)

    with pytest.raises(MlflowException, match="registry is down"):
        champion_version(Unavailable(), "news-topic")


def test_refused_auto_promotion_names_the_champion_it_lost_to(store_uri: str) -> None:
    train(load_config(CONFIG))
    worse = train(load_config(CONFIG, ["model.C=0.0001"]))  # promote: auto
    assert worse.promotion is not None and not worse.promotion.promoted
    assert worse.promotion.previous == "1"
    assert "does not beat champion version 1" in worse.promotion.reason
    # The registry says it too, and names the run that made the version.
    version = MlflowClient().get_model_version(TOPIC, worse.version)
    assert version.description is not None
    assert "not made champion: refused to promote news-topic version 2: macro_f1" in version.description
    assert "does not beat champion version 1" in version.description
    assert version.tags["run_name"] == "topic-tfidf-seeds"


def test_refusal_gives_both_figures_and_keeps_the_champion(two_versions: tuple[float, float]) -> None:
    champion_value, candidate_value = two_versions
    client = MlflowClient()
    with pytest.raises(PromotionRefused) as refused:
        promote(client, "news-topic")
    assert f"{candidate_value:.4f}" in str(refused.value) and f"{champion_value:.4f}" in str(refused.value)
    assert champion_number(client, "news-topic") == "1"


PAIRED = re.compile(r"paired over its 8 evaluation groups, the difference's 95% interval is ([-+][0-9.]+) to ([-+][0-9.]+)")


def test_a_verdict_says_how_sure_it_is_from_both_runs_out_of_fold_predictions(two_versions: tuple[float, float]) -> None:
    champion_value, candidate_value = two_versions
    with pytest.raises(PromotionRefused) as refused:
        promote(MlflowClient(), "news-topic")
    interval = PAIRED.search(str(refused.value))
    assert interval is not None, str(refused.value)
    low, high = (float(bound) for bound in interval.groups())
    assert low <= candidate_value - champion_value <= high
    assert ("within the noise" in str(refused.value)) == (low <= 0 <= high)


def test_a_retrained_twin_loses_within_the_noise(store_uri: str) -> None:
    train(load_config(CONFIG))
    twin = train(load_config(CONFIG))  # the same config and seed: the same predictions on every row
    assert twin.promotion is not None and not twin.promotion.promoted
    assert "interval is +0.0000 to +0.0000; within the noise, as the interval holds 0" in twin.promotion.reason


def test_without_out_of_fold_predictions_the_verdict_is_the_point_estimates(store_uri: str) -> None:
    client = MlflowClient()
    scored_version(client, 0.5)
    promote(client, TOPIC, version="1")
    scored_version(client, 0.6)  # runs logged by hand: no evaluation/predictions.json
    assert promote(client, TOPIC).reason == "macro_f1 0.6000 beats champion version 1's 0.5000"


def test_force_promotes_and_records_why(two_versions: tuple[float, float]) -> None:
    client = MlflowClient()
    result = promote(client, "news-topic", version="2", force=True)
    assert (result.promoted, result.version, result.previous) == (True, "2", "1")
    version = client.get_model_version("news-topic", "2")
    assert version.aliases == ["champion"]
    assert version.tags["promoted_from"] == "1"
    assert version.tags["promotion_reason"].startswith("forced (--force)")
    assert version.description is not None and "became champion" in version.description
    assert version.tags["promoted_at"]
    # The version it replaced says it is no longer champion, and since when.
    replaced = client.get_model_version("news-topic", "1")
    assert replaced.aliases == []
    assert (replaced.tags["replaced_by"], replaced.tags["replaced_at"]) == ("2", version.tags["promoted_at"])
    assert replaced.description is not None
    assert replaced.description.endswith(f"{version.tags['promoted_at']}: no longer champion: replaced by version 2")
    assert "replaced_by" not in version.tags

    # Champion again, it no longer says it was replaced; the one it replaces does.
    promote(client, "news-topic", version="1", force=True)
    assert "replaced_by" not in client.get_model_version("news-topic", "1").tags
    assert client.get_model_version("news-topic", "2").tags["replaced_by"] == "1"


def test_a_replaced_version_that_cannot_be_told_so_does_not_fail_the_promotion(
    two_versions: tuple[float, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = MlflowClient()
    set_tag = MlflowClient.set_model_version_tag

    def gone_meanwhile(self: MlflowClient, name: str, version: str, key: str, value: str) -> None:
        if key == "replaced_at":  # version 1 deleted from the UI while version 2 was promoted (deletion takes no lock)
            raise MlflowException("Model Version (name=news-topic, version=1) not found")
        set_tag(self, name, version, key, value)

    monkeypatch.setattr(MlflowClient, "set_model_version_tag", gone_meanwhile)
    result = promote(client, "news-topic", version="2", force=True)
    assert result.promoted
    assert champion_number(client, "news-topic") == "2"


def test_better_candidate_is_promoted_automatically(store_uri: str) -> None:
    worse = train(load_config(CONFIG, ["model.C=0.0001"]))
    better = train(load_config(CONFIG))
    assert better.promotion is not None and better.promotion.promoted
    assert better.promotion.previous == worse.version
    assert champion_number(MlflowClient(), "news-topic") == better.version


def test_different_evaluation_data_is_not_comparable(store_uri: str, tmp_path) -> None:
    train(load_config(CONFIG))
    rows = "".join(
        f'{{"text": "story {i} about {w}", "label": "{l}", "g": "{i % 3}"}}\n'
        for i, (w, l) in enumerate([("war", "conflict"), ("talks", "diplomacy")] * 6)
    )
    data = tmp_path / "other.jsonl"
    data.write_text(rows, encoding="utf-8")
    overrides = ["data.source=jsonl", f"data.path={data}", "data.group_column=g", "promote=never", "registered_model=news-topic"]
    train(load_config(CONFIG, overrides))
    # Its two labels are not the seeds' five: that is said first, as what the server's callers would notice.
    with pytest.raises(PromotionRefused, match="answers other labels \\(conflict,diplomacy; champion version 1: conflict,diplomacy,domestic_politics"):
        promote(MlflowClient(), "news-topic", version="2")


def test_large_evaluation_data_that_differs_only_past_row_ten_thousand_is_not_comparable(store_uri: str, tmp_path) -> None:
    # MLflow's own dataset digest reads the first 10,000 rows and the row count only.
    pairs = [("war", "conflict"), ("talks", "diplomacy")] * 5_100
    rows = [{"text": f"story {i} about {word}", "label": label, "g": str(i % 4)} for i, (word, label) in enumerate(pairs)]
    overrides = ["data.source=jsonl", "data.group_column=g", "evaluation.cv=holdout", "registered_model=news-topic"]
    for name, changed, when in (("first.jsonl", None, "auto"), ("second.jsonl", 10_150, "never")):
        if changed is not None:
            rows[changed] = {**rows[changed], "label": "diplomacy" if rows[changed]["label"] == "conflict" else "conflict"}
        data = tmp_path / name
        data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        train(load_config(CONFIG, [*overrides, f"data.path={data}", f"promote={when}"]))
    with pytest.raises(PromotionRefused, match="evaluated on different data"):
        promote(MlflowClient(), "news-topic", version="2")


def test_unknown_name_or_version_is_a_clear_error(store_uri: str) -> None:
    with pytest.raises(UserInputError, match=r"no registered model named 'nope' \(this store has no registered model\)"):
        promote(MlflowClient(), "nope")
    train(load_config(CONFIG))
    with pytest.raises(UserInputError, match=r"has no version 7 \(versions: 1\)"):
        promote(MlflowClient(), "news-topic", version="7")
    # A misspelt name is told the names there are.
    with pytest.raises(UserInputError, match=r"no registered model named 'news-topics' \(this store has news-topic\): train"):
        promote(MlflowClient(), "news-topics")


def test_cli_promote_refuses_with_exit_code_and_force_works(two_versions: tuple[float, float]) -> None:
    runner = CliRunner()
    refused = runner.invoke(app, ["promote", "--name", "news-topic"])
    assert refused.exit_code == 1
    assert "does not beat champion version 1" in refused.output
    forced = runner.invoke(app, ["promote", "--name", "news-topic", "--force"])
    assert forced.exit_code == 0, forced.output
    assert str(mlflow.MlflowClient().get_model_version_by_alias("news-topic", "champion").version) == "2"


def test_concurrent_promotions_always_leave_the_better_version_champion(store_uri: str) -> None:
    client = MlflowClient()
    baseline, worse, better = (scored_version(client, value) for value in (0.50, 0.60, 0.70))

    def attempt(version: str, start: threading.Barrier) -> Promotion | PromotionRefused:
        start.wait()
        try:
            return promote(MlflowClient(), TOPIC, version)
        except PromotionRefused as refusal:
            return refusal

    for round_number in range(20):
        client.set_registered_model_alias(TOPIC, CHAMPION, baseline)
        start = threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(attempt, [worse, better], [start, start]))
        champion = champion_number(client, TOPIC)
        assert champion == better, f"round {round_number}: version {champion} is champion; outcomes {outcomes}"
    assert [model.name for model in client.search_registered_models()] == [TOPIC]  # no lock left behind


def test_a_lock_left_by_a_killed_promoter_is_broken(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = MlflowClient()
    version = scored_version(client, 0.6)
    client.create_registered_model(f"{TOPIC}{LOCK_SUFFIX}", tags={LOCK_OWNER_TAG: "killed-promoter"})
    monkeypatch.setattr(promotion, "STALE_LOCK_S", 0.3)
    assert promote(client, TOPIC, version).promoted
    assert [model.name for model in client.search_registered_models()] == [TOPIC]


def test_a_model_registered_under_the_lock_name_is_named_rather_than_waited_on_forever(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = MlflowClient()
    version = scored_version(client, 0.6)
    # Registered by someone else (the UI, an older training): no owner, so never released, and not ours to break.
    client.create_registered_model(f"{TOPIC}{LOCK_SUFFIX}")
    monkeypatch.setattr(promotion, "UNOWNED_GRACE_S", 0.3)
    with pytest.raises(UserInputError, match=rf"the registered model '{TOPIC}\.promotion-lock' is in the way of promotions.*rename or delete it"):
        promote(client, TOPIC, version)
    assert champion_version(client, TOPIC) is None
    assert {model.name for model in client.search_registered_models()} == {TOPIC, f"{TOPIC}{LOCK_SUFFIX}"}


def test_a_version_whose_run_is_still_running_is_refused_even_with_force(store_uri: str) -> None:
    client = MlflowClient()
    champion = scored_version(client, 0.5)
    promote(client, TOPIC, champion)
    killed = scored_version(client, 0.9, finished=False, lineage=False)
    run_id = client.get_model_version(TOPIC, killed).run_id
    for force in (False, True):
        with pytest.raises(UnfinishedVersion, match=rf"version {killed}: run {run_id} is RUNNING, not FINISHED"):
            promote(client, TOPIC, killed, force=force)
    assert champion_number(client, TOPIC) == champion
    forced = CliRunner().invoke(app, ["promote", "--name", TOPIC, "--force"])
    assert forced.exit_code == 1
    assert f"run {run_id} is RUNNING, not FINISHED: its training did not finish" in forced.output


def test_a_version_without_lineage_tags_or_without_a_run_is_refused(store_uri: str) -> None:
    client = MlflowClient()
    untagged = scored_version(client, 0.9, lineage=False)
    run_id = client.get_model_version(TOPIC, untagged).run_id
    with pytest.raises(
        UnfinishedVersion, match=rf"version \d+ \(run {run_id}\) has no lineage tags \(task, .*run tag data_digest missing\)"
    ):
        promote(client, TOPIC, untagged, force=True)
    runless = str(client.create_model_version(TOPIC, "/nowhere/model").version)
    with pytest.raises(UnfinishedVersion, match=f"version {runless} has no run"):
        promote(client, TOPIC, runless, force=True)
    assert champion_version(client, TOPIC) is None


def test_a_champion_set_by_hand_on_a_version_without_a_run_is_not_comparable(store_uri: str) -> None:
    client = MlflowClient()
    scored_version(client, 0.5)
    runless = str(client.create_model_version(TOPIC, "/nowhere/model").version)
    client.set_registered_model_alias(TOPIC, CHAMPION, runless)
    candidate = scored_version(client, 0.9)

    with pytest.raises(PromotionRefused, match=f"champion version {runless} was registered without a training run"):
        promote(client, TOPIC, candidate)
    forced = promote(client, TOPIC, candidate, force=True)
    assert forced.promoted and forced.previous == runless


def test_a_champion_set_by_hand_on_a_version_without_lineage_names_that_not_the_labels(store_uri: str) -> None:
    # Registered by hand from a run's model (MLflow fills in the run): the refusal must say what is wrong with the
    # champion, not that the candidate "answers other labels".
    client = MlflowClient()
    untagged = scored_version(client, 0.5, lineage=False)
    client.set_registered_model_alias(TOPIC, CHAMPION, untagged)
    candidate = scored_version(client, 0.9)

    with pytest.raises(PromotionRefused) as refused:
        promote(client, TOPIC, candidate)
    assert f"champion {TOPIC} version {untagged}" in str(refused.value)
    assert "has no lineage tags" in str(refused.value) and "other labels" not in str(refused.value)
    assert "`promote --force`" in str(refused.value)
    forced = promote(client, TOPIC, candidate, force=True)
    assert forced.promoted and forced.previous == untagged


def test_a_name_with_an_apostrophe_is_promoted(store_uri: str) -> None:
    client = MlflowClient()
    name = "reuters' topics"
    first = scored_version(client, 0.5, name=name)
    better = scored_version(client, 0.7, name=name)

    assert promote(client, name, first).promoted
    assert promote(client, name).version == better  # the newest version by default
    assert champion_number(client, name) == better


def test_a_line_written_into_the_description_during_a_promotion_is_kept(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = MlflowClient()
    candidate = scored_version(client, 0.5)
    real_check = promotion.check_finished

    def check_while_another_writer_notes(client: MlflowClient, version: ModelVersion):  # noqa: ANN202
        # Between reading the candidate and recording the promotion, someone else notes a line.
        client.update_model_version(TOPIC, version.version, description="reviewed by the desk")
        return real_check(client, version)

    monkeypatch.setattr(promotion, "check_finished", check_while_another_writer_notes)
    promote(client, TOPIC, candidate)

    description = client.get_model_version(TOPIC, candidate).description
    assert description is not None
    lines = description.splitlines()
    assert lines[0] == "reviewed by the desk"
    assert "became champion" in lines[1]


def test_a_model_of_the_other_task_is_refused_under_a_name_even_with_force(store_uri: str) -> None:
    client = MlflowClient()
    stance = scored_version(client, 0.5, name="our-stance", task="stance", labels="against,favor,none")
    promote(client, "our-stance")
    topic = scored_version(client, 0.9, name="our-stance")
    with pytest.raises(UserInputError, match=f"'our-stance' holds stance models \\(versions {stance}\\) and version {topic} is a topic model"):
        promote(client, "our-stance", version=topic, force=True)
    assert champion_number(client, "our-stance") == stance


def test_the_service_s_names_take_their_own_task_only_even_when_empty(store_uri: str) -> None:
    # On an empty store a topic model under news-stance would become its champion, and train-defaults then be refused.
    runs_before = len(mlflow.search_runs(search_all_experiments=True))
    with pytest.raises(UserInputError, match="'news-stance' is the name the server loads its stance model from, and this config trains a topic model"):
        train(load_config(CONFIG, ["registered_model=news-stance"]))
    assert len(mlflow.search_runs(search_all_experiments=True)) == runs_before
    topic = scored_version(MlflowClient(), 0.9, name="news-stance")  # registered by hand
    with pytest.raises(UserInputError, match=f"the name the server loads its stance model from, and version {topic} is a topic model"):
        promote(MlflowClient(), "news-stance", version=topic, force=True)


def test_training_under_a_name_of_the_other_task_is_refused_before_any_run(store_uri: str) -> None:
    client = MlflowClient()
    scored_version(client, 0.5, name="our-stance", task="stance", labels="against,favor,none")
    runs_before = len(mlflow.search_runs(search_all_experiments=True))
    with pytest.raises(UserInputError, match="'our-stance' holds stance models .* this config trains a topic model.*delete those versions"):
        train(load_config(CONFIG, ["registered_model=our-stance"]))
    assert len(mlflow.search_runs(search_all_experiments=True)) == runs_before
    assert len(client.search_model_versions("name='our-stance'")) == 1


def test_a_version_answering_other_labels_is_not_comparable_unless_forced(store_uri: str) -> None:
    client = MlflowClient()
    scored_version(client, 0.5)
    promote(client, TOPIC)
    other = scored_version(client, 0.9, labels="business,politics,sport")
    with pytest.raises(PromotionRefused, match="answers other labels \\(business,politics,sport; champion version 1: conflict,diplomacy\\)"):
        promote(client, TOPIC, version=other)
    assert promote(client, TOPIC, version=other, force=True).promoted


def test_a_version_scored_on_another_seed_s_hold_out_is_not_comparable(store_uri: str) -> None:
    holdout = ["evaluation.cv=holdout", "evaluation.holdout_fraction=0.3"]
    first = train(load_config(CONFIG, [*holdout, "seed=1"]))
    second = train(load_config(CONFIG, [*holdout, "seed=2", "promote=never"]))
    logged = MlflowClient().get_run(first.run_id).data.params
    assert logged["evaluation.holdout_fraction"] == "0.3" and "evaluation.n_splits" not in logged  # only what it reads
    scheme = "holdout \\(holdout_fraction 0.3, seed {}\\)"
    with pytest.raises(PromotionRefused, match=f"other splits of the same data .* by {scheme.format(2)}; champion version {first.version} by {scheme.format(1)}"):
        promote(MlflowClient(), TOPIC, version=second.version)
    # Scored alike, a retrained twin is compared as before.
    third = train(load_config(CONFIG, [*holdout, "seed=1", "promote=never"]))
    with pytest.raises(PromotionRefused, match="does not beat champion"):
        promote(MlflowClient(), TOPIC, version=third.version)


def test_with_the_alias_removed_a_candidate_is_judged_against_the_last_champion(store_uri: str) -> None:
    client = MlflowClient()
    scored_version(client, 0.9)
    promote(client, TOPIC)
    client.delete_registered_model_alias(TOPIC, CHAMPION)
    worse = scored_version(client, 0.1)
    with pytest.raises(PromotionRefused, match="no version holds the champion alias \\(it was removed\\); judged against version 1, the last to hold it: macro_f1 0.1000 does not beat"):
        promote(client, TOPIC, version=worse)
    better = scored_version(client, 0.95)
    promotion = promote(client, TOPIC, version=better)
    assert promotion.promoted and promotion.previous is None
    assert "judged against version 1, the last to hold it: macro_f1 0.9500 beats" in promotion.reason


def test_with_the_alias_removed_the_last_champion_is_restored_as_such(store_uri: str) -> None:
    # What /ready advises then (`promote --version N` with the version that held it): recorded as a first champion,
    # the restore said nothing of what happened.
    client = MlflowClient()
    first = scored_version(client, 0.9)
    promote(client, TOPIC)
    client.delete_registered_model_alias(TOPIC, CHAMPION)
    promotion = promote(client, TOPIC, version=first)
    assert promotion.promoted and promotion.previous is None
    assert promotion.reason == f"no version holds the champion alias (it was removed); version {first} was the last to hold it"
    assert str(client.get_model_version_by_alias(TOPIC, CHAMPION).version) == first


@pytest.mark.usefixtures("ctrl_c_raises")
@pytest.mark.parametrize("where", ["record", "lock-release"])
def test_ctrl_c_during_a_promotion_s_writes_takes_effect_once_they_are_whole(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    client = MlflowClient()
    first = scored_version(client, 0.6)
    promote(client, TOPIC)
    second = scored_version(client, 0.7)
    if where == "record":
        set_tag = MlflowClient.set_model_version_tag

        def pressed_after_the_first_tag(self: MlflowClient, name: str, version: str, key: str, value: str) -> None:
            set_tag(self, name, version, key, value)
            if key == PROMOTED_AT_TAG:
                signal.raise_signal(signal.SIGINT)

        monkeypatch.setattr(MlflowClient, "set_model_version_tag", pressed_after_the_first_tag)
    else:
        get_registered_model = MlflowClient.get_registered_model

        def pressed_as_the_lock_is_read(self: MlflowClient, name: str) -> object:
            model = get_registered_model(self, name)
            if name.endswith(LOCK_SUFFIX):  # read to check its owner before it is removed
                signal.raise_signal(signal.SIGINT)
            return model

        monkeypatch.setattr(MlflowClient, "get_registered_model", pressed_as_the_lock_is_read)
    with pytest.raises(KeyboardInterrupt):
        promote(client, TOPIC, version=second)
    # It left version 2 tagged as promoted from version 1 with version 1 still champion, or the lock for the next
    # promotion to wait a minute on.
    assert champion_number(client, TOPIC) == second
    promoted = client.get_model_version(TOPIC, second)
    assert promoted.tags["promoted_from"] == first
    assert promoted.tags["promotion_reason"].startswith("macro_f1 0.7000 beats")
    assert client.get_model_version(TOPIC, first).tags["replaced_by"] == second
    assert [model.name for model in client.search_registered_models()] == [TOPIC]


def long_history() -> str:
    """A version's description after many promotions: timestamped notes filling the registry's column (as a reviewer's
    line beside them does) all but room for one more note."""
    notes: list[str] = []
    while sum(len(line) + 1 for line in notes) < promotion.DESCRIPTION_MAX_CHARS - 120:
        notes.append(f"2026-11-{1 + len(notes) % 28:02d}T10:00:00+00:00: no longer champion: replaced by version {len(notes)}")
    return "\n".join(notes)


def promoted_after_a_long_history(client: MlflowClient, name: str) -> str:
    """Version 1 of `name`, champion again after a history of 60 promotion notes; its description."""
    first, second = scored_version(client, 0.5, name=name), scored_version(client, 0.5, name=name)
    promote(client, name, version=second, force=True)
    client.update_model_version(name, first, description=f"reviewed by the desk\n{long_history()}")
    promote(client, name, version=first, force=True)
    description = client.get_model_version(name, first).description
    assert description is not None
    return description


def test_a_version_with_a_long_history_keeps_its_newest_notes_within_the_registrys_column(store_uri: str) -> None:
    description = promoted_after_a_long_history(MlflowClient(), TOPIC)

    assert len(description) <= promotion.DESCRIPTION_MAX_CHARS
    lines = description.splitlines()
    # The oldest notes give way; a line not written by a promotion stays, and so does the newest note.
    assert lines[0] == "reviewed by the desk"
    assert lines[1] == f"({promotion.NOTES_LEFT_OUT})"
    assert lines[-2] == long_history().splitlines()[-1]
    assert "became champion (previous: 2); forced (--force)" in lines[-1]


@pytest.mark.xdist_group("tracking_stack")  # the session's tracking stack lives on one worker
def test_a_version_with_a_long_history_is_still_promoted_on_postgresql(stack_uri: str) -> None:
    # MLflow's registry keeps a description in a column of 5,000 characters, which PostgreSQL enforces: the promotion
    # failed writing its note, so a version rolled back and forth often enough could no longer be made champion.
    client = MlflowClient()
    name = f"topic-history-{uuid.uuid4().hex[:8]}"

    description = promoted_after_a_long_history(client, name)

    assert champion_number(client, name) == "1"
    assert len(description) <= promotion.DESCRIPTION_MAX_CHARS


def test_notes_added_one_by_one_keep_one_line_saying_older_ones_were_left_out() -> None:
    description = "reviewed by the desk"
    notes = [
        f"2026-12-01T10:{index // 60:02d}:{index % 60:02d}+00:00: became champion (previous: {index})" for index in range(200)
    ]
    for note in notes:
        description = promotion.with_note(description, note)

    lines = description.splitlines()
    assert len(description) <= promotion.DESCRIPTION_MAX_CHARS
    assert lines[:2] == ["reviewed by the desk", f"({promotion.NOTES_LEFT_OUT})"]
    assert lines[2:] == notes[-len(lines[2:]) :]  # the newest, in order
