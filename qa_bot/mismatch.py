"""Signs that an answer sentence tells of something else than the question asks: another one of the named
thing («Первый отечественный алюминиевый завод» for «Красноярский алюминиевый завод»), a thing named only
«в отличие от …», another month or year, no superlative or «первый» for a question after the most or the
first one. General Russian, the word lists in `qa_bot/data/answer_slots.json`; each is a refusal rule
(refusal.py), measured on the dev splits.
"""

from __future__ import annotations

import itertools
import os
import re
from functools import lru_cache

from .slots import _SKIP_POS, _WORD, WINDOW, _capitalised, _Token, _tokens, _words, asked_focus
from .text import lemma


def asks_most(question: str) -> bool:
    """A which- or naming question after the most of something: a superlative beside the asked noun, before
    it («Какая самая высокая гора …?», «Как называется крупнейший остров …?») or right after it («Какая
    гора самая высокая?»). A superlative elsewhere describes what the question is about («Какую долю
    воды хранит самое глубокое озеро?») and asks nothing."""
    words = _words()
    tokens = _tokens(question)
    for i, t in enumerate(tokens):
        if not t.lemmas & (words.which | words.naming):
            continue
        for j in range(i + 1, min(len(tokens), i + 1 + WINDOW)):
            if tokens[j].pos == "NOUN":
                after = list(itertools.takewhile(lambda u: u.pos == "ADJF", tokens[j + 1 : j + 3]))
                return any(_superlative(u.text) for u in tokens[i + 1 : j] + after)
            if tokens[j].pos not in _SKIP_POS:
                return False
        return False
    return False


def asked_extreme(question: str) -> str | None:
    """«первый» or «последний» when the question asks for the first or last of something («Как звали первого
    ректора …?», «Когда прошёл последний чемпионат?»): the ordinal right before a noun (adjectives between)."""
    extremes = _words().extremes
    tokens = _tokens(question)
    for i, t in enumerate(tokens):
        if t.pos == "ADJF" and t.lemma in extremes:
            rest = list(itertools.dropwhile(lambda u: u.pos == "ADJF", tokens[i + 1 : i + 1 + WINDOW]))
            if rest and rest[0].pos == "NOUN":
                return t.lemma
    return None


def says_extreme(extreme: str, text: str) -> bool:
    """The text says it is the first (or last) one: «первый», «впервые», … (answer_slots.json)."""
    return any(t.lemmas & _words().extremes[extreme] for t in _tokens(text))


def says_most(text: str) -> bool:
    """The text has a superlative («крупнейший», «самый большой», «наиболее известный»)."""
    return any(_superlative(t.text) for t in _tokens(text) if t.pos in ("ADJF", "ADVB", "ADJS"))


def _superlative(word: str) -> bool:
    from .text import _morph

    parse = _morph().parse(word)[0]
    return "Supr" in parse.tag or lemma(word) in _words().superlative


_YEAR = re.compile(r"(?<![\d,.])(1\d{3}|20\d{2})(?:\s*[–—-]\s*\d{2,4})?\s*(?:год|гг?\.)", re.IGNORECASE)


def _kinds(tokens: list[_Token]) -> list[tuple[list[_Token], str]]:
    """(the relative adjectives right before it, the noun) for every noun with some."""
    out = []
    for i, t in enumerate(tokens):
        if t.pos == "NOUN":
            before = list(itertools.takewhile(lambda u: u.pos == "ADJF", reversed(tokens[:i])))
            if any(u.relative for u in before):
                out.append(([u for u in before if u.relative], t.lemma))
    return out


_ADJECTIVE_TAIL = re.compile(r"(?:ск|цк|н)?(?:ий|ый|ой)$")
_NOUN_TAIL = re.compile(r"[аеиоуыьюяй]$")


def _of_place(adjective: str, noun: str) -> bool:
    """The adjective is made from the noun («казанский» / «Казань», «тульский» / «Тула», «московский» /
    «Москва»): their stems agree but for a last letter."""
    a, n = _ADJECTIVE_TAIL.sub("", adjective), _NOUN_TAIL.sub("", noun)
    shorter = min(len(a), len(n))
    return shorter >= 3 and len(os.path.commonprefix([a, n])) >= shorter - 1


def other_kind(question: str, sentence: str, topic: str = "") -> bool:
    """The sentence tells of another one of what the question names: «Когда пустили Красноярский
    алюминиевый завод?» over «Первый отечественный алюминиевый завод был пущен …» — the question's proper
    adjective («Красноярский», written with a capital) is not among the relative adjectives the sentence
    gives the noun, one of which the question lacks («Гомельский автомобильный завод» over «… Жодинского
    завода … и Гомельского депо»). A bare noun of the article's topic (`topic`: «Ладожское озеро») is that
    one («Озеро замерзает …» is not of «Онежское озеро»). Not when the article is on the place of the
    adjective («Казанский» in an article on Казань), nor for the noun a which-question asks about («какого
    белорусского завода» is answered by «Могилевского завода»)."""
    from .extractive import related
    from .text import lemmas

    proper, focus = _capitalised(question), asked_focus(question)
    question_tokens = _tokens(question)
    asked = [t.lemma for t in question_tokens]
    tokens = _tokens(sentence)
    kinds = _kinds(tokens)
    implied = {noun: adjectives for adjectives, noun in _kinds(_tokens(topic))}
    kinds += [(implied[t.lemma], t.lemma) for i, t in enumerate(tokens)
              if t.lemma in implied and t.pos == "NOUN" and not (i and tokens[i - 1].pos == "ADJF")]  # fmt: skip
    places = lemmas(topic)
    for adjectives, noun in _kinds(question_tokens):
        named = [
            a.lemma
            for a in adjectives
            if a.lemma in proper and not any(_of_place(a.lemma, t) for t in places)
        ]
        if noun == focus or not named:
            continue
        for others, said in kinds:
            if (
                related(said, noun)
                and not any(related(a, b.lemma) for a in named for b in others)
                and any(not any(related(b.lemma, q) for q in asked) for b in others)
            ):
                return True
    return False


@lru_cache(maxsize=1)
def _contrast() -> re.Pattern[str]:
    """A contrast phrase and what it sets apart, up to the next punctuation."""
    phrases = "|".join(map(re.escape, _words().contrast))
    return re.compile(rf"(?<!\w)(?:{phrases})\s[^,.;:!?—–]+", re.IGNORECASE)


def only_in_contrast(question: str, terms: list[str], text: str) -> list[str]:
    """The question's terms that `text` names only after «в отличие от …» (answer_slots.json), up to the
    next punctuation: «В отличие от хоккея с шайбой, в хоккее с мячом …» is not about хоккей с шайбой.
    Nothing for a question about the difference itself («Чем … отличается от …?», «… в отличие от …?»)."""
    from .extractive import related
    from .text import lemmas

    pattern = _contrast()
    if pattern.search(question) or any(t.lemma in _words().difference for t in _tokens(question)):
        return []
    inside = [lemmas(m.group()) for m in pattern.finditer(text)]
    if not inside:
        return []
    named = [w for part in inside for w in part]
    outside = lemmas(pattern.sub(" ", text))
    return [t for t in terms if any(related(t, w) for w in named) and not any(related(t, w) for w in outside)]


def time_points(text: str) -> frozenset[tuple[str, str]]:
    """The months and years a text names: («month», «апрель»), («year», «2019») — a year only as one
    («в 2019 году», «1985 г.»), not any four digits («1642 м»)."""
    from .questions import answer_types

    months = answer_types().month_lemmas
    found = {("month", lemma(m.group())) for m in _WORD.finditer(text) if lemma(m.group()) in months}
    return frozenset(found | {("year", m.group(1)) for m in _YEAR.finditer(text)})


def other_time(question: str, said: str, near: str) -> bool:
    """The question asks of a month or year that the answer (`said`, with its neighbours: `near`) does not
    name, while it names another one of the same kind: «… в апреле?» over «… января …, июля …»."""
    asked = time_points(question)
    if not asked:
        return False
    told, around = time_points(said), time_points(near)
    return any(point not in around and any(k == point[0] for k, _ in told - {point}) for point in asked)
