import numpy as np
import pandas as pd
import pytest

from classifiers.contract import check_inputs, prediction_frame


def test_prediction_frame_follows_the_contract() -> None:
    frame = prediction_frame(["against", "favor", "none"], np.array([[0.2, 0.7, 0.1], [0.1, 0.1, 0.8]]))
    assert list(frame.columns) == ["label", "score", "proba_against", "proba_favor", "proba_none"]
    assert frame["label"].tolist() == ["favor", "none"]
    assert frame["score"].tolist() == pytest.approx([0.7, 0.8])


def test_missing_target_column_is_named() -> None:
    with pytest.raises(ValueError, match="missing: target"):
        check_inputs(pd.DataFrame({"text": ["x"]}), "stance")
    assert check_inputs(pd.DataFrame({"text": [1], "extra": [2]}), "topic").to_dict("list") == {"text": ["1"]}
