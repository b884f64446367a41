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
from .text import fold, is_dictionary_word, lemma, normalize_spaces, words


@dataclass(frozen=True)
class AnswerTypes:
    patterns: dict[str, re.Pattern[str]]
    description: re.Pattern[str]
    number_lemmas: frozenset[str]
    month_lemmas: frozenset[str]
    time_units: frozenset[str]
    reason_markers: re.Pattern[str]
    followup_cues: frozenset[str]
    followup_openers: tuple[str, ...]
    antecedent_openers: frozenset[str]
    consequence_openers: tuple[str, ...]
    antecedent_joiners: frozenset[str]
    question_words: tuple[str, ...]
    categories: dict[str, frozenset[str]]


@lru_cache(maxsize=1)
def answer_types() -> AnswerTypes:
    data = json.loads(files("qa_bot").joinpath("data", "answer_types.json").read_text(encoding="utf-8"))
    return AnswerTypes(
        patterns={k: re.compile("|".join(v), re.IGNORECASE) for k, v in data["question_patterns"].items()},
        description=re.compile("|".join(data["description_patterns"]), re.IGNORECASE),
        number_lemmas=frozenset(data["number_lemmas"]),
        month_lemmas=frozenset(data["month_lemmas"]),
        time_units=frozenset(data["time_unit_lemmas"]),
        reason_markers=re.compile(
            r"(?<!\w)(?:" + "|".join(re.escape(m) for m in data["reason_markers"]) + r")(?!\w)", re.IGNORECASE
        ),
        followup_cues=frozenset(data["followup_cues"]),
        followup_openers=tuple(sorted(data["followup_openers"], key=len, reverse=True)),
        antecedent_openers=frozenset(data["antecedent_openers"]),
        consequence_openers=tuple(data["consequence_openers"]),
        antecedent_joiners=frozenset(data["antecedent_joiners"]),
        question_words=tuple(data["question_words"]),
        categories={k: frozenset(v) for k, v in data["category_nouns"].items()},
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
    """duration, date, number, name, person, place or reason — the kind whose question words come first;
    None for a question asking who a named person is («Кто такой Роман Ефимов?»: a description)."""
    types = answer_types()
    if types.description.search(question):
        return None
    # the question word that comes first decides («Сколько … было известно, когда …» asks a number); at the
    # same place the kinds' order does («сколько лет» is a duration before it is a number)
    found = [(m.start(), i, kind) for i, (kind, pattern) in enumerate(types.patterns.items()) if (m := pattern.search(question))]
    if found and _asks_which(question):
        # «Какая рыба водится в озере, где живёт нерпа?»: a question word after a comma opens a relative clause
        found = [f for f in found if not question[: f[0]].rstrip().endswith(",")]
        if not found:
            return None
    if found:
        return min(found)[2]
    # a misspelt question word («Сколко вагонов …?»): a word no dictionary knows, read as the closest one
    for w in words(question)[:3]:
        if len(w) >= 4 and not is_dictionary_word(w):
            close = difflib.get_close_matches(w, types.question_words, n=1, cutoff=0.8)
            if close:
                fixed = re.sub(rf"(?<!\w){w}(?!\w)", close[0], question.lower(), count=1)
                return next((kind for kind, pattern in types.patterns.items() if pattern.search(fixed)), None)
    return None


def _asks_which(question: str) -> bool:
    """The question opens with «какой» / «каков» in any form (slots.py's which-words)."""
    from .slots import _words

    first = words(question)[:1]
    return bool(first) and lemma(first[0]) in _words().which


def quoted_names(question: str) -> list[str]:
    """The names the question gives in quotes («Сколько зрителей вмещает «Казань Арена»?» -> Казань Арена):
    each is one thing, whose words a document must have together, not one here and one in another document."""
    return [m.group(1).strip() for m in _QUOTED.finditer(question)]


def leans_on_history(question: str) -> bool:
    """True when the question refers back (a pronoun, "А …?" ellipsis) rather than standing alone."""
    types = answer_types()
    low = question.lower().strip()
    if any(low.startswith(o + " ") for o in types.followup_openers):
        return True
    return any(w in types.followup_cues for w in words(question))


def follows_from_before(sentence: str) -> bool:
    """True when the sentence opens with a consequence («Поэтому …», «В результате …»): why is in the sentence
    before it."""
    opening = " ".join(words(sentence)[:4])
    return any(opening == c or opening.startswith(c + " ") for c in answer_types().consequence_openers)


SEQUEL_WORDS = 4  # a pronoun among a sentence's first words refers to what the sentence before was about


def goes_on(sentence: str) -> bool:
    """True when a pronoun among the sentence's first words («К концу года его …») takes up what the sentence
    before it was about (a looser test than `refers_back`, which wants it first)."""
    openers = answer_types().antecedent_openers
    return any(w in openers for w in words(sentence)[:SEQUEL_WORDS])


def refers_back(sentence: str, before: str = "") -> bool:
    """True when the sentence opens with a word whose referent the sentence before (`before`) names («Они
    открылись …», «И там …», «Компания производит …»): alone it does not say who or where."""
    types = answer_types()
    opening = words(sentence)[:3]
    if opening and opening[0] in types.antecedent_joiners:
        opening = opening[1:]
    return bool(opening) and (opening[0] in types.antecedent_openers or _definite_subject(sentence, opening, before))


_PROPER = frozenset({"Name", "Surn", "Patr", "Geox", "Orgn", "Trad", "Abbr"})


def _definite_subject(sentence: str, opening: list[str], before: str) -> bool:
    """«Компания производит средства …» after «… производитель из Ижевска …»: a bare common noun as the
    subject, its verb right after it, is the thing `before` (the sentence before) named (with a proper name,
    capitalised inside it) in other words. A noun `before` already uses names itself («Титан открыл …»
    after «… титана»)."""
    from .text import _morph

    if len(opening) < 2 or not re.search(r"[^.!?…\s]\s+[«\"„]?[А-ЯЁ][а-яё]", before):
        return False
    if not sentence.lstrip("«\"„ ")[:1].isupper():
        return False
    if not is_dictionary_word(opening[0]) or lemma(opening[0]) in {lemma(w) for w in words(before)}:
        return False
    noun, verb = (_morph().parse(w)[0] for w in opening[:2])
    return {"NOUN", "nomn"} <= noun.tag.grammemes and not noun.tag.grammemes & _PROPER and verb.tag.POS == "VERB"


def sentence_evidence(sentence: str, asked: frozenset[str] = frozenset()) -> set[str]:
    """The answer kinds a sentence can serve: number, date, duration, name, person, place, reason.

    Only what the question does not already say counts (`asked`: the question's lemmas and numbers):
    «Где будет Торговый дом Беларуси и Удмуртии?» is not answered by a sentence whose only places are
    Беларусь and Удмуртия, «Кто встретился с Кухаревым?» not by Кухарев himself."""
    types = answer_types()
    found: set[str] = set()
    tokens = words(sentence)
    lems = [lemma(w) for w in tokens]
    new = [w not in asked and not _asked(lm, asked) for w, lm in zip(tokens, lems, strict=True)]
    if any(_is_number(w, lm) for w, lm, n in zip(tokens, lems, new, strict=True) if n):
        found.add("number")
    years = {m.group() for m in re.finditer(r"(?<!\d)(?:1[89]|20)\d\d(?!\d)", sentence)} - asked
    if years or any(lm in types.month_lemmas for lm, n in zip(lems, new, strict=True) if n):
        found.add("date")
    for i, lm in enumerate(lems):
        if lm in types.time_units and i > 0 and new[i - 1] and _ROMAN.fullmatch(tokens[i - 1]):
            found.add("date")  # «XVI века», «в XIX–XX веках»
        elif lm in types.time_units and i > 0 and new[i - 1] and _is_number(tokens[i - 1], lems[i - 1]):
            found.add("duration")
            if lm == "год" or lm == "лет":
                found.add("date")
    if types.reason_markers.search(sentence):
        found.add("reason")
    grams = _name_grammemes(sentence, asked)
    if grams & {"Name", "Surn", "Patr"}:
        found.add("person")
    if grams & {"Orgn", "Name", "Surn", "Patr", "Geox", "Title", "Term"}:
        found.add("name")
        if grams & {"Orgn", "Title"}:
            found.add("person")  # «кого заинтересовала продукция?» — «руководство БелЖД»: bodies act too
    if "Geox" in grams:
        found.add("place")
    return found


_ROMAN = re.compile(r"[ivxl]+", re.IGNORECASE)  # a century in Roman numerals


def _is_number(word: str, lem: str) -> bool:
    """Digits, a numeral pymorphy3 knows as one («шестьдесят», «двое»), or a number noun of answer_types.json
    («тысяча», «полмиллиарда»)."""
    return word.isdigit() or lem in answer_types().number_lemmas or _numeral(word)


@lru_cache(maxsize=100_000)
def _numeral(word: str) -> bool:
    from .text import _morph

    return bool(re.match("[а-яё]", word)) and _morph().parse(word)[0].tag.POS == "NUMR"


def _asked(lem: str, asked: frozenset[str]) -> bool:
    """The lemma, or one of its word family («витебский» / «Витебск»), is in the question."""
    from .extractive import related

    return lem in asked or (lem.isalpha() and any(related(lem, a) for a in asked if a[:3] == lem[:3]))


_NAME_WORD = re.compile(r"(?<![\w-])[А-ЯЁ][а-яё]{2,}")
_ACRONYM = re.compile(r"(?<![\w-])(?=\w*[А-ЯЁA-Z]\w*[А-ЯЁA-Z])[A-Za-zА-Яа-яЁё]{2,}(?![\w-])")  # МАЗ, БелЖД, ТАСС
_INITIAL = re.compile(r"(?<![\w-])[А-ЯЁ]\.\s*$")  # «И. Петров»: an initial right before the word
_QUOTED = re.compile(r"[«\"„]([^«»\"“”„]{2,80})[»\"“”]")


def names_people_only(sentence: str, asked: frozenset[str] = frozenset()) -> bool:
    """The only names the sentence gives (beyond the question's) are people's: «Олег Златин, директор …»
    names no company."""
    grams = _name_grammemes(sentence, asked)
    return bool(grams) and grams <= {"Name", "Surn", "Patr"}


def _name_grammemes(sentence: str, asked: frozenset[str] = frozenset()) -> set[str]:
    """Name-like grammemes (pymorphy3: Name, Surn, Patr, Geox, Orgn) of the capitalised words the question
    does not contain; "Orgn" also for an acronym, "Title" for a quoted name («Казань Арена»), "Term" for a quoted
    lower-case one («русский хоккей»)."""
    from .text import _morph

    out: set[str] = set()
    capitalised = list(_NAME_WORD.finditer(sentence))
    for k, m in enumerate(capitalised):
        word = m.group()
        parses = _morph().parse(word)[:2]
        if _asked(lemma(word), asked) or any(fold(p.normal_form) in asked for p in parses):
            continue
        # a word that is first of all something else («Олимпиад», «Лев») is a person's name only beside
        # another capitalised word or an initial («Лев Толстой», «И. Петров»)
        before = k > 0 and not sentence[capitalised[k - 1].end() : m.start()].strip()
        after = k + 1 < len(capitalised) and not sentence[m.end() : capitalised[k + 1].start()].strip()
        paired = before or after or _INITIAL.search(sentence[: m.start()]) is not None
        for i, parse in enumerate(parses):
            grams = {g for g in ("Name", "Surn", "Patr", "Geox", "Orgn") if g in parse.tag}
            out |= grams if i == 0 or paired else grams - {"Name", "Surn", "Patr"}
    if any(lemma(m.group()) not in asked for m in _ACRONYM.finditer(sentence)):
        out.add("Orgn")
    for m in _QUOTED.finditer(sentence):
        if any(lemma(w) not in asked for w in words(m.group(1))):
            # a capitalised one may be a body that acts («Казань Арена»); «русским хоккеем» is a term: a name only
            out.add("Title" if m.group(1)[:1].isupper() else "Term")
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
