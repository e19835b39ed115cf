"""Converse document blocks and toolChoice: validation as the API reference states it, and question/answer
pairs written from a PDF's text (extracted with pypdf from a PDF written here with fpdf2)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from fpdf import FPDF

from include.local_aws.bodies import parse_converse

from .helpers import BUCKET, NOVA_MICRO, error_code

FACTS = (
    "The Orion gateway connects at most 40 sensors per site. "
    "Firmware updates for the Orion gateway ship on the second Tuesday of every month. "
    "Support tickets about the gateway are answered within four business hours."
)
QA_TOOL = {
    "toolSpec": {
        "name": "record_qa_pairs",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {
                    "pairs": {
                        "type": "array",
                        "maxItems": 2,
                        "items": {
                            "type": "object",
                            "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
                        },
                    }
                },
            }
        },
    }
}
FORCED = {"tools": [QA_TOOL], "toolChoice": {"tool": {"name": "record_qa_pairs"}}}


def pdf_bytes(text: str = FACTS) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def document(name: str = "orion guide", data: bytes | None = None, fmt: str = "pdf") -> dict:
    return {
        "document": {"format": fmt, "name": name, "source": {"bytes": pdf_bytes() if data is None else data}}
    }


def ask(runtime: Any, content: list[dict], tool_config: dict | None = FORCED, role: str = "user") -> dict:
    request: dict[str, Any] = {"modelId": NOVA_MICRO, "messages": [{"role": role, "content": content}]}
    if tool_config is not None:
        request["toolConfig"] = tool_config
    return runtime.converse(**request)


def rejected(runtime: Any, content: list[dict], tool_config: dict | None = FORCED) -> str:
    with pytest.raises(ClientError) as caught:
        ask(runtime, content, tool_config)
    code, message, status = error_code(caught)
    assert (code, status) == ("ValidationException", 400)
    return message


def test_forced_tool_answers_pairs_from_the_pdf_text(runtime: Any) -> None:
    reply = ask(runtime, [document(), {"text": "Write 2 question and answer pairs."}])

    assert reply["stopReason"] == "tool_use"
    tool_use = reply["output"]["message"]["content"][0]["toolUse"]
    assert tool_use["name"] == "record_qa_pairs"
    pairs = tool_use["input"]["pairs"]
    assert len(pairs) == 2  # the schema's maxItems
    assert pairs[0]["answer"] == "The Orion gateway connects at most 40 sensors per site."
    assert pairs[1]["answer"].startswith("Firmware updates for the Orion gateway ship on the second Tuesday")
    assert all("orion guide" in pair["question"] for pair in pairs)
    # Questions listed in the prompt as already written are not written again.
    again = ask(runtime, [document(), {"text": f"Already written: {pairs[0]['question']}"}])
    answers = [p["answer"] for p in again["output"]["message"]["content"][0]["toolUse"]["input"]["pairs"]]
    assert answers[0] == pairs[1]["answer"] and "four business hours" in answers[1]


def test_text_sources_and_html_are_read_too(runtime: Any) -> None:
    html = b"<html><body><p>The Vega plan includes 12 seats and priority support.</p><script>x()</script>"
    reply = ask(runtime, [document("vega", html, "html"), {"text": "Pairs, please."}])
    pairs = reply["output"]["message"]["content"][0]["toolUse"]["input"]["pairs"]
    assert [p["answer"] for p in pairs] == ["The Vega plan includes 12 seats and priority support."]
    text_source = {
        "document": {"name": "notes", "format": "txt", "source": {"text": "Backups run nightly at two."}}
    }
    pairs = ask(runtime, [text_source, {"text": "Pairs."}])["output"]["message"]["content"][0]["toolUse"]
    assert pairs["input"]["pairs"][0]["answer"] == "Backups run nightly at two."


def test_pdf_in_s3_is_read_by_s3_location(s3: Any, runtime: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="docs/orion.pdf", Body=pdf_bytes())
    block = {
        "document": {
            "format": "pdf",
            "name": "orion",
            "source": {"s3Location": {"uri": f"s3://{BUCKET}/docs/orion.pdf"}},
        }
    }
    pairs = ask(runtime, [block, {"text": "Pairs."}])["output"]["message"]["content"][0]["toolUse"]["input"]
    assert "40 sensors" in pairs["pairs"][0]["answer"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("guide.pdf", "has '.'"),
        ("two  spaces", "two whitespace characters in a row"),
        ("x" * 201, "1 to 200 characters"),
        ("under_score", "has '_'"),
    ],
)
def test_document_names_follow_the_api_reference(runtime: Any, name: str, problem: str) -> None:
    assert problem in rejected(runtime, [document(name), {"text": "Pairs."}])


def test_ok_names_use_letters_digits_spaces_hyphens_parentheses_brackets(runtime: Any) -> None:
    reply = ask(runtime, [document("Guide (v2) [final]-2026"), {"text": "Pairs."}])
    assert reply["stopReason"] == "tool_use"


def test_document_limits(runtime: Any) -> None:
    assert "must be one of pdf, csv, doc, docx, xls, xlsx, html, txt, md" in rejected(
        runtime, [document(fmt="rtf"), {"text": "Pairs."}]
    )
    six = [document(f"doc {i}") for i in range(6)]
    assert (
        rejected(runtime, [*six, {"text": "Pairs."}])
        == "You can't include more than 5 documents in a request."
    )
    assert "duplicate document names" in rejected(runtime, [document("a"), document("a"), {"text": "Pairs."}])
    assert "must also include a text block" in rejected(runtime, [document()])
    too_big = b"x" * (int(4.5 * 1024 * 1024) + 1)
    assert "no more than 4.5 MB" in rejected(runtime, [document("big", too_big, "txt"), {"text": "Pairs."}])
    assert "could not be read as a PDF" in rejected(
        runtime, [document("bad", b"not a pdf"), {"text": "Pairs."}]
    )
    with pytest.raises(ClientError, match="only user messages can include documents"):
        ask(runtime, [document(), {"text": "Pairs."}], role="assistant")


def test_tool_choice_is_a_union_and_must_name_a_configured_tool(runtime: Any) -> None:
    content = [document(), {"text": "Pairs."}]
    missing = {"tools": [QA_TOOL], "toolChoice": {"tool": {"name": "record_scores"}}}
    assert "'record_scores' is not one of the tools in toolConfig.tools: record_qa_pairs" in rejected(
        runtime, content, missing
    )
    # botocore refuses a union with two members before sending; a raw HTTP client would not.
    both = {"tools": [QA_TOOL], "toolChoice": {"auto": {}, "any": {}}}
    raw = {"messages": [{"role": "user", "content": [{"text": "Pairs."}]}], "toolConfig": both}
    with pytest.raises(ValueError, match="exactly one of auto, any, tool"):
        parse_converse(raw)
    for choice in ({"auto": {}}, {"any": {}}):
        reply = ask(runtime, content, {"tools": [QA_TOOL], "toolChoice": choice})
        assert reply["output"]["message"]["content"][0]["toolUse"]["name"] == "record_qa_pairs"
