"""Telegram HTML for answers and document lists, and splitting of long HTML into messages."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from ..answer import Answer
from ..index import DocumentInfo
from ..ingest import format_date
from . import texts

MAX_MESSAGE = 4096  # Telegram's limit; we measure the HTML source in UTF-16 units, which is never less
_TAG = re.compile(r"(<[^>]+>)")
# A text atom: an entity, a citation marker, white space, a word (at most 64 characters) or one character
_ATOM = re.compile(r"&#?\w+;|\[\d+\]|\s+|[^\s&\[]{1,64}|.", re.DOTALL)
_CITATION_AHEAD = re.compile(r"\s+(?=[\[(]?\[\d+\])")


def esc(text: str) -> str:
    """Escape text for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def answer_html(answer: Answer) -> str:
    """The final answer: text with [n] markers, the notice in italics, then the quoted sources."""
    blocks = [esc(answer.answer)]
    if answer.notice:
        blocks.append(f"<i>{esc(answer.notice)}</i>")
    if answer.refused:
        blocks.append(esc(texts.REFUSED_HINT))
    if answer.citations:
        lines = ["<b>Источники:</b>"]
        for c in answer.citations:
            lines.append(f"[{c.n}] <b>{esc(c.title)}</b>, {esc(format_date(c.date))}")
            lines.append(f"<blockquote>«{esc(c.quote)}»</blockquote>")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def documents_html(documents: Iterable[DocumentInfo], limit: int | None = None) -> str:
    """A bulleted list of documents with their dates; at most `limit` of them, then how many more."""
    docs = list(documents)
    shown = docs if limit is None else docs[:limit]
    lines = [f"• <b>{esc(d.title)}</b> — {esc(d.date_display)}" for d in shown]
    if len(docs) > len(shown):
        lines.append(f"…и ещё {len(docs) - len(shown)} (полный список: /sources)")
    return "\n".join(lines)


def _tag_name(tag: str) -> str:
    return re.match(r"</?\s*([a-zA-Z-]+)", tag).group(1).lower()  # type: ignore[union-attr]


def _atoms(source: str) -> list[tuple[str, bool]]:
    """(piece, is_tag) for every tag and text atom of `source`."""
    out: list[tuple[str, bool]] = []
    for token in _TAG.split(source):
        if token.startswith("<") and token.endswith(">"):
            out.append((token, True))
        elif token:
            out.extend((m.group(0), False) for m in _ATOM.finditer(token))
    return out


def _break_score(piece: str, before: str, after: str, depth: int) -> float:
    """How good a place to cut this white space is (0: never)."""
    if not piece.isspace() or _CITATION_AHEAD.match(piece + after):
        return 0.0  # never separate a claim from its [n]
    score = (
        4.0
        if "\n\n" in piece
        else 3.0
        if "\n" in piece
        else 2.0
        if before.endswith((".", "!", "?", "»"))
        else 1.0
    )
    return score + (1.0 if depth == 0 else 0.0)


def split_html(source: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split HTML into messages of at most `limit` units; tags open at a cut are closed and reopened."""
    if utf16_len(source) <= limit:
        return [source]
    atoms = _atoms(source)
    parts: list[str] = []
    stack: list[str] = []
    start = 0
    while start < len(atoms):
        reopen = "".join(stack)
        end, stack = _cut(atoms, start, limit - utf16_len(reopen), stack)
        closing = "".join(f"</{_tag_name(t)}>" for t in reversed(stack))
        text = (reopen + "".join(piece for piece, _ in atoms[start:end])).rstrip() + closing
        if not re.fullmatch(r"(?:<[^>]+>|\s)*", text):
            parts.append(text.strip())
        start = end
        while start < len(atoms) and atoms[start][0].isspace():
            start += 1
    return parts


def _closing_len(stack: list[str]) -> int:
    return sum(len(_tag_name(t)) + 3 for t in stack)


def _cut(atoms: list[tuple[str, bool]], start: int, room: int, open_tags: list[str]) -> tuple[int, list[str]]:
    """Where the message beginning at `start` ends, and the tags open there.

    The best break (paragraph > line > sentence > word) in the second half of the room wins; failing
    that, the last break in the first half; failing that, the last atom that fits.
    """
    stack = list(open_tags)
    late: tuple[float, int, list[str]] | None = None
    early: tuple[int, list[str]] | None = None
    used = 0
    i = start
    while i < len(atoms):
        piece, is_tag = atoms[i]
        after_stack = stack
        if is_tag:
            after_stack = (
                stack[:-1] if piece.startswith("</") else stack if piece.endswith("/>") else [*stack, piece]
            )
        if i > start and used + utf16_len(piece) + _closing_len(after_stack) > room:
            break
        if not is_tag:
            after = "".join(p for p, _ in atoms[i + 1 : i + 3])
            score = _break_score(piece, atoms[i - 1][0] if i > start else "", after, len(stack))
            if score and i > start:
                if used >= room // 2:
                    if late is None or score >= late[0]:
                        late = (score, i, list(stack))
                else:
                    early = (i, list(stack))
        used += utf16_len(piece)
        stack = after_stack
        i += 1
    if i >= len(atoms):
        return i, []
    if late is not None:
        return late[1], late[2]
    if early is not None:
        return early
    return i, stack
