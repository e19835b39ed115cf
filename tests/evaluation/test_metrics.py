"""Metrics on hand-made examples with known values, English and Japanese; the registry; aggregation (the decision:
test_significance.py)."""

from __future__ import annotations

import sys
import types

import pytest

from bedrock_customization.evaluation import (
    EvaluationError,
    Metric,
    chrf,
    create_metric,
    create_metrics,
    exact_match,
    mean_chrf,
    mean_scores,
    metric_names,
    register_metric,
    rouge_l,
)
from bedrock_customization.evaluation.text import has_cjk, normalize_answer, tokenize

JA_REFERENCE = "サポートは平日9時から18時まで対応しています。"
JA_CLOSE = "サポートは平日9時から18時まで対応します。"
JA_FAR = "申し訳ありませんが、分かりません。"


# ------------------------------------------------------------------------------------------------ chrF


def test_chrf_identical_and_disjoint():
    assert chrf("The Pro plan allows 25 users.", "The Pro plan allows 25 users.") == 100.0
    assert chrf("xyz", "The Pro plan allows 25 users.") < 5


def test_chrf_ranks_closer_answers_higher_in_japanese():
    assert chrf(JA_CLOSE, JA_REFERENCE) > chrf(JA_FAR, JA_REFERENCE) + 30


def test_chrf_orders_english_answers_by_closeness():
    reference = "Grove costs $79 per month and includes 10 users."
    scores = [
        chrf(reference, reference),
        chrf("Grove costs $79 a month and includes ten users.", reference),
        chrf("Grove is one of our plans.", reference),
        chrf("I do not know.", reference),
    ]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == 100.0


def test_mean_chrf_and_empty():
    assert mean_chrf([("a b c", "a b c"), ("a b c", "a b c")]) == 100.0
    assert mean_chrf([]) == 0.0


# ------------------------------------------------------------------------------------------------ ROUGE-L


def test_rouge_l_known_values():
    assert rouge_l("the cat sat on the mat", "the cat sat on the mat") == 1.0
    # LCS 3 of 3 response tokens and 6 reference tokens: P = 1, R = 0.5, F = 2/3.
    assert rouge_l("the cat sat", "the cat sat on the mat") == pytest.approx(2 / 3)
    # Case and punctuation do not matter; word order does.
    assert rouge_l("The CAT, sat!", "the cat sat") == 1.0
    assert rouge_l("sat cat the", "the cat sat") == pytest.approx(1 / 3)
    assert rouge_l("", "the cat sat") == 0.0


def test_rouge_l_on_japanese_is_character_level_and_not_zero():
    from rouge_score import rouge_scorer

    # rouge-score's default tokenizer keeps only [a-z0-9]: a Japanese answer without digits has no tokens.
    default = rouge_scorer.RougeScorer(["rougeL"])
    assert default.score("対応しています", "対応します")["rougeL"].fmeasure == 0.0

    close, far = rouge_l(JA_CLOSE, JA_REFERENCE), rouge_l(JA_FAR, JA_REFERENCE)
    assert close > 0.9
    assert far < 0.25
    # 対応します vs 対応しています: LCS 5 (対応します), lengths 5 and 7 -> F = 2*5/(5+7).
    assert rouge_l("対応します", "対応しています") == pytest.approx(10 / 12)


def test_rouge_l_mixed_script():
    reference = "Canopyプランは月額249ドルです"
    assert rouge_l("Canopyプランは月額249ドルです", reference) == 1.0
    assert 0.5 < rouge_l("canopy プラン 月額 249 ドル", reference) < 1.0


def test_tokenizer_splits_cjk_into_characters_and_other_text_into_words():
    assert tokenize("Plan Pro は25ユーザー、café_x!") == [
        "plan",
        "pro",
        "は",
        "25",
        "ユ",
        "ー",
        "ザ",
        "ー",
        "café",
        "x",
    ]
    assert tokenize("ＡＢＣ　１２３") == ["abc", "123"]  # NFKC: full-width letters and digits
    assert has_cjk("KL-403 エラー") and not has_cjk("KL-403 error")


# ------------------------------------------------------------------------------------------------ exact match


@pytest.mark.parametrize(
    ("response", "reference"),
    [
        ("The Pro plan.", "the pro plan"),
        ("  the   PRO\nplan ", "The Pro plan"),
        ("Straße", "STRASSE"),  # casefold, not lower
        ("ＡＢＣ１２３", "abc123"),  # NFKC
        ("はい。", "はい"),
        ("「はい」！", "「はい"),  # trailing punctuation only
        ("Yes!?", "yes"),
    ],
)
def test_exact_match_normalises(response, reference):
    assert exact_match(response, reference) == 1.0


@pytest.mark.parametrize(
    ("response", "reference"),
    [("the pro-plan", "the pro plan"), ("yes, sir", "yes sir"), ("いいえ", "はい"), ("$79", "79")],
)
def test_exact_match_keeps_inner_differences(response, reference):
    assert exact_match(response, reference) == 0.0


def test_normalize_answer():
    assert normalize_answer("  The  Pro plan. ") == "the pro plan"
    assert normalize_answer("...") == ""


# ------------------------------------------------------------------------------------------------ registry


def test_builtin_metrics_are_registered_with_scales():
    assert {"rouge_l", "chrf", "exact_match", "bertscore", "llm_judge"} <= set(metric_names())
    metrics = create_metrics(["rouge_l", "chrf", "exact_match"])
    assert [(m.name, m.scale) for m in metrics] == [("rouge_l", 1.0), ("chrf", 100.0), ("exact_match", 1.0)]
    scores = metrics[1].score(["a b c", "xyz"], ["a b c", "a b c"])
    assert [s.value for s in scores] == [100.0, pytest.approx(scores[1].value)] and scores[1].value < 10


def test_unknown_metric_suggests_a_name():
    with pytest.raises(EvaluationError, match=r"Unknown metric 'rouge'\. Did you mean 'rouge_l'\?"):
        create_metric("rouge")


def test_options_for_unrequested_metrics_are_rejected():
    with pytest.raises(EvaluationError, match="not requested: bertscore"):
        create_metrics(["chrf"], {"bertscore": {"model_type": "x"}})


def test_a_custom_metric_plugs_in():
    def length_ratio() -> Metric:
        def score(responses, references, prompts):
            return [
                min(len(r), len(ref)) / max(len(r), len(ref), 1)
                for r, ref in zip(responses, references, strict=True)
            ]

        return Metric("length_ratio", "Length ratio", 1.0, score)

    register_metric("length_ratio", length_ratio, replace=True)
    (metric,) = create_metrics(["length_ratio"])
    assert [s.value for s in metric.score(["ab", "abcd"], ["abcd", "abcd"])] == [0.5, 1.0]
    with pytest.raises(ValueError, match="already registered"):
        register_metric("length_ratio", length_ratio)
    with pytest.raises(ValueError, match="reserved"):
        register_metric("label", length_ratio)


def test_metric_rejects_unparallel_inputs():
    (metric,) = create_metrics(["chrf"])
    with pytest.raises(ValueError, match="parallel"):
        metric.score(["a"], ["a", "b"])


def test_bertscore_without_the_package_names_it(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "bert_score" else real(name, *a)
    )
    with pytest.raises(EvaluationError, match=r"optional package bert-score.*pip install bert-score"):
        create_metric("bertscore")
    # Only when requested: the default metrics do not need it.
    assert [m.name for m in create_metrics(["rouge_l", "chrf", "exact_match"])] == [
        "rouge_l",
        "chrf",
        "exact_match",
    ]


def test_bertscore_calls_the_package_lazily(monkeypatch):
    calls = []

    class FakeTensor:
        def __init__(self, values):
            self.values = values

        def tolist(self):
            return self.values

    def fake_score(cands, refs, **kwargs):
        calls.append((cands, refs, kwargs))
        return None, None, FakeTensor([0.91, 0.42])

    module = types.ModuleType("bert_score")
    module.score = fake_score
    module.__spec__ = types.SimpleNamespace(name="bert_score")
    monkeypatch.setitem(sys.modules, "bert_score", module)
    metric = create_metric("bertscore", model_type="/models/xlmr", num_layers=17)
    assert calls == []  # nothing loaded until scoring
    scores = metric.score(["a", "b"], ["a", "c"])
    assert [s.value for s in scores] == [0.91, 0.42]
    (cands, refs, kwargs) = calls[0]
    assert cands == ["a", "b"] and refs == ["a", "c"]
    assert kwargs["model_type"] == "/models/xlmr" and kwargs["num_layers"] == 17


# ------------------------------------------------------------------------------------------------ aggregation


def test_mean_scores_per_metric():
    rows = [{"chrf": 40.0, "rouge_l": 0.5}, {"chrf": 60.0, "rouge_l": 0.25}, {"chrf": 50.0, "rouge_l": 0.0}]
    assert mean_scores(rows, ["chrf", "rouge_l"]) == {"chrf": 50.0, "rouge_l": 0.25}
    assert mean_scores([], ["chrf"]) == {"chrf": 0.0}
