"""Which candidates benchmarks/bench_transfer.py trains: a task, a config, or a usage error naming what is wrong."""

from __future__ import annotations

import sys

import pytest
import typer

from training.locations import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
from bench_transfer import CANDIDATES, chosen_candidates  # noqa: E402


def test_a_config_chooses_only_its_candidates() -> None:
    chosen = chosen_candidates(None, ["configs/topic/descriptions.yaml"])
    assert chosen and {c.config for c in chosen} == {"configs/topic/descriptions.yaml"}
    assert len(chosen) == sum(c.config == "configs/topic/descriptions.yaml" for c in CANDIDATES)


def test_a_task_chooses_its_candidates_and_no_config_means_all() -> None:
    assert chosen_candidates("stance", None) == [c for c in CANDIDATES if c.task == "stance"]
    assert chosen_candidates(None, None) == CANDIDATES


@pytest.mark.parametrize(
    ("only", "configs", "named"),
    [
        ("sentiment", None, "--only must be one of topic, stance"),
        (None, ["configs/stance/nope.yaml"], "configs/stance/nope.yaml is not a candidate"),
        ("topic", ["configs/stance/minilm_described.yaml"], "no topic candidate has config configs/stance/minilm_described.yaml"),
    ],
)
def test_what_chooses_nothing_is_refused_naming_it(only: str | None, configs: list[str] | None, named: str) -> None:
    with pytest.raises(typer.BadParameter, match=named):
        chosen_candidates(only, configs)
