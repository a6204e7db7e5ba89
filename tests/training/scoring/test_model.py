"""training/scoring/model.py: the model a batch is scored with, read before any row is."""

import pytest

from classifiers.errors import UserInputError
from training.scoring.model import describe_model


def test_a_model_uri_mlflow_cannot_parse_or_read_is_a_user_error(store_uri: str) -> None:
    # MLflow's HTTP artifact store raised a bare ValueError for this URI: a traceback from `score`.
    expected = r"cannot load model 'http://example\.invalid/model': MLflow cannot read a model from it .*; give models:/NAME@"
    with pytest.raises(UserInputError, match=expected):
        describe_model("http://example.invalid/model")
