"""Russian text helpers shared by the pipeline: normalisation, sentences, word forms to lemmas."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import razdel

# Dashes and hyphens of all kinds become "-", odd spaces become " ", zero-width characters go.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_SPACES = "\u00a0\u2007\u202f\u2009\u200a\u2002\u2003\u3000\t"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_UNIFY = dict.fromkeys(map(ord, _DASHES), "-") | dict.fromkeys(map(ord, _SPACES), " ") | dict.fromkeys(
    map(ord, _ZERO_WIDTH), None
)
_ODD = re.compile(f"[{_DASHES}{_SPACES}{_ZERO_WIDTH}]| {{2,}}")

_WORD_RE = re.compile(r"[0-9a-zа-яё]+|%", re.IGNORECASE)

# Lemmas that name the same thing: the lexical index stores the right-hand form.
SYNONYMS = {"белоруссия": "беларусь", "рб": "беларусь", "рф": "россия", "%": "процент"}

# Function words and question words: they carry no topic, so lexical search ignores them.
STOP_WORDS = frozenset(
    """
    а без более бы был была были было быть в вам вас ведь весь во вот все всё всего всех вы где да даже для до
    его ее её ей ему если есть еще ещё же за здесь и из или им их к как какая какие каким какой каков какова
    каковы ко когда кого который кто ли либо лишь между меня мне много может можно мой мы на над надо наш не
    него нее неё нет ни них но ну о об однако он она они оно от очень по под при про с сам свой себя со так
    также такой там те тем то того тоже той только том ту тут ты у уж уже хотя чего чей чем что чтобы чье чьё
    эта эти это этот этого этой этом я сколько зачем почему откуда куда каком какую каких какому ли ль скока
    скоко
    the a an of in on at to for by with is are was were what which who whom how many much when where why
    did does do and or
    """.split()
)


def normalize_spaces(text: str) -> str:
    """NFC, unify dashes and spaces, drop zero-width characters, collapse runs of spaces."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if not _ODD.search(text):  # the common case: nothing to change (this runs for every chunk and query)
        return text
    return re.sub(r" {2,}", " ", text.translate(_UNIFY))


def fold(text: str) -> str:
    """Lower case with ё→е: the form used for comparing strings."""
    return text.lower().replace("ё", "е")


def normalize_for_match(text: str) -> str:
    """Lower case, ё→е, punctuation removed, spaces collapsed (evaluation and quote matching)."""
    text = fold(normalize_spaces(text))
    text = re.sub(r"[^\w%]+", " ", text)
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """Word tokens (letters, digits or "%"), lower case; "Ил-76" gives ["ил", "76"]."""
    return [w.lower() for w in _WORD_RE.findall(normalize_spaces(text))]


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    text: str


def sentences(text: str) -> list[Span]:
    """Sentence spans of `text` (razdel, rule-based for Russian); offsets index into `text`."""
    spans: list[Span] = []
    for paragraph in re.finditer(r"[^\n]+", text):
        base = paragraph.start()
        pending: Span | None = None
        for s in razdel.sentenize(paragraph.group()):
            if not s.text.strip():
                continue
            span = Span(base + s.start, base + s.stop, s.text)
            if pending is not None:  # the previous "sentence" ended inside quotes: "ИННОПРОМ. Беларусь"
                span = Span(pending.start, span.end, text[pending.start : span.end])
            pending = span if _open_quote(span.text) else None
            if pending is None:
                spans.append(span)
        if pending is not None:
            spans.append(pending)
    return spans


def _open_quote(sentence: str) -> bool:
    """True when the sentence ends inside a short quoted name ("ИННОПРОМ. Беларусь"), not a quoted speech."""
    if sentence.count('"') % 2 == 1:
        tail = sentence[sentence.rfind('"') + 1 :]
    elif sentence.count("«") > sentence.count("»"):
        tail = sentence[sentence.rfind("«") + 1 :]
    else:
        return False
    return len(tail.split()) <= 3


@lru_cache(maxsize=1)
def _morph():  # noqa: ANN202 - pymorphy3 has no type stubs
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=300_000)
def lemma(word: str) -> str:
    """Dictionary form of a Russian word form, ё→е, synonyms unified; other tokens are returned folded."""
    if not re.search("[а-яё]", word):
        return SYNONYMS.get(fold(word), fold(word))
    form = fold(_morph().parse(word)[0].normal_form)
    return SYNONYMS.get(form, form)


def is_dictionary_word(word: str) -> bool:
    """True when pymorphy3 knows the word form (so it is not a typo or a rare name)."""
    return not re.search("[а-яё]", word) or _morph().word_is_known(word)


def lemmas(text: str, *, keep_stop_words: bool = False) -> list[str]:
    """Content lemmas of `text`, in order: the terms of the lexical index."""
    out = []
    for w in words(text):
        lem = lemma(w)
        if keep_stop_words or (w not in STOP_WORDS and lem not in STOP_WORDS):
            out.append(lem)
    return out
