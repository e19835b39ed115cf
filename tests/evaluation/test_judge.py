"""LLM-as-judge: the forced tool call, parsing, on a fake converse callable and against the emulator."""

from __future__ import annotations

import json

import pytest

from bedrock_customization.evaluation import JudgeError, Verdict, create_metric, judge
from bedrock_customization.evaluation.judge import TOOL_NAME, judge_request, parse_verdict, tool_config

from .conftest import JUDGE

QUESTION = "How much does the Grove plan cost?"
REFERENCE = "Grove costs $79 per month."


def tool_reply(scores: dict, name: str = TOOL_NAME) -> dict:
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "t1", "name": name, "input": scores}}],
            }
        },
        "stopReason": "tool_use",
    }


class FakeConverse:
    """Records requests and answers with a fixed toolUse input."""

    def __init__(self, scores: dict) -> None:
        self.scores = scores
        self.requests: list[dict] = []

    def __call__(self, **request):
        self.requests.append(request)
        return tool_reply(self.scores)


def test_the_request_forces_the_record_scores_tool_with_an_integer_schema():
    request = judge_request(JUDGE, QUESTION, REFERENCE, "It is $79 a month.")
    assert request["modelId"] == JUDGE
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": "record_scores"}}
    (tool,) = request["toolConfig"]["tools"]
    schema = tool["toolSpec"]["inputSchema"]["json"]
    assert tool["toolSpec"]["name"] == "record_scores"
    assert schema["required"] == ["correctness", "completeness", "helpfulness", "rationale"]
    for name in ("correctness", "completeness", "helpfulness"):
        assert schema["properties"][name] | {"description": ""} == {
            "type": "integer",
            "minimum": 1,
            "maximum": 10,
            "description": "",
        }
    assert schema["properties"]["rationale"]["type"] == "string"
    (message,) = request["messages"]
    text = message["content"][0]["text"]
    assert message["role"] == "user"
    assert QUESTION in text and f"<reference>\n{REFERENCE}\n</reference>" in text
    assert "<response>\nIt is $79 a month.\n</response>" in text
    assert request["inferenceConfig"]["temperature"] == 0.0
    json.dumps(request)  # plain JSON, as boto3 sends it


def test_judge_parses_the_tool_input():
    converse = FakeConverse(
        {"correctness": 9, "completeness": 8, "helpfulness": 10, "rationale": " Right price. "}
    )
    verdict = judge(converse, JUDGE, QUESTION, REFERENCE, "It is $79 a month.")
    assert verdict == Verdict(9, 8, 10, "Right price.")
    assert verdict.overall == 9.0
    assert converse.requests[0]["modelId"] == JUDGE


def test_lenient_numbers_and_json_string_input():
    verdict = parse_verdict(
        tool_reply(json.dumps({"correctness": "7", "completeness": 6.0, "helpfulness": 5}))
    )
    assert (verdict.correctness, verdict.completeness, verdict.helpfulness, verdict.rationale) == (
        7,
        6,
        5,
        "",
    )
    assert verdict.overall == 6.0


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            {"output": {"message": {"content": [{"text": "Score: 7/10"}]}}, "stopReason": "end_turn"},
            "did not call the record_scores tool",
        ),
        (tool_reply({"correctness": 9}, name="other_tool"), "did not call the record_scores tool"),
        (
            tool_reply({"correctness": 11, "completeness": 5, "helpfulness": 5}),
            "correctness=11 is not an integer from 1 to 10",
        ),
        (
            tool_reply({"correctness": 7.5, "completeness": True, "helpfulness": 5}),
            "correctness=7.5.*completeness=True",
        ),
        (tool_reply({"completeness": 5, "helpfulness": 5}), "correctness=None"),
        (tool_reply("not json"), "not JSON"),
    ],
)
def test_unreadable_replies_raise_judge_error(reply, message):
    with pytest.raises(JudgeError, match=message):
        parse_verdict(reply)


def test_judge_metric_keeps_details_and_needs_a_model():
    converse = FakeConverse({"correctness": 4, "completeness": 5, "helpfulness": 6, "rationale": "Partly."})
    metric = create_metric("llm_judge", converse=converse, model_id=JUDGE, max_workers=2)
    assert (metric.name, metric.scale) == ("llm_judge", 10.0)
    scores = metric.score(["a", "b"], ["ref a", "ref b"], ["q a", "q b"])
    assert [s.value for s in scores] == [5.0, 5.0]
    assert scores[0].details == {
        "correctness": 4,
        "completeness": 5,
        "helpfulness": 6,
        "rationale": "Partly.",
        "overall": 5.0,
    }
    prompts = sorted(r["messages"][0]["content"][0]["text"] for r in converse.requests)
    assert "<question>\nq a\n</question>" in prompts[0] and "<reference>\nref b\n</reference>" in prompts[1]
    from bedrock_customization.evaluation import EvaluationError

    with pytest.raises(EvaluationError, match="needs a judge model"):
        create_metric("llm_judge")


def test_tool_config_is_stable():
    assert tool_config() == tool_config()


def test_judge_against_the_emulator_scores_close_answers_higher(runtime):
    close = judge(runtime.converse, JUDGE, QUESTION, REFERENCE, "Grove costs $79 per month.")
    far = judge(runtime.converse, JUDGE, QUESTION, REFERENCE, "Please contact sales for pricing.")
    for verdict in (close, far):
        assert all(
            1 <= value <= 10 for value in (verdict.correctness, verdict.completeness, verdict.helpfulness)
        )
        assert verdict.rationale
    assert close.overall >= 8
    assert far.overall <= 4
    assert close.overall > far.overall
