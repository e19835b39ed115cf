"""Metrics on hand-made examples, English and Japanese, and the decision rule."""

from __future__ import annotations

from bedrock_customization.evaluation import chrf, decide, mean_chrf


def test_chrf_identical_and_disjoint():
    assert chrf("The Pro plan allows 25 users.", "The Pro plan allows 25 users.") == 100.0
    assert chrf("xyz", "The Pro plan allows 25 users.") < 5


def test_chrf_ranks_closer_answers_higher_in_japanese():
    reference = "サポートは平日9時から18時まで対応しています。"
    close = "サポートは平日9時から18時まで対応します。"
    far = "申し訳ありませんが、分かりません。"
    assert chrf(close, reference) > chrf(far, reference) + 30


def test_mean_chrf_and_empty():
    assert mean_chrf([("a b c", "a b c"), ("a b c", "a b c")]) == 100.0
    assert mean_chrf([]) == 0.0


def test_decide_uses_margin():
    assert decide({"chrf": 40.0}, {"chrf": 45.0}, "chrf", margin=2.0) == "promote"
    assert decide({"chrf": 40.0}, {"chrf": 41.0}, "chrf", margin=2.0) == "reject"
