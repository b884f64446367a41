"""English questions over Russian documents: each English word read as its Russian equivalents.

Dictionary-based query translation (the classic cross-language retrieval technique): the word list is
general English–Russian knowledge in `qa_bot/data/english_russian.json`; regular inflections are
stripped here, irregular forms are entries of their own. The retriever keeps, for each English word,
the equivalent the collection uses most, so BM25 and the sentence choice can match an English question.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files

MAX_PHRASE = 3  # words of the longest English phrase looked up as one entry («sea level»)


@lru_cache(maxsize=1)
def _dictionary() -> dict[str, tuple[str, ...]]:
    data = json.loads(files("qa_bot").joinpath("data", "english_russian.json").read_text(encoding="utf-8"))
    return {k: tuple(v) for k, v in data["words"].items()}


def _stems(word: str) -> list[str]:
    """`word` and the forms regular English inflection would have made it from (plants → plant, studied → study)."""
    out = [word]
    for suffix, repl in (
        ("ies", "y"), ("ied", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"),
        ("er", ""), ("er", "e"), ("est", ""), ("est", "e"), ("'s", ""), ("ly", ""),
    ):  # fmt: skip
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)] + repl
            out.append(base)
            if repl == "" and len(base) > 3 and base[-1] == base[-2] and base[-1] not in "aeiouls":
                out.append(base[:-1])  # stopped → stop, bigger → big
    return out


def equivalents(word: str) -> tuple[str, ...]:
    """Russian lemmas for one English word (lower case), most common sense first; () when unknown."""
    table = _dictionary()
    for form in _stems(word.lower()):
        found = table.get(form)
        if found:
            return found
    return ()


def phrases(tokens: list[str]) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, equivalents) of the English words of `tokens`, longest dictionary phrases first."""
    table = _dictionary()
    out: list[tuple[int, int, tuple[str, ...]]] = []
    i = 0
    while i < len(tokens):
        for n in range(min(MAX_PHRASE, len(tokens) - i), 1, -1):
            found = table.get(" ".join(tokens[i : i + n]))
            if found:
                out.append((i, i + n, found))
                i += n
                break
        else:
            found = equivalents(tokens[i])
            if found:
                out.append((i, i + 1, found))
            i += 1
    return out
