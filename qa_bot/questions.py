"""What a question asks: cleaned text, language, the kind of answer wanted, whether it leans on earlier turns.

The word lists are general Russian (and English) knowledge kept in `qa_bot/data/answer_types.json`.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from . import messages
from .errors import UsageError
from .text import is_dictionary_word, lemma, normalize_spaces, words


@dataclass(frozen=True)
class AnswerTypes:
    patterns: dict[str, re.Pattern[str]]
    number_lemmas: frozenset[str]
    month_lemmas: frozenset[str]
    time_units: frozenset[str]
    reason_markers: re.Pattern[str]
    followup_cues: frozenset[str]
    followup_openers: tuple[str, ...]
    question_words: tuple[str, ...]


@lru_cache(maxsize=1)
def answer_types() -> AnswerTypes:
    data = json.loads(files("qa_bot").joinpath("data", "answer_types.json").read_text(encoding="utf-8"))
    return AnswerTypes(
        patterns={k: re.compile("|".join(v), re.IGNORECASE) for k, v in data["question_patterns"].items()},
        number_lemmas=frozenset(data["number_lemmas"]),
        month_lemmas=frozenset(data["month_lemmas"]),
        time_units=frozenset(data["time_unit_lemmas"]),
        reason_markers=re.compile(
            r"(?<!\w)(?:" + "|".join(re.escape(m) for m in data["reason_markers"]) + r")(?!\w)", re.IGNORECASE
        ),
        followup_cues=frozenset(data["followup_cues"]),
        followup_openers=tuple(sorted(data["followup_openers"], key=len, reverse=True)),
        question_words=tuple(data["question_words"]),
    )


def is_russian(text: str) -> bool:
    """True when at least half of the letters are Cyrillic (or there are no letters)."""
    letters = [c for c in text if c.isalpha()]
    return not letters or sum("а" <= c.lower() <= "я" or c.lower() == "ё" for c in letters) >= 0.5 * len(letters)


def clean_question(question: str, limit: int) -> tuple[str, str | None]:
    """The question normalised (odd spaces, dashes, zero-width characters) and cut to `limit`
    characters at a word boundary; (text, notice or None). UsageError for an empty question."""
    text = re.sub(r"\s+", " ", normalize_spaces(question or "")).strip()
    if not text or not re.search(r"\w", text):
        raise UsageError(messages.EMPTY_QUESTION)
    if len(text) <= limit:
        return text, None
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut, messages.question_cut(len(text), limit)


def answer_type(question: str) -> str | None:
    """duration, date, number, person, place or reason — the first kind whose question words occur."""
    types = answer_types()
    for kind, pattern in types.patterns.items():
        if pattern.search(question):
            return kind
    # a misspelt question word («Сколко вагонов …?»): a word no dictionary knows, read as the closest one
    for w in words(question)[:3]:
        if len(w) >= 4 and not is_dictionary_word(w):
            close = difflib.get_close_matches(w, types.question_words, n=1, cutoff=0.8)
            if close:
                fixed = re.sub(rf"(?<!\w){w}(?!\w)", close[0], question.lower(), count=1)
                return next((kind for kind, pattern in types.patterns.items() if pattern.search(fixed)), None)
    return None


def leans_on_history(question: str) -> bool:
    """True when the question refers back (a pronoun, "А …?" ellipsis) rather than standing alone."""
    types = answer_types()
    low = question.lower().strip()
    if any(low.startswith(o + " ") for o in types.followup_openers):
        return True
    return any(w in types.followup_cues for w in words(question))


def sentence_evidence(sentence: str) -> set[str]:
    """The answer kinds a sentence can serve: number, date, duration, person, place, reason."""
    types = answer_types()
    found: set[str] = set()
    tokens = words(sentence)
    lems = [lemma(w) for w in tokens]
    has_digit = any(w.isdigit() for w in tokens)
    if has_digit or any(lm in types.number_lemmas for lm in lems):
        found.add("number")
    if re.search(r"(?<!\d)(?:1[89]|20)\d\d(?!\d)", sentence) or any(lm in types.month_lemmas for lm in lems):
        found.add("date")
    for i, lm in enumerate(lems):
        if lm in types.time_units and i > 0 and (tokens[i - 1].isdigit() or lems[i - 1] in types.number_lemmas):
            found.add("duration")
            if lm == "год" or lm == "лет":
                found.add("date")
    if types.reason_markers.search(sentence):
        found.add("reason")
    grams = _name_grammemes(sentence)
    if grams & {"Name", "Surn", "Patr"}:
        found.add("person")
    if "Geox" in grams:
        found.add("place")
    return found


def _name_grammemes(sentence: str) -> set[str]:
    """Name-like grammemes (pymorphy3: Name, Surn, Patr, Geox, Orgn) of the capitalised words."""
    from .text import _morph

    out: set[str] = set()
    for m in re.finditer(r"(?<![\w-])[А-ЯЁ][а-яё]{2,}", sentence):
        for parse in _morph().parse(m.group())[:2]:
            out |= {g for g in ("Name", "Surn", "Patr", "Geox", "Orgn") if g in parse.tag}
    return out


@lru_cache(maxsize=1)
def _translit() -> list[tuple[str, str]]:
    data = json.loads(files("qa_bot").joinpath("data", "translit.json").read_text(encoding="utf-8"))
    return [(a, b) for a, b in data["map"]]


def cyrillic_reading(word: str) -> str:
    """A romanised Russian word read back in Cyrillic («vologda» → «вологда»); other letters are kept."""
    out, i, word = [], 0, word.lower()
    table = _translit()
    while i < len(word):
        for latin, cyr in table:
            if word.startswith(latin, i):
                out.append(cyr)
                i += len(latin)
                break
        else:
            out.append(word[i])
            i += 1
    return "".join(out)
