"""LLM-as-judge: both answers side by side in a forced tool call, both orders, parsing, the position-bias
figure, the preflight; on a fake converse callable and against the emulator."""

from __future__ import annotations

import json

import pytest

from bedrock_customization.evaluation import EvaluationError, JudgeError, create_metric, judge_both_orders
from bedrock_customization.evaluation.judge import (
    RUBRIC,
    TOOL_NAME,
    judge_request,
    judge_summary,
    parse_judgement,
    tool_config,
)

from .conftest import JUDGE

QUESTION = "How much does the Grove plan cost?"
REFERENCE = "Grove costs $79 per month."
RIGHT = "Grove is $79 a month."
WRONG = "Please contact sales for pricing."


def tool_reply(tool_input, name: str = TOOL_NAME) -> dict:
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "t1", "name": name, "input": tool_input}}],
            }
        },
        "stopReason": "tool_use",
    }


def scores(value: int) -> dict:
    return {"correctness": value, "completeness": value, "helpfulness": value}


def _tag(text: str, name: str) -> str:
    return text.split(f"<{name}>\n", 1)[1].split(f"\n</{name}>", 1)[0]


class BiasedJudge:
    """A judge that scores an answer 8 when it states the price, 4 otherwise, plus ``bias`` for whichever
    answer stands first (Response A): a position bias the two orders must cancel."""

    def __init__(self, bias: int = 2) -> None:
        self.bias = bias
        self.requests: list[dict] = []

    def __call__(self, **request):
        self.requests.append(request)
        text = request["messages"][0]["content"][0]["text"]

        def score(answer: str, first: bool) -> int:
            return min(10, (8 if "$79" in answer else 4) + (self.bias if first else 0))

        a, b = _tag(text, "response_a"), _tag(text, "response_b")
        return tool_reply(
            {
                "response_a": scores(score(a, True)),
                "response_b": scores(score(b, False)),
                "rationale": f"A={a!r}, B={b!r}",
            }
        )


def test_the_request_shows_both_answers_and_forces_the_record_scores_tool():
    request = judge_request(JUDGE, QUESTION, REFERENCE, RIGHT, WRONG)
    assert request["modelId"] == JUDGE
    assert request["system"] == [{"text": RUBRIC}]
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": "record_scores"}}
    (tool,) = request["toolConfig"]["tools"]
    schema = tool["toolSpec"]["inputSchema"]["json"]
    assert tool["toolSpec"]["name"] == "record_scores"
    assert schema["required"] == ["response_a", "response_b", "rationale"]
    for key in ("response_a", "response_b"):
        position = schema["properties"][key]
        assert position["type"] == "object"
        assert position["required"] == ["correctness", "completeness", "helpfulness"]
        for name in position["required"]:
            assert position["properties"][name] | {"description": ""} == {
                "type": "integer",
                "minimum": 1,
                "maximum": 10,
                "description": "",
            }
    assert schema["properties"]["rationale"]["type"] == "string"
    (message,) = request["messages"]
    text = message["content"][0]["text"]
    assert message["role"] == "user"
    assert (
        f"<question>\n{QUESTION}\n</question>" in text and f"<reference>\n{REFERENCE}\n</reference>" in text
    )
    assert f"<response_a>\n{RIGHT}\n</response_a>" in text and f"<response_b>\n{WRONG}\n</response_b>" in text
    # The rubric names the criteria and tells the judge that the order means nothing.
    assert all(name in RUBRIC for name in ("correctness", "completeness", "helpfulness"))
    assert "order of the two responses is arbitrary" in RUBRIC
    assert request["inferenceConfig"]["temperature"] == 0.0
    json.dumps(request)  # plain JSON, as boto3 sends it
    assert tool_config() == tool_config()


def test_parse_judgement_reads_both_positions_leniently():
    judgement = parse_judgement(
        tool_reply(
            json.dumps(
                {
                    "response_a": {"correctness": "7", "completeness": 6.0, "helpfulness": 5},
                    "response_b": scores(9),
                    "rationale": " B keeps the price. ",
                }
            )
        )
    )
    assert judgement.response_a.scores() == {"correctness": 7, "completeness": 6, "helpfulness": 5}
    assert judgement.response_a.overall == 6.0 and judgement.response_b.overall == 9.0
    assert judgement.rationale == "B keeps the price."


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            {
                "output": {"message": {"content": [{"text": "A is better. Score: 7/10"}]}},
                "stopReason": "end_turn",
            },
            "did not call the record_scores tool",
        ),
        (tool_reply({"response_a": scores(9)}, name="other_tool"), "did not call the record_scores tool"),
        (
            tool_reply({"response_a": scores(11), "response_b": scores(5)}),
            r"response_a\.correctness=11 is not an integer from 1 to 10",
        ),
        (
            tool_reply({"response_a": scores(5), "response_b": {**scores(5), "completeness": True}}),
            r"response_b\.completeness=True",
        ),
        (tool_reply({"response_a": scores(5)}), "response_b=None is not an object of scores"),
        (tool_reply({"correctness": 5, "completeness": 5, "helpfulness": 5}), "response_a=None"),
        (tool_reply("not json"), "not JSON"),
    ],
)
def test_malformed_tool_calls_raise_judge_error(reply, message):
    with pytest.raises(JudgeError, match=message):
        parse_judgement(reply)


def test_both_orders_cancel_a_position_bias():
    judge = BiasedJudge(bias=2)
    right, wrong = judge_both_orders(judge, JUDGE, QUESTION, REFERENCE, RIGHT, WRONG)
    # Asked twice, the answers swapped: first RIGHT as Response A, then WRONG as Response A.
    texts = [r["messages"][0]["content"][0]["text"] for r in judge.requests]
    assert [_tag(t, "response_a") for t in texts] == [RIGHT, WRONG]
    # Each answer's score is the mean over its two positions: (8 + 2 + 8) / 2 and (4 + 4 + 2) / 2.
    assert (right.value, wrong.value) == (9.0, 5.0)
    assert right.details["correctness"] == 9.0 and wrong.details["helpfulness"] == 5.0
    assert [o["position"] for o in right.details["orders"]] == ["Response A", "Response B"]
    assert [o["overall"] for o in right.details["orders"]] == [10.0, 8.0]
    assert [o["outcome"] for o in right.details["orders"]] == ["better", "better"]
    assert right.details["order_flipped"] is False and wrong.details["order_flipped"] is False
    assert right.details["orders"][1]["rationale"] == f"A={WRONG!r}, B={RIGHT!r}"

    # Two equally good answers: whichever stands first wins, so the verdict flips with the order and the
    # means come out equal.
    same, other = judge_both_orders(judge, JUDGE, QUESTION, REFERENCE, RIGHT, "It is $79 monthly.")
    assert same.value == other.value == 9.0
    assert [o["outcome"] for o in same.details["orders"]] == ["better", "worse"]
    assert same.details["order_flipped"] is True and other.details["order_flipped"] is True


def test_judge_summary_counts_order_flips_and_means_per_criterion():
    judge = BiasedJudge(bias=2)
    pairs = [
        judge_both_orders(judge, JUDGE, QUESTION, REFERENCE, WRONG, RIGHT),
        judge_both_orders(judge, JUDGE, QUESTION, REFERENCE, RIGHT, "It is $79 monthly."),
        judge_both_orders(judge, JUDGE, QUESTION, REFERENCE, WRONG, "No idea."),
    ]
    summary = judge_summary(
        {
            "baseline": [pair[0].details for pair in pairs],
            "candidate": [pair[1].details for pair in pairs],
        }
    )
    assert (summary["samples"], summary["order_flips"], summary["order_flip_rate"]) == (3, 2, 0.6667)
    # Baseline: 5 (wrong in both positions), 9 and 5 (tied answers, each a winner once); candidate 9, 9, 5.
    names = ("correctness", "completeness", "helpfulness", "overall")
    assert summary["criteria"]["baseline"] == dict.fromkeys(names, round(19 / 3, 4))
    assert summary["criteria"]["candidate"]["overall"] == round(23 / 3, 4)
    assert summary["rubric"] == RUBRIC


def test_the_metric_is_paired_and_probes_the_judge_first():
    judge = BiasedJudge(bias=0)
    metric = create_metric("llm_judge", converse=judge, model_id=JUDGE, max_workers=2)
    assert len(judge.requests) == 1  # the preflight judgement, before any sample
    assert (metric.name, metric.scale) == ("llm_judge", 10.0)
    baseline, candidate = metric.score_pair([WRONG, WRONG], [RIGHT, WRONG], [REFERENCE] * 2, [QUESTION] * 2)
    assert [s.value for s in baseline] == [4.0, 4.0] and [s.value for s in candidate] == [8.0, 4.0]
    assert len(judge.requests) == 1 + 2 * 2
    with pytest.raises(EvaluationError, match="side by side: use score_pair"):
        metric.score([RIGHT], [REFERENCE], [QUESTION])
    with pytest.raises(EvaluationError, match="needs a judge model"):
        create_metric("llm_judge")


class ClientError(Exception):
    """Shaped like botocore's ClientError (the evaluation reads ``response["Error"]``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"An error occurred ({code}) when calling the Converse operation: {message}")
        self.response = {"Error": {"Code": code, "Message": message}}


def test_a_refused_or_unsuitable_judge_fails_its_preflight_with_the_fix():
    def refused(**request):
        raise ClientError("AccessDeniedException", "You don't have access to the model")

    with pytest.raises(EvaluationError, match=f"cannot use {JUDGE}: access denied.*bedrock:InvokeModel"):
        create_metric("llm_judge", converse=refused, model_id=JUDGE)

    def talks(**request):
        return {"output": {"message": {"content": [{"text": "Both are fine."}]}}, "stopReason": "end_turn"}

    with pytest.raises(JudgeError, match=f"judge model {JUDGE} failed its preflight.*forced tool use"):
        create_metric("llm_judge", converse=talks, model_id=JUDGE)


def test_the_emulated_judge_prefers_the_answer_closer_to_the_reference_in_both_orders(runtime):
    close, far = judge_both_orders(
        runtime.converse, JUDGE, QUESTION, REFERENCE, "Grove costs $79 per month.", WRONG
    )
    for order in close.details["orders"]:
        assert order["outcome"] == "better" and order["overall"] >= 8
        assert "closer to the reference" in order["rationale"]
    assert [order["overall"] for order in far.details["orders"]] == [far.value] * 2 and far.value <= 4
    assert close.details["order_flipped"] is False
    # Swapping which answer is passed first changes nothing: the judge looks at content, not position.
    far_again, close_again = judge_both_orders(
        runtime.converse, JUDGE, QUESTION, REFERENCE, WRONG, "Grove costs $79 per month."
    )
    assert (close_again.value, far_again.value) == (close.value, far.value)


def test_an_unknown_judge_model_fails_the_emulated_preflight(runtime):
    with pytest.raises(EvaluationError, match="cannot use acme.judge-v1:0 .*Check the model id"):
        create_metric("llm_judge", converse=runtime.converse, model_id="acme.judge-v1:0")
