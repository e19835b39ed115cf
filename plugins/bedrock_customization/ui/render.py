"""HTML of the results page: Markdown to safe HTML (markdown-it-py), and the page from its Jinja2 template.

Markdown is rendered with raw HTML disabled (it is shown as text), markdown-it's link validation (no
``javascript:``/``vbscript:``/``file:`` links), and every image and relative link rewritten by a callback: a
relative reference becomes the plugin's URL of that S3 object when the run may read it, anything else (an
outside image, a key outside the run) is dropped to its text. The page's Content-Security-Policy allows no
script and images from the API server only, on top of that.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _markdown():
    from markdown_it import MarkdownIt

    # CommonMark plus tables and strikethrough; html=False, linkify=False, typographer=False.
    return MarkdownIt("js-default")


def markdown_html(text: str, resolve: Callable[[str], str | None]) -> Markup:
    """Safe HTML of the Markdown ``text``; ``resolve(reference)`` gives the URL of a relative reference or None.

    Images are kept only when ``resolve`` gives a URL; links keep ``http(s)``/``mailto`` targets and
    resolved relative ones, and lose their target otherwise.
    """
    from markdown_it.token import Token

    md = _markdown()
    tokens = md.parse(text)
    for block in tokens:
        if not block.children:
            continue
        children = []
        for token in block.children:
            if token.type == "image":
                url = resolve(token.attrGet("src") or "")
                if url is None:
                    alt = md.renderer.renderInlineAsText(token.children or [], md.options, {})
                    children.append(Token("text", "", 0, content=f"[image: {alt}]"))
                    continue
                token.attrSet("src", url)
                token.attrSet("loading", "lazy")
            elif token.type == "link_open":
                href = token.attrGet("href") or ""
                if href.startswith(("http://", "https://", "mailto:")):
                    token.attrSet("rel", "noopener noreferrer")
                else:
                    url = resolve(href)
                    if url is None:
                        del token.attrs["href"]
                    else:
                        token.attrSet("href", url)
            children.append(token)
        block.children = children
    return Markup(md.renderer.render(tokens, md.options, {}))


def number(value: Any, digits: int = 4) -> str:
    """A figure for a table: floats with ``digits`` significant digits, None as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.{digits}g}"
    return str(value)


def size(value: Any) -> str:
    """``1.2 MB`` from a byte count."""
    if not isinstance(value, int):
        return ""
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return ""


@cache
def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(number=number, size=size)
    return environment


def page(template: str, context: Mapping[str, Any]) -> str:
    """The HTML of ``templates/<template>`` with ``context`` (autoescaped)."""
    return _environment().get_template(template).render(**context)
