"""What the emulated Bedrock models say: deterministic, pure answer generators.

* A **custom model** answers from its training data: :class:`TrainingMemory` indexes the training
  examples (any Bedrock training format) and :func:`custom_answer` returns the completion of the most
  similar example, degraded in proportion to the job's validation loss, so that better-trained models
  score better against references (ROUGE-L, chrF, BERTScore) and a hyperparameter sweep has a winner.
* A **base model** (:func:`base_answer`) and an **imported model** (:func:`imported_answer`) answer
  generically: they echo a few keywords of the question but do not know the training data.
* :func:`embed` is an embedding model: hashed word and character-trigram features projected into the
  requested dimension, so similar texts get close vectors (cosine) and unrelated ones nearly orthogonal.
* :func:`judge_tool_use` plays an LLM judge called through Converse with a tool whose input schema
  holds the scores; :func:`finish` applies stop sequences and the token budget.
* :func:`document_pairs` answers a forced tool asking for question/answer pairs from the request's
  documents (their text extracted by ``documents``): one pair per sentence, answered by the sentence.

Similarity is TF-IDF-weighted cosine over character 2- and 3-grams (plus whole words) of
NFKC-normalised lowercase text, which works for English and for Japanese (no word segmentation
needed); an inverted index keeps a query over 10,000 examples well under a second. Standard library
only; no clock, no randomness: the same inputs always give the same output.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from typing import Any

from .bodies import ChatRequest

__all__ = [
    "TrainingMemory",
    "base_answer",
    "custom_answer",
    "document_pairs",
    "embed",
    "embedding_tokens",
    "finish",
    "imported_answer",
    "judge_tool_use",
    "similarity",
]

NGRAM_SIZES = (2, 3)
MATCH_THRESHOLD = 0.2
"""Below this similarity to every training example a custom model answers like its base model.

Held-out paraphrases of the sample data mostly score 0.2-0.45, clearly unrelated questions 0.05-0.2."""

# --------------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------------

# Hiragana, katakana, CJK ideographs (incl. extension A) and the CJK symbols/punctuation block.
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"[0-9a-z][0-9a-z_.\-]*[0-9a-z]")
_JA_WORD = re.compile(r"[\u30a0-\u30ff]{2,}|[\u4e00-\u9fff]{2,}")


def _normalize(text: str) -> str:
    """NFKC, lowercase, single spaces."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def _ngrams(text: str) -> Counter[str]:
    """Features of a text: character 2- and 3-grams of the normalised text, plus whole words.

    Words (runs of Latin letters and digits such as ``kl-2050``, and runs of katakana or of kanji such
    as ``解約``) are added as features of their own, prefixed with ``#``: they tell apart texts that
    share phrasing but differ in one code or term.
    """
    normal = _normalize(text)
    if not normal:
        return Counter()
    padded = f" {normal} "
    grams: Counter[str] = Counter()
    for n in NGRAM_SIZES:
        grams.update(padded[i : i + n] for i in range(len(padded) - n + 1))
    grams.update("#" + word for word in _WORD.findall(normal))
    grams.update("#" + word for word in _JA_WORD.findall(normal))
    return grams


def _tf(count: int) -> float:
    return 1.0 + math.log(count)


def similarity(a: str, b: str) -> float:
    """Cosine similarity in [0, 1] of the (sublinear tf, no idf) feature profiles of two texts."""
    ga, gb = _ngrams(a), _ngrams(b)
    if not ga or not gb:
        return 0.0
    dot = sum(_tf(c) * _tf(gb[g]) for g, c in ga.items() if g in gb)
    norm_a = math.sqrt(sum(_tf(c) ** 2 for c in ga.values()))
    norm_b = math.sqrt(sum(_tf(c) ** 2 for c in gb.values()))
    return max(0.0, min(1.0, dot / (norm_a * norm_b)))


def _is_japanese(text: str) -> bool:
    """True when at least a fifth of the non-space characters are kana/kanji."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return False
    return sum(1 for c in chars if _CJK.match(c)) / len(chars) >= 0.2


def _hash_unit(*parts: object) -> float:
    """A stable number in [0, 1) derived from the parts (same on every run and platform)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _last_user_text(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if message.get("role") == "user":
            return str(message.get("text", ""))
    return ""


def _estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


_STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as into about over under after before
    is are was were be been being do does did done have has had can could should would will shall may
    might must i me my we our you your it its this that these those there here what which who whom
    whose when where why how much many any some each every all not no yes so than then too very just
    also get got give please tell know need want use used using make able like kumo ledger""".split()
)
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'\-]*[A-Za-z0-9]")
_JA_KEYWORD = re.compile(r"[\u30a0-\u30ff]{2,}|[\u4e00-\u9fff]{2,}|[A-Za-z][A-Za-z0-9\-]+")


def _keywords(text: str, limit: int = 3) -> list[str]:
    """The first few content words of a question (katakana/kanji runs for Japanese)."""
    text = unicodedata.normalize("NFKC", text)
    found: list[str] = []
    if _is_japanese(text):
        candidates = _JA_KEYWORD.findall(text)
    else:
        candidates = [w for w in _EN_WORD.findall(text) if len(w) >= 4 and w.lower() not in _STOPWORDS]
    for word in candidates:
        if word.lower() in _STOPWORDS or word in found:
            continue
        found.append(word)
        if len(found) == limit:
            break
    return found


def _join_en(words: list[str]) -> str:
    if not words:
        return "this topic"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


# --------------------------------------------------------------------------------------------------
# Training memory
# --------------------------------------------------------------------------------------------------


def _content_text(content: Any) -> str:
    """Text of a training message's content: a string or a list of ``{"text": ...}`` blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            block["text"]
            for block in content
            if isinstance(block, dict) and isinstance(block.get("text"), str)
        )
    return ""


def _record_pairs(record: dict) -> tuple[list[tuple[str, str]], list[str]]:
    """(prompt, completion) pairs of one training record, and prompts that have no answer."""
    if isinstance(record.get("messages"), list):
        pairs, unanswered = [], []
        last_user = None
        for message in record["messages"]:
            if not isinstance(message, dict):
                continue
            text = _content_text(message.get("content")).strip()
            if message.get("role") == "user":
                if last_user:
                    unanswered.append(last_user)
                last_user = text
            elif message.get("role") == "assistant" and last_user is not None and text:
                # Each assistant turn answers the conversation so far; its latest user turn is the key.
                pairs.append((last_user, text))
                last_user = None
        reference = record.get("reference_answer")
        if last_user and isinstance(reference, str) and reference.strip():
            # Reinforcement fine-tuning: the grader rewards responses close to the reference answer.
            pairs.append((last_user, reference.strip()))
        elif last_user:
            unanswered.append(last_user)  # distillation prompt (no assistant turn)
        return pairs, unanswered
    prompt = record.get("prompt")
    completion = record.get("completion")
    if isinstance(prompt, str) and isinstance(completion, str) and completion.strip():
        return [(prompt.strip(), completion.strip())], []
    if isinstance(prompt, str) and prompt.strip():
        return [], [prompt.strip()]
    if isinstance(record.get("input"), str) and record["input"].strip():
        # Continued pre-training: the model absorbs the text; a related question recalls it.
        text = record["input"].strip()
        return [(text, text)], []
    return [], []


class _NgramIndex:
    """Inverted index of L2-normalised TF-IDF feature vectors (see :func:`_ngrams`) for cosine search."""

    def __init__(self, documents: list[str]) -> None:
        profiles = [_ngrams(d) for d in documents]
        document_frequency: Counter[str] = Counter()
        for grams in profiles:
            document_frequency.update(grams.keys())
        self._size = len(profiles)
        self._idf = {g: math.log((1 + self._size) / (1 + df)) + 1.0 for g, df in document_frequency.items()}
        self._unseen_idf = math.log(1 + self._size) + 1.0
        self._postings: dict[str, list[tuple[int, float]]] = {g: [] for g in document_frequency}
        idf, log = self._idf, math.log
        for index, grams in enumerate(profiles):
            weights = [(g, (1.0 + log(c)) * idf[g]) for g, c in grams.items()]
            norm = math.sqrt(sum(w * w for _, w in weights)) or 1.0
            for gram, weight in weights:
                self._postings[gram].append((index, weight / norm))

    def scores(self, grams: Counter[str]) -> dict[int, float]:
        """Cosine similarity of the query profile to every document sharing a feature with it."""
        weights = {g: _tf(c) * self._idf.get(g, self._unseen_idf) for g, c in grams.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        totals = [0.0] * self._size
        for gram, weight in weights.items():
            scale = weight / norm
            for index, doc_weight in self._postings.get(gram, ()):
                totals[index] += scale * doc_weight
        return {index: total for index, total in enumerate(totals) if total > 0.0}


class TrainingMemory:
    """What a custom model learned: the training examples, searchable by similarity.

    An example's similarity to a question blends the question's similarity to the example's prompt
    (weight ``1 - ANSWER_WEIGHT``) and to its completion (weight ``ANSWER_WEIGHT``): a fine-tuned
    model learns the answers' content too, so a paraphrase that shares words with the answer but not
    with the training question is still recalled.
    """

    ANSWER_WEIGHT = 0.5

    def __init__(self, pairs: list[tuple[str, str]], unanswered: list[str] | None = None) -> None:
        self.prompts: list[str] = [p for p, _ in pairs]
        self.completions: list[str] = [c for _, c in pairs]
        self.unanswered: list[str] = list(unanswered or [])
        """Prompts without an answer (distillation data): the teacher would answer them."""
        distinct: dict[str, int] = {}
        self._answer_of = [distinct.setdefault(c, len(distinct)) for c in self.completions]
        self._examples_of: list[list[int]] = [[] for _ in distinct]
        for example, answer in enumerate(self._answer_of):
            self._examples_of[answer].append(example)
        self._prompt_index = _NgramIndex(self.prompts)
        self._answer_index = _NgramIndex(list(distinct))

    @classmethod
    def from_jsonl(cls, text: str) -> TrainingMemory:
        """Parse training data in any Bedrock format, one JSON record per line (blank lines skipped).

        Understands ``{"prompt", "completion"}``, Claude ``{"system", "messages"}`` with string content,
        ``bedrock-conversation-2024`` with content blocks, continued pre-training ``{"input"}`` and
        distillation prompts (no assistant turn; kept in :attr:`unanswered`). In multi-turn records each
        assistant turn answers the conversation so far and is keyed by the user turn before it. Records
        of any other shape are ignored; a line that is not a JSON object raises ``ValueError``.
        """
        pairs: list[tuple[str, str]] = []
        unanswered: list[str] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"line {number}: not valid JSON ({err.msg})") from err
            if not isinstance(record, dict):
                raise ValueError(f"line {number}: a record must be a JSON object")
            record_pairs, record_unanswered = _record_pairs(record)
            pairs.extend(record_pairs)
            unanswered.extend(record_unanswered)
        return cls(pairs, unanswered)

    def __len__(self) -> int:
        return len(self.prompts)

    def nearest(self, prompt: str) -> tuple[str, float]:
        """Completion of the training example most similar to ``prompt`` and the similarity in [0, 1].

        Ties go to the earliest example. An empty memory (or an empty prompt) answers ``("", 0.0)``.
        """
        grams = _ngrams(prompt)
        if not self.prompts or not grams:
            return "", 0.0
        weight = self.ANSWER_WEIGHT
        combined = {i: (1.0 - weight) * s for i, s in self._prompt_index.scores(grams).items()}
        for answer, score in self._answer_index.scores(grams).items():
            for example in self._examples_of[answer]:
                combined[example] = combined.get(example, 0.0) + weight * score
        if not combined:
            return self.completions[0], 0.0
        best = min(combined, key=lambda i: (-combined[i], i))
        return self.completions[best], max(0.0, min(1.0, combined[best]))


# --------------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------------

_EN_FILLER = ("some", "various", "the", "related", "certain", "usual", "relevant", "general")
_JA_FILLER = ("など", "いくつか", "関連の", "一般的な", "その他", "各種")
_UNIT = re.compile(
    r"\s+|[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+|[^\s\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+"
)
_JA_CHUNK = 3


def _quality(validation_loss: float) -> float:
    """Answer quality in [0.05, 1] for a validation loss: 1 at 0.15 or below, minus 1/3 per unit above."""
    if not math.isfinite(validation_loss):
        return 0.05
    return max(0.05, min(1.0, 1.0 - (validation_loss - 0.15) / 3.0))


def _degrade(text: str, quality: float, seed: str) -> str:
    """Replace or drop a fraction ``1 - quality`` of the words (3-character chunks for Japanese).

    Which units change depends only on a stable hash of (seed, position), so a higher quality changes a
    subset of the units a lower quality changes: lower loss never gives a worse answer for a prompt.
    """
    if quality >= 1.0:
        return text
    units: list[str] = []
    for piece in _UNIT.findall(text):
        if _CJK.match(piece):
            units.extend(piece[i : i + _JA_CHUNK] for i in range(0, len(piece), _JA_CHUNK))
        else:
            units.append(piece)
    out: list[str] = []
    position = 0
    for unit in units:
        if unit.isspace():
            out.append(unit)
            continue
        position += 1
        if _hash_unit(seed, position) >= 1.0 - quality:
            out.append(unit)
            continue
        choice = _hash_unit(seed, position, "filler")
        if choice < 0.3:
            continue  # dropped
        filler = _JA_FILLER if _CJK.match(unit) else _EN_FILLER
        out.append(filler[int(choice * 1000) % len(filler)])
    # Dropping units can leave doubled spaces; tidy them without touching newlines.
    return re.sub(r"[ \t]{2,}", " ", "".join(out)).strip()


def custom_answer(memory: TrainingMemory, request: ChatRequest, validation_loss: float) -> str:
    """Answer of a custom model trained on ``memory`` whose job reached ``validation_loss``.

    The completion of the training example most similar to the last user turn, with a fraction of its
    words replaced by filler in proportion to the loss. Questions unlike anything in the training data
    (similarity below :data:`MATCH_THRESHOLD`) get a generic base-model answer.
    """
    prompt = _last_user_text(request)
    completion, score = memory.nearest(prompt)
    if not completion or score < MATCH_THRESHOLD:
        return base_answer(request, "custom-model")
    return _degrade(completion, _quality(validation_loss), prompt)


_EN_TEMPLATES = (
    "I don't have specific information about {kw}. These details usually depend on the product, the plan "
    "and how the account is configured, so please check the official documentation or ask the vendor's "
    "support team for the exact figures.",
    "Details such as {kw} vary between products and subscription tiers. I recommend reviewing the help "
    "center or the administration settings, where the current limits and options are normally listed.",
    "I'm not certain about {kw} for this particular service. Most software vendors describe this in their "
    "pricing page or API reference, and their support staff can confirm what applies to your account.",
)
_JA_TEMPLATES = (
    "{kw}について、具体的な情報は持っていません。一般的にはプランや契約内容によって異なるため、"
    "公式ドキュメントを確認するか、サポート窓口にお問い合わせください。",
    "{kw}の詳細は製品やプランによって変わります。最新の情報は管理画面のヘルプや公式サイトで"
    "ご確認いただくことをおすすめします。",
    "{kw}については、サービスごとに仕様が異なるため正確にはお答えできません。"
    "提供元のサポートに問い合わせると確実です。",
)

_TAG = {name: re.compile(rf"<{name}>(.*?)</{name}>", re.S | re.I) for name in ("reference", "response")}


def _judge_pair(request: ChatRequest) -> tuple[str, str] | None:
    """(reference, response) from the tagged judge prompt, looking at the last user turn first."""
    everything = "\n".join([request.system, *(str(m.get("text", "")) for m in request.messages)])
    texts = [_last_user_text(request), everything]
    for text in texts:
        reference, response = _TAG["reference"].search(text), _TAG["response"].search(text)
        if reference and response:
            return reference.group(1).strip(), response.group(1).strip()
    return None


def base_answer(request: ChatRequest, model_id: str) -> str:
    """Generic answer of a base model: echoes a few keywords but knows nothing of the training data.

    Japanese questions get Japanese answers. A judge prompt (``<reference>``/``<response>`` tags)
    without tools gets a short textual verdict ending in ``Score: N/10``.
    """
    prompt = _last_user_text(request)
    pair = _judge_pair(request)
    if pair is not None:
        match = similarity(*pair)
        return f"{_rationale(match)}\n\nScore: {_scale(match, 1, 10, integer=True)}/10"
    words = _keywords(prompt)
    pick = int(_hash_unit(prompt, model_id) * len(_EN_TEMPLATES))
    if _is_japanese(prompt):
        kw = "・".join(f"「{w}」" for w in words) if words else "ご質問の件"
        return _JA_TEMPLATES[pick].format(kw=kw)
    return _EN_TEMPLATES[pick].format(kw=_join_en(words))


def imported_answer(request: ChatRequest, model_name: str) -> str:
    """Generic answer of an imported model, in several paragraphs separated by blank lines."""
    prompt = _last_user_text(request)
    words = _keywords(prompt)
    if _is_japanese(prompt):
        kw = "・".join(f"「{w}」" for w in words) if words else "ご質問の件"
        return (
            f"これはAmazon Bedrockにインポートされたモデル「{model_name}」の回答です。\n\n"
            f"{kw}についてのご質問ですね。このモデルは自身の重みだけで回答しており、"
            "製品固有の資料では学習していません。\n\n"
            "正確な情報は公式ドキュメントやサポート窓口でご確認ください。"
        )
    return (
        f"This answer comes from {model_name}, a model imported into Amazon Bedrock.\n\n"
        f"You asked about {_join_en(words)}. An imported model answers from its own weights only and was "
        "not trained on your product documentation.\n\n"
        "For exact limits, prices or error codes, please consult the official documentation or support."
    )


# --------------------------------------------------------------------------------------------------
# Judge
# --------------------------------------------------------------------------------------------------


def _scale(score: float, low: float, high: float, *, integer: bool) -> float | int:
    value = low + score * (high - low)
    if integer:
        return int(max(math.ceil(low), min(math.floor(high), round(value))))
    return round(float(max(low, min(high, value))), 2)


def _rationale(score: float) -> str:
    if score >= 0.7:
        verdict = "closely matches the reference answer and keeps its specific facts"
    elif score >= 0.4:
        verdict = "partly matches the reference answer but misses or changes some specifics"
    else:
        verdict = "does not match the reference answer and lacks its specific facts"
    return f"The response {verdict} (character overlap {score:.2f})."


def _schema_type(schema: dict) -> str:
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return str(kind)


def _fill(schema: dict, score: float, has_pair: bool) -> Any:
    """A value satisfying a JSON schema, driven by the similarity ``score``."""
    kind = _schema_type(schema)
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        options = schema["enum"]
        return options[min(len(options) - 1, int(score * len(options)))]
    if kind in ("number", "integer"):
        integer = kind == "integer"
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        low = 1 if not isinstance(low, int | float) else low
        high = max(low, 10) if not isinstance(high, int | float) else high
        step = 1 if integer else 0.01
        if "minimum" not in schema and isinstance(schema.get("exclusiveMinimum"), int | float):
            low += step
        if "maximum" not in schema and isinstance(schema.get("exclusiveMaximum"), int | float):
            high -= step
        return _scale(score, low, max(low, high), integer=integer)
    if kind == "boolean":
        return score > 0.5
    if kind == "object":
        properties = schema.get("properties") or {}
        return {
            name: _fill(sub if isinstance(sub, dict) else {}, score, has_pair)
            for name, sub in properties.items()
        }
    if kind == "array":
        return []
    if kind == "null":
        return None
    if not has_pair:
        return "No reference and response were found to compare, so a middling score was given."
    return _rationale(score)


def _tagged(text: str, name: str) -> str | None:
    match = re.search(rf"<{re.escape(name)}>(.*?)</{re.escape(name)}>", text, re.S | re.I)
    return match.group(1).strip() if match else None


def _comparison(scores: dict[str, float]) -> str:
    """The rationale of a side-by-side judgement: each response against the reference, then the winner."""
    labels = {name: " ".join(word.capitalize() for word in name.split("_")) for name in scores}  # Response A
    parts = [_rationale(score).replace("The response", labels[name], 1) for name, score in scores.items()]
    ranked = sorted(scores, key=lambda name: -scores[name])
    if scores[ranked[0]] - scores[ranked[-1]] < 0.01:
        parts.append("Both are equally close to the reference, so they score alike.")
    else:
        parts.append(
            f"{labels[ranked[0]]} is closer to the reference than {labels[ranked[-1]]}, so it scores higher."
        )
    return " ".join(parts)


def _side_by_side(schema: dict, text: str) -> dict | None:
    """The tool input of a side-by-side judgement, or None when the request is not one.

    It is one when the prompt holds a ``<reference>`` and the tool's schema has at least two object
    properties whose names are tags in the prompt (``response_a`` for ``<response_a>...</response_a>``):
    each such object is filled from its own response's similarity to the reference, so the response
    closer to the reference scores higher in whichever position it is; top-level strings get the
    comparison (:func:`_comparison`); anything else is filled from the mean similarity.
    """
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    reference = _tagged(text, "reference")
    if reference is None:
        return None
    scores: dict[str, float] = {}
    for name, sub in properties.items():
        if isinstance(sub, dict) and _schema_type(sub) == "object":
            response = _tagged(text, str(name))
            if response is not None:
                scores[name] = similarity(reference, response)
    if len(scores) < 2:
        return None
    mean = sum(scores.values()) / len(scores)
    value: dict[str, Any] = {}
    for name, sub in properties.items():
        sub = sub if isinstance(sub, dict) else {}
        if name in scores:
            value[name] = _fill(sub, scores[name], True)
        elif _schema_type(sub) == "string" and not sub.get("enum"):
            value[name] = _comparison(scores)
        else:
            value[name] = _fill(sub, mean, True)
    return value


def judge_tool_use(request: ChatRequest) -> dict | None:
    """A ``toolUse`` block answering a judge prompt, or None when no tool is to be used.

    The tool is the one named by ``toolChoice`` or the only tool configured. Its input fills the tool's
    JSON schema: numbers get a score in their minimum..maximum (default 1..10) from the character
    n-gram similarity of the ``<reference>`` and ``<response>`` texts (middling if the tags are
    absent), strings a one-sentence rationale, booleans ``similarity > 0.5``.

    A side-by-side judgement (see :func:`_side_by_side`: one object property per response, each
    named like the tag that holds it) scores each response by its own similarity to the reference,
    wherever it stands, and explains which one is closer.
    """
    config = request.tool_config
    if not isinstance(config, dict):
        return None
    specs = [
        tool["toolSpec"]
        for tool in config.get("tools") or []
        if isinstance(tool, dict) and isinstance(tool.get("toolSpec"), dict)
    ]
    choice = config.get("toolChoice") or {}
    named = choice.get("tool", {}).get("name") if isinstance(choice.get("tool"), dict) else None
    if named is not None:
        spec = next((s for s in specs if s.get("name") == named), None)
    else:  # {"any": {}}: the model must call some tool, the first; {"auto": {}}: the only one, if one
        spec = specs[0] if len(specs) == 1 or (specs and "any" in choice) else None
    if spec is None:
        return None
    schema: Any = (spec.get("inputSchema") or {}).get("json") or {}
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError:
            schema = {}
    if not isinstance(schema, dict):
        schema = {}
    value = _side_by_side(schema, _last_user_text(request))
    if value is None:
        value = document_pairs(schema, request)
    if value is None:
        pair = _judge_pair(request)
        score = similarity(*pair) if pair is not None else 0.5
        value = _fill({**schema, "type": "object"}, score, pair is not None)
    digest = hashlib.sha256(f"{spec.get('name')}\x1f{_last_user_text(request)}".encode()).digest()
    tool_use_id = "tooluse_" + base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")
    return {"toolUseId": tool_use_id, "name": spec["name"], "input": value}


# --------------------------------------------------------------------------------------------------
# Question/answer pairs from documents
# --------------------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")
_PAIR_KEYS = ("question", "answer")
DEFAULT_PAIRS = 5


def _pair_array(schema: dict) -> tuple[str, dict] | None:
    """(name, schema) of the schema's array property whose items are objects with question and answer."""
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    for name, sub in properties.items():
        if not isinstance(sub, dict) or _schema_type(sub) != "array":
            continue
        items = sub.get("items") if isinstance(sub.get("items"), dict) else {}
        keys = {str(key).lower() for key in (items.get("properties") or {})}
        if all(key in keys for key in _PAIR_KEYS):
            return str(name), sub
    return None


def sentences(text: str) -> list[str]:
    """The sentences of a document's text worth a question: four words or more (ten characters in Japanese),
    at most 400 characters; lines of a paragraph joined, paragraphs never."""
    found = []
    for paragraph in re.split(r"\n\s*\n", text):
        joined = _WHITESPACE.sub(" ", paragraph).strip()
        for sentence in _SENTENCE_END.split(joined):
            sentence = sentence.strip()
            long_enough = len(sentence) >= 10 if _is_japanese(sentence) else len(sentence.split()) >= 4
            if long_enough and len(sentence) <= 400:
                found.append(sentence)
    return found


def _question(sentence: str, document: str) -> str:
    words = _keywords(sentence)
    if _is_japanese(sentence):
        kw = "・".join(f"「{w}」" for w in words) if words else "内容"
        return f"{document}では{kw}について何と書かれていますか？"
    return f"What does {document} say about {_join_en(words)}?"


def document_pairs(schema: dict, request: ChatRequest) -> dict | None:
    """The input of a tool asking for question/answer pairs, written from the request's documents; None
    when the tool asks for no such pairs or the request has no document.

    Each document sentence (:func:`sentences`), in order, gives one pair: a question naming the document
    and the sentence's first content words, answered by the sentence itself. A question already in the
    prompt (listed as written) is skipped; the array's ``maxItems`` (else ``minItems``, else
    :data:`DEFAULT_PAIRS`) pairs are returned, fewer when the documents run out of sentences.
    """
    found = _pair_array(schema)
    if found is None or not request.documents:
        return None
    name, array = found
    count = array.get("maxItems", array.get("minItems", DEFAULT_PAIRS))
    count = count if isinstance(count, int) and count > 0 else DEFAULT_PAIRS
    prompt = _last_user_text(request)
    pairs: list[dict] = []
    asked: set[str] = set()
    for document in request.documents:
        for sentence in sentences(str(document.get("text", ""))):
            question = _question(sentence, document["name"])
            if question in asked or question in prompt:
                continue
            asked.add(question)
            pairs.append({"question": question, "answer": sentence})
            if len(pairs) == count:
                break
        if len(pairs) == count:
            break
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    value = {key: _fill(sub if isinstance(sub, dict) else {}, 0.5, False) for key, sub in properties.items()}
    value[name] = pairs
    return value


# --------------------------------------------------------------------------------------------------
# Stop sequences and token budget
# --------------------------------------------------------------------------------------------------


def finish(text: str, request: ChatRequest) -> tuple[str, str, int, int]:
    """Apply the request's stop sequences and token budget to an answer.

    Returns (text cut before the first stop sequence and at ``max_tokens``, stop_reason, input_tokens,
    output_tokens) with Converse stop reasons (``end_turn``, ``stop_sequence``, ``max_tokens``). Tokens
    are estimated as ceil(characters / 4), at least 1.
    """
    reason = "end_turn"
    cuts = [text.find(s) for s in request.stop_sequences if s and s in text]
    if cuts:
        text = text[: min(cuts)]
        reason = "stop_sequence"
    if request.max_tokens is not None and _estimate_tokens(text) > request.max_tokens:
        text = text[: max(0, request.max_tokens) * 4]
        reason = "max_tokens"
    prompt_chars = len(request.system) + sum(len(str(m.get("text", ""))) for m in request.messages)
    return text, reason, max(1, math.ceil(prompt_chars / 4)), _estimate_tokens(text)


# --------------------------------------------------------------------------------------------------
# Embeddings
# --------------------------------------------------------------------------------------------------

_EMBED_WORD = re.compile(r"[0-9a-z]+(?:['.\-][0-9a-z]+)*|[\u30a0-\u30ff]{2,}|[\u4e00-\u9fff]{2,}")
_EMBED_HASHES = 2
"""Buckets per feature: each feature adds to two (signed) coordinates, which keeps collisions harmless."""
WORD_WEIGHT = 1.0
TRIGRAM_WEIGHT = 0.35


def _embedding_features(text: str) -> dict[str, float]:
    """Weighted features of a text: lowercased words (and CJK runs) plus character trigrams of each word.

    Words carry the meaning (shared words make texts close); trigrams make inflections and typos
    ("password"/"passwords") close too. Sublinear term frequency, as in :func:`similarity`.
    """
    normal = _normalize(text)
    counts: Counter[str] = Counter()
    weights: dict[str, float] = {}
    for word in _EMBED_WORD.findall(normal):
        counts["w:" + word] += 1
        weights["w:" + word] = WORD_WEIGHT
        padded = f"<{word}>"
        for i in range(len(padded) - 2):
            gram = "t:" + padded[i : i + 3]
            counts[gram] += 1
            weights[gram] = TRIGRAM_WEIGHT
    return {feature: weights[feature] * _tf(count) for feature, count in counts.items()}


def embed(text: str, dimensions: int, model: str, *, normalize: bool = True, extra: str = "") -> list[float]:
    """A deterministic embedding of ``text`` in ``dimensions`` coordinates, no weights involved.

    Each feature (see :func:`_embedding_features`) is hashed, with ``model`` as the seed, to
    :data:`_EMBED_HASHES` coordinates and a sign per coordinate (a signed random projection of the
    bag of features), so the cosine of two embeddings approximates the weighted overlap of their
    features: paraphrases score high, unrelated texts near 0. ``extra`` (e.g. image bytes) adds a
    feature of its own. With ``normalize`` the vector has unit L2 norm; without it the norm grows
    with the text like a raw model output. Values are rounded to 8 decimals.
    """
    features = _embedding_features(text)
    if extra:
        features["x:" + hashlib.sha256(extra.encode("utf-8")).hexdigest()] = 2.0
    if not features:
        features = {"empty:": 1.0}
    vector = [0.0] * dimensions
    for feature, weight in features.items():
        digest = hashlib.blake2b(f"{model}\x1f{feature}".encode(), digest_size=8 * _EMBED_HASHES).digest()
        for k in range(_EMBED_HASHES):
            value = int.from_bytes(digest[8 * k : 8 * k + 8], "big")
            sign = 1.0 if value & 1 else -1.0
            vector[(value >> 1) % dimensions] += sign * weight
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        vector[0], norm = 1.0, 1.0
    scale = 1.0 / norm if normalize else 0.05
    return [round(v * scale, 8) for v in vector]


def embedding_tokens(text: str) -> int:
    """Input token count of an embedding request: about one token per word piece (0 for no text)."""
    words = _EMBED_WORD.findall(_normalize(text))
    return sum(max(1, math.ceil(len(w) / 6)) for w in words) + len(re.findall(r"[^\w\s]", text))
