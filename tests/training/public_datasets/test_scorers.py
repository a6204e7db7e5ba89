"""Official benchmark metrics against cases worked out by hand."""

from __future__ import annotations

import re

import pytest

from classifiers.errors import UserInputError
from training.public_datasets.adapters import BENCHMARKS
from training.public_datasets.scorers import (
    FNC_TEST_SHARES,
    dev_metrics,
    fnc_score,
    fnc_test_mix,
    official_metrics,
    semeval_f_avg,
    vast_macro_f1,
)

FNC_GOLD = ["agree", "disagree", "discuss", "unrelated", "unrelated"]
FNC_PRED = ["agree", "discuss", "unrelated", "unrelated", "agree"]


def test_fnc_score_by_hand() -> None:
    # pair 1 agree/agree:         related both (+0.25), exact related class (+0.75) = 1.00
    # pair 2 disagree/discuss:    related both (+0.25), wrong class             = 0.25
    # pair 3 discuss/unrelated:   related vs unrelated                          = 0
    # pair 4 unrelated/unrelated: unrelated both (+0.25)                        = 0.25
    # pair 5 unrelated/agree:     unrelated vs related                          = 0
    # score 1.5; best 1 + 1 + 1 + 0.25 + 0.25 = 3.5; 1.5 / 3.5 * 100 = 300 / 7
    assert fnc_score(FNC_GOLD, FNC_PRED) == pytest.approx(300 / 7)
    assert fnc_score(FNC_GOLD, FNC_GOLD) == pytest.approx(100.0)
    # always "unrelated" earns only pairs 4 and 5: 0.5 / 3.5 * 100
    assert fnc_score(FNC_GOLD, ["unrelated"] * 5) == pytest.approx(100 / 7)


def test_fnc1_official_metrics_by_hand() -> None:
    # agree:     tp 1 (pair 1), predicted 2 (pairs 1, 5), gold 1 -> P 1/2, R 1   -> F1 2/3
    # disagree:  tp 0, predicted 0, gold 1                        -> F1 0
    # discuss:   tp 0, predicted 1 (pair 2), gold 1               -> F1 0
    # unrelated: tp 1 (pair 4), predicted 2 (pairs 3, 4), gold 2  -> P 1/2, R 1/2 -> F1 1/2
    # macro (2/3 + 0 + 0 + 1/2) / 4 = 7/24
    assert official_metrics("fnc1", FNC_GOLD, FNC_PRED) == pytest.approx({"fnc_score": 300 / 7})


def test_fnc_test_mix_reweights_gold_classes_to_the_competition_shares() -> None:
    gold = ["unrelated", "agree", "agree", "agree"]
    # a perfect prediction stays perfect whatever the weights; macro-F1 averages over the classes shown, as the run's
    # macro_f1 does (the two classes neither gold nor predicted counted as 0 and made it 0.5)
    assert fnc_test_mix(gold, gold) == pytest.approx({"fnc_score_test_mix": 100.0, "macro_f1_test_mix": 1.0})
    # calling every agree pair unrelated: raw score 0.25 of 3.25; reweighted, unrelated rows weigh
    # w_u = .722/(.722+.074) / (1/4) and agree rows w_a = .074/(.722+.074) / (3/4)
    predicted = ["unrelated"] * 4
    share_u = FNC_TEST_SHARES["unrelated"] / (FNC_TEST_SHARES["unrelated"] + FNC_TEST_SHARES["agree"])
    w_u, w_a = share_u / 0.25, (1 - share_u) / 0.75
    expected = 100 * 0.25 * w_u / (0.25 * w_u + 3 * w_a)
    assert fnc_test_mix(gold, predicted)["fnc_score_test_mix"] == pytest.approx(expected)
    assert fnc_test_mix(gold, predicted)["fnc_score_test_mix"] > fnc_score(gold, predicted)
    # unrelated F1: precision w_u / (w_u + 3 w_a), recall 1; agree 0; disagree and discuss not averaged (never gold
    # nor predicted)
    precision = w_u / (w_u + 3 * w_a)
    assert fnc_test_mix(gold, predicted)["macro_f1_test_mix"] == pytest.approx(2 * precision / (1 + precision) / 2)


def test_semeval_f_avg_by_hand() -> None:
    gold = ["FAVOR", "FAVOR", "AGAINST", "AGAINST", "NONE", "NONE"]
    pred = ["FAVOR", "AGAINST", "AGAINST", "AGAINST", "FAVOR", "NONE"]
    # FAVOR:   tp 1 (row 1), predicted 2 (rows 1, 5), gold 2    -> P 1/2, R 1/2 -> F1 1/2
    # AGAINST: tp 2 (rows 3, 4), predicted 3 (rows 2-4), gold 2 -> P 2/3, R 1   -> F1 4/5
    # NONE is not averaged: (1/2 + 4/5) / 2 = 0.65 -> 65%
    assert semeval_f_avg(gold, pred) == pytest.approx(65.0)
    assert official_metrics("semeval2016", gold, pred) == pytest.approx({"semeval_f_avg": 65.0})


def test_semeval_pools_targets_and_gives_none_no_credit() -> None:
    # Two targets' rows pooled: FAVOR tp 2 of 2 -> F1 1; AGAINST never gold nor predicted -> F1 0.
    # Getting NONE right adds nothing: (1 + 0) / 2 = 50%, where NONE in the mean would give 2/3.
    assert semeval_f_avg(["FAVOR", "NONE", "FAVOR"], ["FAVOR", "NONE", "FAVOR"]) == pytest.approx(50.0)


def test_bbc_official_metrics_by_hand() -> None:
    gold = ["business", "business", "sport", "tech"]
    pred = ["business", "sport", "sport", "politics"]
    # accuracy 2/4, BBC News's official figure
    assert official_metrics("bbc_news", gold, pred) == pytest.approx({"accuracy": 0.5})


VAST_GOLD = ["pro", "pro", "con", "con", "neutral", "neutral"]
VAST_PRED = ["pro", "con", "con", "con", "pro", "neutral"]
VAST_SUBSETS = ["zero_shot", "zero_shot", "zero_shot", "few_shot", "few_shot", "few_shot"]


def test_vast_macro_f1_by_hand() -> None:
    # pro:     tp 1 (row 1), predicted 2 (rows 1, 5), gold 2      -> P 1/2, R 1/2 -> F1 1/2
    # con:     tp 2 (rows 3, 4), predicted 3 (rows 2-4), gold 2   -> P 2/3, R 1   -> F1 4/5
    # neutral: tp 1 (row 6), predicted 1, gold 2                  -> P 1,   R 1/2 -> F1 2/3
    # macro (1/2 + 4/5 + 2/3) / 3 = 59/90
    assert vast_macro_f1(VAST_GOLD, VAST_PRED) == pytest.approx(59 / 90)
    # without subsets (as the trainer calls it): the all-rows figure only
    assert official_metrics("vast", VAST_GOLD, VAST_PRED) == pytest.approx({"vast_macro_f1": 59 / 90})


def test_vast_zero_shot_and_few_shot_by_hand() -> None:
    # zero-shot rows 1-3, gold pro pro con, predicted pro con con:
    #   pro F1 2/3 (P 1, R 1/2), con F1 2/3 (P 1/2, R 1), neutral absent from both -> 0
    #   macro over all three classes, as the authors' scorer (labels=[0, 1, 2]): 4/3 / 3 = 4/9
    # few-shot rows 4-6, gold con neutral neutral, predicted con pro neutral:
    #   con F1 1, neutral F1 2/3 (P 1, R 1/2), pro predicted once but never gold -> 0: 5/3 / 3 = 5/9
    assert official_metrics("vast", VAST_GOLD, VAST_PRED, VAST_SUBSETS) == pytest.approx(
        {"vast_macro_f1": 59 / 90, "vast_macro_f1_zero_shot": 4 / 9, "vast_macro_f1_few_shot": 5 / 9}
    )


def test_vast_reports_only_the_subsets_present() -> None:
    # The training file is all few-shot (its topics are the training topics).
    metrics = official_metrics("vast", VAST_GOLD[3:], VAST_PRED[3:], VAST_SUBSETS[3:])
    assert metrics == pytest.approx({"vast_macro_f1": 5 / 9, "vast_macro_f1_few_shot": 5 / 9})


def test_subsets_are_checked() -> None:
    with pytest.raises(ValueError, match="vast: 6 gold labels but 2 subsets"):
        official_metrics("vast", VAST_GOLD, VAST_PRED, ["zero_shot", "few_shot"])
    with pytest.raises(ValueError, match=r"vast: subset\(s\) seen are not among the benchmark's subsets \(zero_shot, few_shot\)"):
        official_metrics("vast", VAST_GOLD, VAST_PRED, ["seen"] * 6)
    with pytest.raises(ValueError, match=r"semeval2016: subset\(s\) zero_shot are not among the benchmark's subsets \(none\)"):
        official_metrics("semeval2016", ["FAVOR"], ["FAVOR"], ["zero_shot"])


def test_every_benchmark_reports_its_primary_metric_under_an_mlflow_name() -> None:
    for name, benchmark in BENCHMARKS.items():
        labels = list(benchmark.labels)
        metrics = official_metrics(name, labels, labels)
        assert benchmark.primary_metric in metrics
        assert all(re.fullmatch(r"[A-Za-z0-9_\-./ ]+", metric) for metric in metrics)
        assert all(value == pytest.approx(100.0 if metric.endswith(("score", "f_avg")) else 1.0)
                   for metric, value in metrics.items())


def test_scorers_reject_mismatched_input() -> None:
    with pytest.raises(ValueError, match="fnc1: 2 gold labels but 1 predictions"):
        fnc_score(["agree", "unrelated"], ["agree"])
    with pytest.raises(ValueError, match="semeval2016: nothing to score"):
        semeval_f_avg([], [])
    # a lowercase label would silently count as wrong (FNC-1: as "related") instead of being caught
    with pytest.raises(ValueError, match="semeval2016: label[(]s[)] favor are not in AGAINST, FAVOR, NONE"):
        semeval_f_avg(["FAVOR"], ["favor"])
    with pytest.raises(ValueError, match="fnc1: label[(]s[)] Unrelated are not in"):
        official_metrics("fnc1", ["unrelated"], ["Unrelated"])
    with pytest.raises(ValueError, match="vast: label[(]s[)] 0 are not in con, pro, neutral"):
        vast_macro_f1(["con"], ["0"])
    with pytest.raises(UserInputError, match="unknown benchmark 'imdb'"):
        official_metrics("imdb", ["a"], ["a"])


def test_dev_metrics_add_the_test_mix_for_fnc1_only() -> None:
    gold = ["unrelated", "agree", "discuss", "disagree"]

    assert dev_metrics("fnc1", gold, gold) == fnc_test_mix(gold, gold)
    assert dev_metrics("semeval2016", ["FAVOR"], ["FAVOR"]) == {}
