"""The answer slot of a quantity question: what the number must count, and whether a sentence's number does.

«Сколько врачей в больнице?» wants a number of врачи: «до 2040 года» counts years and does not answer it,
«около 600 человек» does. «Сколько стоит …», «Какая зарплата …» want an amount of money, «Какую долю …»
a share. A number's counted noun is the first noun after it (multipliers such as «тыс.» and adjectives
skipped), as Russian puts it: numeral + noun in the genitive. Generic counters («единица», «штука») count
anything, «человек» counts any animate noun. The word lists are general Russian in data/answer_slots.json.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files

from .text import fold, lemma, normalize_spaces

WINDOW = 4  # tokens looked at after a number for its counted noun (adjectives between are skipped)
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[a-zа-яё]+|[%$€₽°]", re.IGNORECASE)
_ORDINAL_TAIL = re.compile(r"-[а-яё]{1,3}(?![а-яё])", re.IGNORECASE)  # «558-й», «2025-го», «90-х»
_IN_NAME = re.compile(r"[a-zа-яё]-$", re.IGNORECASE)  # «Ил-76», «МС-21»: a model name, not a count
_SKIP_POS = frozenset({"ADJF", "PRTF", "NUMR", "ADVB", "PREP", "CONJ", "PRCL", "NPRO"})


@dataclass(frozen=True)
class Slot:
    kind: str  # "count", "money", "share" or "measure" (noun: the measure: "length", "mass", …)
    noun: str = ""  # the counted noun's lemma ("count"), the measure's name ("measure")
    animate: bool = False
    bare: bool = False  # an adjective standing for its noun («раненых»): only words for people count it
    # asked in the plural («холмов»): counted one by one, not measured in units as «песка» is
    plural: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class _Words:
    quantity: frozenset[str]
    multipliers: frozenset[str]
    generic: frozenset[str]
    people: frozenset[str]
    money_units: frozenset[str]
    money: frozenset[str]
    share: frozenset[str]
    share_units: frozenset[str]
    people_words: frozenset[str]
    generic_people: frozenset[str]
    open_measures: frozenset[str]
    count_measures: frozenset[str]
    which: frozenset[str]
    linking: frozenset[str]
    kind_heads: frozenset[str]
    generic_roles: frozenset[str]
    ordinal_qualifiers: frozenset[str]
    light_verbs: frozenset[str]
    naming: frozenset[str]
    superlative: frozenset[str]
    extremes: dict[str, frozenset[str]]  # «первый» -> the words an answer says it with («впервые», …)
    contrast: tuple[str, ...]  # «в отличие от»: what follows is what the sentence is not about
    difference: frozenset[str]  # «отличаться», «разница»: the question asks for the contrast itself
    measure_of: dict[str, str]  # a noun or verb lemma -> the measure it asks («глубина» -> length)
    measure_units: dict[str, frozenset[str]]  # a measure -> the units of a number answering it
    unit_signs: frozenset[str]  # every unit, as written («м», «т», «°»)


@lru_cache(maxsize=1)
def _words() -> _Words:
    data = json.loads(files("qa_bot").joinpath("data", "answer_slots.json").read_text(encoding="utf-8"))
    sets = {k: frozenset(fold(w) for w in v) for k, v in data.items() if not k.startswith("_") and isinstance(v, list)}
    measures = data["measures"]
    return _Words(
        sets["quantity_words"], sets["multipliers"], sets["generic_counters"], sets["people_counters"],
        sets["money_units"], sets["money_words"], sets["share_words"], sets["share_units"],
        sets["people_words"], sets["generic_people"], sets["open_measures"], sets["count_measures"],
        sets["which_words"],
        sets["linking_verbs"], sets["kind_heads"], sets["generic_roles"], sets["ordinal_qualifiers"],
        sets["light_verbs"], sets["naming_words"], sets["superlative_words"],
        {fold(k): frozenset(fold(w) for w in v) for k, v in data["extreme_ordinals"].items()},
        tuple(data["contrast_phrases"]), sets["difference_words"],
        {fold(n): m for m, d in measures.items() for n in d["nouns"]},
        {m: frozenset(d["units"]) for m, d in measures.items()},
        frozenset(u for d in measures.values() for u in d["units"]),
    )  # fmt: skip


@lru_cache(maxsize=1)
def _number_words() -> frozenset[str]:
    """Numerals pymorphy3 does not tag as such («дважды», «половина»): the number lemmas of answer_types.json."""
    from .questions import answer_types

    return answer_types().number_lemmas - {"процент", "единица"}


@dataclass(frozen=True)
class _Token:
    text: str
    lemma: str
    pos: str | None
    animate: bool
    number: bool  # a count: digits (not an ordinal, not part of a model name) or a numeral word
    lemmas: frozenset[str]  # normal forms of every parse («стоят»: стоять and стоить)
    substantive: bool = False  # an adjective or participle in the genitive plural that may stand for a noun
    relative: bool = False  # a relative adjective («красноярский», «алюминиевый»): it says which, not how
    genitive: bool = True  # a noun in the genitive (an animate accusative has its form): a modifier of the noun before


_NOT_RELATIVE = frozenset({"Qual", "Apro", "Anum", "Supr"})  # qualitative, pronominal, ordinal, superlative


def _tokens(text: str) -> list[_Token]:
    from .text import _morph

    words = _words()
    text = normalize_spaces(text)
    out = []
    for m in _TOKEN.finditer(text):
        word = m.group().lower()
        if word[0].isdigit():
            ordinal = _ORDINAL_TAIL.match(text, m.end()) is not None
            named = _IN_NAME.search(text[max(0, m.start() - 2) : m.start()]) is not None
            out.append(_Token(word, word, "NUMB", False, not (ordinal or named), frozenset()))
            continue
        if not re.match("[а-яё]", word):
            out.append(_Token(word, fold(word), None, False, False, frozenset({fold(word)})))
            continue
        parses = _morph().parse(word)
        first = parses[0].tag
        lem = lemma(word)
        alts = frozenset(fold(p.normal_form) for p in parses[:4]) | {lem}
        numeral = first.POS == "NUMR" or bool(alts & (words.multipliers | _number_words()))
        substantive = first.POS in ("ADJF", "PRTF") and {"plur", "gent"} in first and "Apro" not in first
        relative = first.POS == "ADJF" and not first.grammemes & _NOT_RELATIVE
        genitive = (  # a word no dictionary knows («Шексны») may be one: its parse is a guess
            bool(first.grammemes & {"gent", "gen2"}) or {"accs", "anim"} <= first.grammemes
            or not _morph().word_is_known(word)
        )  # fmt: skip
        out.append(_Token(
            word, lem, str(first.POS) if first.POS else None, "anim" in first, numeral, alts, substantive, relative, genitive
        ))  # fmt: skip
    return out


def asked_slot(question: str) -> Slot | None:
    """What a quantity question asks to be counted; None when it asks no particular thing
    («На сколько вырос экспорт?») or is not a quantity question."""
    words = _words()
    tokens = _tokens(question)
    for i, t in enumerate(tokens):
        if t.lemma in words.quantity or t.text in words.quantity:
            return _slot_after(tokens[i + 1 : i + 1 + WINDOW], verbs=True)
        if t.lemmas & words.which:
            slot = _slot_after(tokens[i + 1 : i + 3], verbs=False, measures_only=True)
            if slot is not None:
                return slot
    for i, t in enumerate(tokens[:-1]):  # «… в долларах?», «… в рублях?»
        if t.text == "в" and tokens[i + 1].lemma in words.money_units and tokens[i + 1].pos == "NOUN":
            return Slot("money")
    return None


def asked_focus(question: str) -> str | None:
    """The noun a which-question asks about: «Какие виды обогревателей …» -> обогреватель, «Какой
    завод …» -> завод; a generic head («вид», «тип») gives way to the noun it governs. None when
    the question has no which-word followed by a noun."""
    words = _words()
    tokens = _tokens(question)
    for i, t in enumerate(tokens):
        if not t.lemmas & words.which:
            continue
        for u in tokens[i + 1 : i + 1 + WINDOW]:
            if u.pos == "NOUN":
                if u.lemma in words.kind_heads:
                    continue
                return u.lemma
            if u.pos not in _SKIP_POS:
                break
        return None
    return None


_EVENT_POS = frozenset({"VERB", "INFN", "PRTF", "PRTS", "GRND"})


def asked_events(question: str) -> list[str]:
    """The words that say what happened in the question («Когда закрыли академию?» -> «закрыли», «Кто
    тренировал сборную?» -> «тренировал»): verbs and participles other than the light ones (linking,
    existential, naming, modal, reporting: answer_slots.json), and not capitalised words (a misspelt name
    read as a verb). A date, name or place beside another event does not answer the question."""
    from .text import STOP_WORDS

    light = _words().light_verbs
    capitalised = {w.lower() for w in re.findall(r"(?<!^)(?<![.!?]\s)\b[А-ЯЁ][а-яё]+", question.strip())}
    out: list[str] = []
    for t in _tokens(question):
        if t.pos not in _EVENT_POS or t.lemma in light or t.text in capitalised:
            continue
        if not {t.text, t.lemma} & STOP_WORDS:
            out.append(t.text)
    return list(dict.fromkeys(out))


def same_event(verb: str, term: str) -> bool:
    """One verb family, aspect pairs included («обсуждать» / «обсудить», «продвигать» / «продвижение»):
    a shared beginning of four letters or more, half the shorter word or more."""
    common = len(os.path.commonprefix([verb, term]))
    return common >= 4 and common >= 0.5 * min(len(verb), len(term))


def event_of_other(question: str, sentence: str, families: list[str], about: frozenset[str] = frozenset()) -> bool | None:
    """True when the sentence tells the question's event (`families`: its verbs' lemmas) only as a participle of
    a thing the question does not name: «Когда основан театр?» — «… стоит музей Усадьба, основанный в
    1870 году» dates the museum. The participle's thing is the noun just before it (or the common noun
    before a name: «музей Усадьба»); a proper name, or the article's topic (`about`), may be what the
    question calls by a common noun («город»), and is not another thing. None: the event is not told."""
    from .extractive import related
    from .text import is_proper_noun, lemmas

    tokens = _tokens(sentence)
    asked = frozenset(lemmas(question)) | about
    told = [i for i, t in enumerate(tokens) if any(same_event(f, t.lemma) for f in families)]
    if not told:
        return None
    for i in told:
        if tokens[i].pos != "PRTF":
            return False
        k = next((k for k in range(i - 1, max(-1, i - 4), -1) if tokens[k].pos == "NOUN"), None)
        if k is None:
            return False
        heads = [tokens[k]] + ([tokens[k - 1]] if k and tokens[k - 1].pos == "NOUN" else [])
        named = [is_proper_noun(h.text) for h in heads]
        if named[0] and not (len(heads) > 1 and not named[1]):
            return False  # a name with no common noun for what it is
        if any(related(h.lemma, a) for h in heads for a in asked):
            return False
    return True


def event_tenses(text: str, families: list[str]) -> set[str]:
    """Tenses («past», «pres», «futr») in which `text` tells of the events of `families` (lemmas): «поставит»
    futr, «поставлено» and «было поставлено» past, «будет поставлено» futr; an infinitive only with «быть»."""
    from .text import _morph, words

    tokens = words(text)
    out: set[str] = set()
    for i, word in enumerate(tokens):
        parse = _morph().parse(word)[0]
        if parse.tag.POS not in _EVENT_POS or not any(same_event(f, parse.normal_form) for f in families):
            continue
        before = _morph().parse(tokens[i - 1])[0] if i else None
        if before is not None and before.normal_form == "быть" and before.tag.tense:
            out.add(str(before.tag.tense))  # «будет поставлено», «было открыто»
        elif parse.tag.POS != "INFN":
            out.add(str(parse.tag.tense or "past"))  # a participle without «быть» tells of what is done
    return out


def asked_named(question: str) -> str | None:
    """The noun whose name a question asks («Как называется столица края?» -> столица); None otherwise."""
    words = _words()
    tokens = _tokens(question)
    for i, t in enumerate(tokens):
        if not (t.lemmas & words.naming):
            continue
        for u in tokens[i + 1 : i + 1 + WINDOW]:
            if u.pos == "NOUN":
                return u.lemma
            if u.pos not in _SKIP_POS and u.pos != "PREP":
                break
        return None
    return None


_WORD = re.compile(r"[А-Яа-яЁёA-Za-z]+(?:-[А-Яа-яЁёA-Za-z]+)*")
_NAME_AFTER = re.compile(r"\s*[«\"„“]\s*\w")  # a quoted name right after the word
_APPOSITION = re.compile(r"^\s*(?:,|—|–|-)\s*$")  # «диоксида титана, белого пигмента», «Пигмент — диоксид титана»


def names_as(noun: str, sentence: str) -> bool:
    """The sentence gives something as a `noun` (what a naming question asks the name of), even in common
    words: in apposition, before or after the noun and its adjectives («… диоксида титана, белого пигмента
    для красок», «Пигмент — диоксид титана»), or with a naming word («пигмент, называемый …»)."""
    from .extractive import related
    from .text import _morph

    words = list(_WORD.finditer(sentence))
    mentions = [k for k, m in enumerate(words) if related(lemma(m.group()), noun)]
    if mentions and any(lemma(w.group()) in _words().naming for w in words):
        return True
    for k in mentions:
        m = words[k]
        first = k
        while first > 0 and not sentence[words[first - 1].end() : words[first].start()].strip() and (
            _morph().parse(words[first - 1].group())[0].tag.POS in ("ADJF", "PRTF")
        ):
            first -= 1  # «белого пигмента»: the adjectives belong to the noun
        if first > 0 and _APPOSITION.match(sentence[words[first - 1].end() : words[first].start()]):
            return True
        if k + 1 < len(words) and _APPOSITION.match(sentence[m.end() : words[k + 1].start()]):
            return True
    return False


def names_instance(noun: str, sentence: str) -> bool:
    """The sentence names one `noun` (what a which-question asks about) by its proper name, in quotes right
    after the noun: «… на выставке "Экспо-2025"», «компания «Росток»»."""
    from .extractive import related

    for m in _WORD.finditer(sentence):
        if related(lemma(m.group()), noun) and _NAME_AFTER.match(sentence, m.end()):
            return True
    return False


@dataclass(frozen=True)
class Attribute:
    """What a which-question asks of what: «Какова температура плавления сплава?» -> температура of
    (плавление, сплав)."""

    noun: str
    of: tuple[str, ...]
    names: frozenset[str] = frozenset()  # those of `of` written with a capital (proper names)
    asked: frozenset[str] = frozenset()  # every lemma of the question


def asked_attribute(question: str) -> Attribute | None:
    """The asked noun and the nouns that follow it (its genitive chain); None without such a chain."""
    focus = asked_focus(question)
    if focus is None:
        return None
    tokens = _tokens(question)
    at = next(i for i, t in enumerate(tokens) if t.pos == "NOUN" and t.lemma == focus)
    chain = _chain(tokens, at)
    if not chain:
        return None
    return Attribute(focus, chain, _capitalised(question) & frozenset(chain), frozenset(t.lemma for t in tokens))


def attribute_of_terms(terms: list[str]) -> Attribute | None:
    """The asked attribute of a question in another language, from its Russian terms in order («What is the
    melting point of aluminium?» -> температура of (плавление, алюминий)): only a measure noun first."""
    if len(terms) < 2 or terms[0] not in _words().measure_of:
        return None
    return Attribute(terms[0], tuple(terms[1:4]), frozenset(), frozenset(terms))


def _capitalised(text: str) -> frozenset[str]:
    """Lemmas of the words written with a capital letter, but not merely opening a sentence."""
    out = set()
    for m in re.finditer(r"(?<![\w-])[А-ЯЁ][а-яё]+", text):
        before = text[: m.start()].rstrip()
        if before and before[-1] not in ".!?…:«\"":
            out.add(lemma(m.group()))
    return frozenset(out)


def _chain(tokens: list[_Token], i: int) -> tuple[str, ...]:
    """Lemmas of the genitive nouns right after position `i`, adjectives skipped (in Russian a genitive noun
    after a noun is its modifier: «скорость скорого поезда»; «У какого философа Ломоносов …» has none)."""
    out: list[str] = []
    for t in tokens[i + 1 : i + 1 + WINDOW]:
        if t.pos == "NOUN" and t.genitive:
            out.append(t.lemma)
        elif t.pos not in ("ADJF", "PRTF"):
            break
    return tuple(out[:3])


def gives_other(attribute: Attribute, sentence: str, topic: frozenset[str] = frozenset()) -> bool:
    """The sentence states the asked attribute of something else («Скорость самолёта — 900 км/ч» for «Какова
    скорость поезда?»): every mention of the attribute is followed by a noun the question lacks, and a noun
    the question asks about is not in the sentence at all. A mention with no noun of its own is of the
    article's topic (`topic`, its lemmas: «Металл плавится при температуре 420 °C» in «Цинк»): of
    something else when the question does not name that topic."""
    from .extractive import related

    tokens = _tokens(sentence)
    have = [t.lemma for t in tokens]
    absent = [n for n in attribute.of if not any(related(n, h) for h in have)]
    if not absent:
        return False
    # a proper name is often taken up by a common noun («Байкал» … «глубина озера»): only another name,
    # or a missing common noun, makes it something else
    names_only = all(n in attribute.names for n in absent)
    capitalised = _capitalised(sentence)
    mentions = [i for i, t in enumerate(tokens) if t.pos == "NOUN" and related(t.lemma, attribute.noun)]
    if not mentions:
        return False
    for i in mentions:
        chain = _chain(tokens, i)
        if not chain and i and tokens[i - 1].pos == "NOUN":
            chain = (tokens[i - 1].lemma,)  # «остров Ольхон длиной 71 км»: the thing measured stands before
        if not chain and topic and not any(related(t, q) for t in topic for q in attribute.asked):
            continue  # the article's topic's own attribute, and the question asks of something else
        other = [n for n in chain if not any(related(n, q) for q in attribute.asked)]
        if not other or (names_only and not any(n in capitalised for n in other)):
            return False  # this mention may be of the asked thing
    return True


def _slot_after(tokens: list[_Token], *, verbs: bool, measures_only: bool = False) -> Slot | None:
    words = _words()
    # «Сколько пострадавших доставлено?», «… погибших …»: an adjective with no noun after it is the counted thing
    # (people, as such substantivised plurals mostly are)
    bare = next((t for t in tokens if t.substantive), None) if verbs else None
    for j, t in enumerate(tokens):
        if t.pos == "NOUN":
            if t.lemma in words.money or t.lemmas & words.money_units:
                return Slot("money")
            if t.lemma in words.share:
                return Slot("share")
            if t.lemma in words.measure_of:
                return Slot("measure", words.measure_of[t.lemma])
            unit = next((m for m, units in words.measure_units.items() if len(t.lemma) > 3 and t.lemma in units), None)
            if unit is not None:  # «На сколько километров …?» is answered in any unit of length («1,5 км»)
                return Slot("measure", unit)
            if t.lemma in words.people_words:  # «население — 1,2 млн», «… 600 тыс. человек»
                return Slot("count", t.lemma, True)
            if t.lemma in words.count_measures:  # «количество вагонов», «численность населения»
                nxt = _slot_after(tokens[j + 1 :], verbs=False)
                if nxt is None and t.lemma == "численность":
                    return Slot("count", t.lemma, True)
                return nxt
            if t.lemma in words.open_measures:
                return None  # «объём», «размер»: any unit may answer
            return None if measures_only else Slot("count", t.lemma, t.animate, plural=_plural(t.text))
        if t.pos in ("VERB", "INFN", "PRTS", "GRND"):
            if verbs and t.lemmas & words.money:
                return Slot("money")
            measured = [words.measure_of[lm] for lm in t.lemmas if lm in words.measure_of]
            if verbs and measured:
                return Slot("measure", measured[0])  # «Сколько весит …»
            return Slot("count", bare.lemma, True, True) if bare is not None and tokens.index(bare) < j else None
        if t.pos not in _SKIP_POS and t.pos is not None:
            return None
    return Slot("count", bare.lemma, True, True) if bare is not None else None


def _plural(word: str) -> bool:
    from .text import _morph

    return "plur" in _morph().parse(word)[0].tag


def _unit(tokens: list[_Token], i: int) -> _Token | None:
    """The counted noun (or unit sign) of the number at `i`: the first noun after it, multipliers skipped."""
    at = _unit_at(tokens, i)
    return None if at is None else tokens[at]


def _unit_at(tokens: list[_Token], i: int) -> int | None:
    """The position of `_unit`."""
    words = _words()
    for k in range(i + 1, min(len(tokens), i + 1 + WINDOW)):
        t = tokens[k]
        if t.number:
            continue
        if t.lemmas & words.share_units:  # «100-процентный»
            return k
        if t.text in words.unit_signs:  # «6 т», «58 г», «°»: abbreviations pymorphy3 reads as other words
            return k
        if t.pos is None:  # %, $, €, ₽
            return k if t.text in "%$€₽" else None
        if t.pos == "NOUN":
            return k
        if t.pos not in _SKIP_POS:
            return None
    return None


def fills(slot: Slot, sentence: str) -> bool:
    """True when a number in `sentence` counts what `slot` asks for."""
    from .extractive import related

    words = _words()
    tokens = _tokens(sentence)
    for i, t in enumerate(tokens):
        if not t.number:
            continue
        unit = _unit(tokens, i)
        before = tokens[i - 1] if i else None
        if slot.kind == "money":
            if (unit and unit.lemma in words.money_units) or (before and before.text in "$€₽"):
                return True
        elif slot.kind == "measure":
            units = words.measure_units[slot.noun]
            if unit and (unit.lemma in units or unit.text in units):
                return True
        elif slot.kind == "share":
            if (unit and unit.lemmas & words.share_units) or t.lemmas & words.share_units:
                return True
        elif _fraction(tokens, i):
            continue  # «две трети из них», «половина»: a share of something, not a count of it
        elif unit is not None and _year(t, unit):
            continue  # «в 1703 году» dates; it does not count years
        elif t.pos == "ADVB" and slot.noun == "раз":  # «дважды», «втрое»: a number of times
            return True
        elif unit is None:
            if _near(tokens, i, slot.noun):  # a bare figure counts only what stands just before it
                return True
        elif (
            related(unit.lemma, slot.noun)
            or unit.lemma in words.generic
            or (slot.animate and unit.lemma in words.people and _people_of(slot, tokens))
            # «Сколько холмов?» is not answered by «с холмами — около 52 га»: a number in a unit of
            # measure measures something («песка — 5 млн т»), it does not count what is counted one by one
            or (_near(tokens, i, slot.noun) and not (slot.plural and words.unit_signs & {unit.text, unit.lemma}))
            or _measured(tokens, i, slot.noun)
        ):
            return True
    return False


def _people_of(slot: Slot, tokens: list[_Token]) -> bool:
    """«N человек» counts the asked people: people as such («жителей», «погибших»), or ones the sentence names
    («… генералов, всего 12 человек»); «30 тыс. человек» of losses does not count generals."""
    from .extractive import related

    return slot.noun in _words().generic_people or slot.bare or any(related(t.lemma, slot.noun) for t in tokens)


def _measured(tokens: list[_Token], i: int, noun: str) -> bool:
    """The number at `i` measures the asked noun in a unit: «15 тыс. кВт·ч электроэнергии», «3 т воды» (the
    unit's genitive complement). Not after a unit of time: «в 2025 году автобусы …» dates, it does not count."""
    from .extractive import related
    from .questions import answer_types

    j = _unit_at(tokens, i)
    if j is None or tokens[j].lemma in answer_types().time_units:
        return False
    signs = _words().unit_signs
    for t in tokens[j + 1 : j + 4]:
        if t.pos == "NOUN" and related(t.lemma, noun):
            return True
        if not (t.text in signs or t.pos == "ADJF" or (t.pos == "NOUN" and len(t.text) <= 3)):
            return False  # «кВт·ч»: a unit written in parts
    return False


_YEAR = re.compile(r"1\d{3}|20\d\d")


def _year(number: _Token, unit: _Token) -> bool:
    """«1703 году», «1999 год»: a year, written in four digits with the singular of «год» after it (a count of
    years takes «лет»: «1000 лет»)."""
    return _YEAR.fullmatch(number.text) is not None and unit.lemma == "год" and unit.text != "лет"


def _fraction(tokens: list[_Token], i: int) -> bool:
    """The number at `i` is (or is the numerator of) a fraction or a percentage."""
    share = _words().share_units
    here = tokens[i].lemmas & share or tokens[i].text in share
    after = i + 1 < len(tokens) and bool(tokens[i + 1].lemmas & share or tokens[i + 1].text in share)
    return bool(here or after)


def _near(tokens: list[_Token], i: int, noun: str) -> bool:
    """The asked noun stands just before the number («вагонов — 40»)."""
    from .extractive import related

    return any(related(t.lemma, noun) for t in tokens[max(0, i - 3) : i] if t.pos == "NOUN")


@dataclass(frozen=True)
class Role:
    """«Кто председатель Тверского облсовета?»: head «председатель», the adjectives before each noun after it."""

    head: str
    nouns: tuple[tuple[str, frozenset[str]], ...]  # (noun, its adjectives) of the phrase after the head
    qualifiers: frozenset[str] = frozenset()  # «первый», «бывший» before the head: which holder is asked
    proper: frozenset[str] = frozenset()  # adjectives written with a capital («Тверского»): a name of the body


_WHO = frozenset({"кто", "кого", "кому", "кем"})


def asked_role(question: str) -> Role | None:
    """The role a person question names («кто [является] <роль> …», «как зовут <роль> …»), or None when it
    names none («Кто встречался …», «Кто такой Ефимов?»)."""
    words = _words()
    tokens = _tokens(question)
    for i, t in enumerate(tokens):
        named = t.text == "зовут" and i and tokens[i - 1].text == "как"
        if t.text not in _WHO and not named:
            continue
        rest = tokens[i + 1 :]
        qualifiers: set[str] = set()
        while rest and (rest[0].lemmas & words.linking or (rest[0].pos == "ADJF" and len(rest) > 1)):
            if rest[0].pos == "ADJF" and rest[0].lemma in words.ordinal_qualifiers:
                qualifiers.add(rest[0].lemma)
            rest = rest[1:]  # «кто был первым мэром …»: the role is the noun after its adjectives
        if not rest or rest[0].pos != "NOUN" or _is_name(question, rest[0]):
            return None
        nouns: list[tuple[str, frozenset[str]]] = []
        adjectives: set[str] = set()
        for u in rest[1:]:
            if u.pos == "ADJF":
                adjectives.add(u.lemma)
            elif u.pos == "NOUN":
                nouns.append((u.lemma, frozenset(adjectives)))
                adjectives = set()
            else:
                break
        proper = _capitalised(question) & frozenset().union(*(a for _, a in nouns))
        return Role(rest[0].lemma, tuple(nouns), frozenset(qualifiers), proper)
    return None


def _is_name(question: str, token: _Token) -> bool:
    from .text import _morph

    tag = _morph().parse(token.text)[0].tag
    capitalised = re.search(rf"\b{token.text.capitalize()}\b", question)
    return any(g in tag for g in ("Name", "Surn", "Patr")) or capitalised is not None


def fills_role(role: Role, sentence: str, knows: Callable[[str], bool]) -> bool:
    """False when the sentence lacks a word of the role (one the collection knows) or names the same role
    of another body («Председатель Курского облсовета» for «председатель Тверского облсовета»)."""
    from .extractive import related

    tokens = _tokens(sentence)
    capitalised = _capitalised(sentence)
    heads = [i for i, t in enumerate(tokens) if t.pos == "NOUN" and related(t.lemma, role.head)]
    have = {t.lemma for t in tokens}
    if any(knows(noun) and not any(related(noun, h) for h in have) for noun, _ in role.nouns):
        return False  # «председатель правительства X» is not answered by a sentence about another body
    if not role.qualifiers <= have:
        return False  # «первый мэр» is not any mayor
    if not heads:
        if knows(role.head):
            return False
        # a role word the collection lacks may be a paraphrase: a generic one («глава») or its verb («основал»
        # for «основатель»); a specific office no document names («прокурор») is not filled by anyone
        return role.head in _words().generic_roles or any(related(t.lemma, role.head) for t in tokens)
    for i in heads:
        contrast = False
        window = tokens[i + 1 : i + 1 + WINDOW]
        adjectives: set[str] = set()
        for u in window:
            if u.pos == "ADJF":
                adjectives.add(u.lemma)
                continue
            if u.pos != "NOUN":
                break
            for noun, asked in role.nouns:
                # a named body is set apart by another name, not by «нового» or «этого»
                named = not (asked & role.proper) or adjectives & capitalised
                if related(u.lemma, noun) and asked and adjectives and named and not any(
                    related(a, b) for a in asked for b in adjectives
                ):
                    contrast = True  # same office, another body
            adjectives = set()
        if not contrast:
            return True
    return False
