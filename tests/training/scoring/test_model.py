"""training/scoring/model.py: the model a batch is scored with, read before any row is."""

import pytest

from classifiers.errors import UserInputError
from training.scoring.model import describe_model


def test_a_model_uri_mlflow_cannot_parse_or_read_is_a_user_error(store_uri: str) -> None:
    # MLflow's HTTP artifact store raised a bare ValueError for this URI: a traceback from `score`.
    expected = r"cannot load model 'http://example\.invalid/model': MLflow cannot read a model from it .*; give models:/NAME@"
    with pytest.raises(UserInputError, match=expected):
        describe_model("http://example.invalid/model")


@pytest.mark.parametrize("uri", ["news-topic", "models:/news-topic"])
def test_a_registered_models_bare_name_is_answered_with_the_uri_forms(store_uri: str, uri: str) -> None:
    # MLflow reads `news-topic` as a folder and `models:/news-topic` as a logged model's id: its "not found" alone
    # does not tell a user who typed the registered name what to give instead.
    expected = r"for a registered model give models:/news-topic@ALIAS \(e\.g\. @champion\) or models:/news-topic/VERSION"
    with pytest.raises(UserInputError, match=expected):
        describe_model(uri)
