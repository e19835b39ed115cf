"""Aligned plain-text tables for task logs (leaderboards, janitor plans, evaluation scores)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def text_table(rows: Iterable[Sequence[Any]], headers: Sequence[str], floatfmt: str = "g") -> str:
    """``rows`` under ``headers`` as an aligned text table, one line per row; None shows as an empty cell."""
    from tabulate import tabulate

    return tabulate(list(rows), headers=list(headers), tablefmt="simple", floatfmt=floatfmt, missingval="")
