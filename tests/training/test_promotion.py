import mlflow
import pytest
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from classifiers.errors import UserInputError
from training import locations
from training.cli import app
from training.config.resolve import load_config
from training.promotion import PromotionRefused, champion_version, promote
from training.trainer import train

CONFIG = locations.CONFIGS_DIR / "topic" / "tfidf_svm.yaml"


@pytest.fixture
def two_versions(store_uri: str) -> tuple[float, float]:
    """v1 (champion) and a worse v2 (C tiny, promote: never) on the same data."""
    first = train(load_config(CONFIG))
    second = train(load_config(CONFIG, ["model.C=0.0001", "promote=never"]))
    assert second.primary_value < first.primary_value
    return first.primary_value, second.primary_value


def test_first_version_becomes_champion(store_uri: str) -> None:
    train(load_config(CONFIG, ["promote=never"]))
    champion = champion_version(MlflowClient(), "news-topic")
    assert champion is not None and str(champion.version) == "1"
    assert champion.tags["promoted_from"] == "none"


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


def test_refusal_gives_both_figures_and_keeps_the_champion(two_versions: tuple[float, float]) -> None:
    champion_value, candidate_value = two_versions
    client = MlflowClient()
    with pytest.raises(PromotionRefused) as refused:
        promote(client, "news-topic")
    assert f"{candidate_value:.4f}" in str(refused.value) and f"{champion_value:.4f}" in str(refused.value)
    assert str(champion_version(client, "news-topic").version) == "1"


def test_force_promotes_and_records_why(two_versions: tuple[float, float]) -> None:
    client = MlflowClient()
    result = promote(client, "news-topic", version="2", force=True)
    assert (result.promoted, result.version, result.previous) == (True, "2", "1")
    version = client.get_model_version("news-topic", "2")
    assert version.aliases == ["champion"]
    assert version.tags["promoted_from"] == "1"
    assert version.tags["promotion_reason"].startswith("forced (--force)")
    assert "became champion" in version.description
    assert version.tags["promoted_at"]


def test_better_candidate_is_promoted_automatically(store_uri: str) -> None:
    worse = train(load_config(CONFIG, ["model.C=0.0001"]))
    better = train(load_config(CONFIG))
    assert better.promotion is not None and better.promotion.promoted
    assert better.promotion.previous == worse.version
    assert str(champion_version(MlflowClient(), "news-topic").version) == better.version


def test_different_evaluation_data_is_not_comparable(store_uri: str, tmp_path) -> None:
    train(load_config(CONFIG))
    rows = "".join(f'{{"text": "story {i} about {w}", "label": "{l}", "g": "{i % 3}"}}\n' for i, (w, l) in enumerate([("war", "conflict"), ("talks", "diplomacy")] * 6))
    data = tmp_path / "other.jsonl"
    data.write_text(rows, encoding="utf-8")
    train(load_config(CONFIG, ["data.source=jsonl", f"data.path={data}", "data.group_column=g", "promote=never"]))
    with pytest.raises(PromotionRefused, match="evaluated on different data"):
        promote(MlflowClient(), "news-topic", version="2")


def test_unknown_name_or_version_is_a_clear_error(store_uri: str) -> None:
    with pytest.raises(UserInputError, match="no registered model named 'nope'"):
        promote(MlflowClient(), "nope")
    train(load_config(CONFIG))
    with pytest.raises(UserInputError, match=r"has no version 7 \(versions: 1\)"):
        promote(MlflowClient(), "news-topic", version="7")


def test_cli_promote_refuses_with_exit_code_and_force_works(two_versions: tuple[float, float]) -> None:
    runner = CliRunner()
    refused = runner.invoke(app, ["promote", "--name", "news-topic"])
    assert refused.exit_code == 1
    assert "does not beat champion version 1" in refused.output
    forced = runner.invoke(app, ["promote", "--name", "news-topic", "--force"])
    assert forced.exit_code == 0, forced.output
    assert str(mlflow.MlflowClient().get_model_version_by_alias("news-topic", "champion").version) == "2"
