"""Russian text helpers shared by the pipeline: normalisation, sentences, word forms to lemmas."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

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



def data_lines(name: str) -> list[str]:
    """The non-comment lines of a packaged data file (`qa_bot/data/<name>`), stripped."""
    from importlib.resources import files

    text = files("qa_bot").joinpath("data", name).read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


# Function words and question words (qa_bot/data/stop_words.txt): lexical search ignores them.
STOP_WORDS = frozenset(w for line in data_lines("stop_words.txt") for w in line.split())

DEFAULT_SYNONYMS = "synonyms.txt"


def parse_synonyms(lines: list[str]) -> dict[str, str]:
    """{variant: canonical} from lines "variant, variant = canonical"."""
    out: dict[str, str] = {}
    for line in lines:
        if "=" not in line:
            continue
        left, canonical = line.rsplit("=", 1)
        canonical = fold(canonical.strip())
        for variant in left.split(","):
            if variant.strip() and canonical:
                out[fold(variant.strip())] = canonical
    return out


# Lemmas that name the same thing: the lexical index stores the canonical form (SYNONYMS_FILE).
SYNONYMS: dict[str, str] = {}


def use_synonyms(path: Path | None = None) -> None:
    """Load the synonyms from `path` (a user's SYNONYMS_FILE) or the packaged default."""
    if path is None:
        lines = data_lines(DEFAULT_SYNONYMS)
    else:
        try:
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
        except (OSError, UnicodeDecodeError) as exc:
            from .errors import UsageError

            raise UsageError(
                f"The synonyms file {path} cannot be read ({type(exc).__name__}).",
                "Fix SYNONYMS_FILE in .env (a UTF-8 text file) or remove the setting to use the default.",
            ) from exc
    mapping = parse_synonyms(lines)
    if mapping != SYNONYMS:
        SYNONYMS.clear()
        SYNONYMS.update(mapping)
        lemma.cache_clear()


def normalize_spaces(text: str) -> str:
    """NFC, unify dashes and spaces, drop zero-width characters, collapse runs of spaces."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if not _ODD.search(text):  # the common case: nothing to change (this runs for every chunk and query)
        return text
    return re.sub(r" {2,}", " ", text.translate(_UNIFY))


_KEEP_DASHES = {k: v for k, v in _UNIFY.items() if chr(k) not in _DASHES}
_ODD_SPACE = re.compile(f"[{_SPACES}{_ZERO_WIDTH}]| {{2,}}")


def tidy_document(text: str) -> str:
    """Document text as stored and quoted: NFC, odd spaces unified, zero-width characters dropped, dashes
    kept as written (so quotes are verbatim); matching unifies dashes later (`words`, `normalize_for_match`)."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if not _ODD_SPACE.search(text):
        return text
    return re.sub(r" {2,}", " ", text.translate(_KEEP_DASHES))


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
            if pending is not None:  # the previous "sentence" ended inside quotes: "ЭКСПО. Россия"
                span = Span(pending.start, span.end, text[pending.start : span.end])
            pending = span if _open_quote(span.text) else None
            if pending is None and span.text[:1].islower() and spans and spans[-1].start >= base:
                # «… около 15 тыс. кВт·ч …»: a sentence does not open in lower case; razdel cut after an abbreviation
                spans[-1] = Span(spans[-1].start, span.end, text[spans[-1].start : span.end])
            elif pending is None:
                spans.append(span)
        if pending is not None:
            spans.append(pending)
    return spans


def _open_quote(sentence: str) -> bool:
    """True when the sentence ends inside a short quoted name ("ЭКСПО. Россия"), not a quoted speech."""
    if sentence.count('"') % 2 == 1:
        tail = sentence[sentence.rfind('"') + 1 :]
    elif sentence.count("«") > sentence.count("»"):
        tail = sentence[sentence.rfind("«") + 1 :]
    else:
        return False
    return len(tail.split()) <= 3


@lru_cache(maxsize=1)
def _morph():
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


def related(a: str, b: str) -> bool:
    """Same lemma, or one word family by a long shared beginning («заменить» / «замена», «беспилотник» /
    «беспилотный»): Russian derivation changes the ending, not the root."""
    if a == b:
        return True
    shorter = min(len(a), len(b))
    if shorter < 5 or not a.isalpha() or not b.isalpha():
        return False
    common = len(os.path.commonprefix([a, b]))
    return common >= 5 and common >= 0.75 * shorter


_NAME_TAGS = frozenset({"Geox", "Name", "Surn", "Patr"})
_PLACE_ADJECTIVE = re.compile(r"(.{3,})(?:ский|цкий)$")
_PLACE_ENDINGS = ("ск", "ь", "ия", "", "а")  # пермский <- Пермь, якутский <- Якутия, томский <- Томск


def is_proper_noun(word: str) -> bool:
    """pymorphy3's most likely reading of `word` is the name of a place or a person («якутия», «онега»)."""
    parse = _morph().parse(word)[0]
    return parse.tag.POS == "NOUN" and bool(parse.tag.grammemes & _NAME_TAGS)


@lru_cache(maxsize=20_000)
def names_something(word: str) -> bool:
    """A word written in lower case that still names a place or a person («в якутии», «пушкина»), or an
    adjective made from a place's name («якутское» <- Якутия, «пермский» <- Пермь): by pymorphy3's
    most likely reading of a word its dictionary knows (not «американский»: no place «американ…»)."""
    if not re.fullmatch("[а-яё-]{3,}", word) or not _morph().word_is_known(word):
        return False
    if is_proper_noun(word):
        return True
    parse = _morph().parse(word)[0]
    stem = _PLACE_ADJECTIVE.match(parse.normal_form) if parse.tag.POS == "ADJF" else None
    if stem is None:
        return False
    for ending in _PLACE_ENDINGS:
        place = stem.group(1) + ending
        noun = _morph().parse(place)[0]
        if "Geox" in noun.tag.grammemes and noun.normal_form == place and _morph().word_is_known(place):
            return True
    return False


def lemmas(text: str, *, keep_stop_words: bool = False) -> list[str]:
    """Content lemmas of `text`, in order: the terms of the lexical index."""
    out = []
    for w in words(text):
        lem = lemma(w)
        if keep_stop_words or (w not in STOP_WORDS and lem not in STOP_WORDS):
            out.append(lem)
    return out


use_synonyms()
