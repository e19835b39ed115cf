"""Text normalisation and tokenisation shared by the metrics; standard library only.

ROUGE needs tokens. rouge-score's default tokenizer keeps only ``[a-z0-9]`` and so turns Japanese or Chinese text
into nothing (or into its digits alone). :class:`MixedScriptTokenizer` splits CJK runs into single characters,
since these scripts do not separate words with spaces, and everything else into words.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MixedScriptTokenizer", "has_cjk", "normalize_answer", "tokenize"]

# Hiragana, katakana (incl. phonetic extensions and half-width forms after NFKC), CJK ideographs (incl.
# extension A and compatibility ideographs) and Hangul syllables.
_CJK_CHARS = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK = re.compile(f"[{_CJK_CHARS}]")
# A token: one CJK character, or a run of letters/digits (Unicode-aware, underscore excluded) that are not CJK.
_TOKEN = re.compile(f"[{_CJK_CHARS}]|[^\\W_{_CJK_CHARS}]+")
_WHITESPACE = re.compile(r"\s+")


def has_cjk(text: str) -> bool:
    """Whether ``text`` contains a Chinese, Japanese or Korean character."""
    return _CJK.search(text) is not None


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` after NFKC and case folding: one per CJK character, one per word otherwise.

    Punctuation and whitespace are dropped. ``tokenize("Plan Pro は25ユーザー")`` is
    ``["plan", "pro", "は", "25", "ユ", "ー", "ザ", "ー"]``.
    """
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


class MixedScriptTokenizer:
    """A tokenizer object for ``rouge_score.rouge_scorer.RougeScorer(tokenizer=...)``; see :func:`tokenize`."""

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text)


def normalize_answer(text: str) -> str:
    """The form compared by exact match: NFKC, case-folded, whitespace collapsed, trailing punctuation stripped.

    ``normalize_answer("  The  Pro plan. ")`` is ``"the pro plan"``; full-width ``"ＡＢＣ。"`` becomes ``"abc"``.
    """
    folded = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    end = len(folded)
    while end and (unicodedata.category(folded[end - 1]).startswith("P") or folded[end - 1].isspace()):
        end -= 1
    return folded[:end]
