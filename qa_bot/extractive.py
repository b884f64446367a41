"""The extractive answerer: no LLM; the retrieved sentences that best answer the question, cited.

Each sentence of the top passages is scored by the question's words it (and its neighbours, and its
article's title when that names a topic) covers, by the sentence encoder's similarity to the question
when one is at hand, and by whether it holds the kind of answer asked for (a number for «сколько», a
date for «когда», a reason for «почему», ...);
a number counts as that kind only when it counts what was asked, a name only beside the asked role
(slots.py). A sentence that shares no word with the question comes after the one before it.
The best sentence is taken, the next one too when only it holds the asked-for kind, and one more
sentence when it covers what the first left out. The figures of the winner go to the refusal policy.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .citations import Citation, citation_for, idf_weights, passage_sentences
from .ingest import is_dateline
from .mismatch import (
    asked_extreme,
    asks_most,
    only_in_contrast,
    other_kind,
    other_time,
    says_extreme,
    says_most,
)
from .questions import (
    answer_types,
    follows_from_before,
    goes_on,
    is_russian,
    names_people_only,
    quoted_names,
    refers_back,
    sentence_evidence,
)
from .retrieve import Hit
from .slots import (
    Attribute,
    asked_attribute,
    asked_events,
    asked_focus,
    asked_named,
    asked_role,
    asked_slot,
    attribute_of_terms,
    event_of_other,
    event_tenses,
    fills,
    fills_role,
    gives_other,
    names_as,
    names_instance,
    same_event,
)
from .text import lemma, lemmas, related, words

CAPTION_WEIGHT = 0.75  # captions and headings introduce, they do not answer
SIM_WEIGHT = 0.5  # weight of the encoder similarity (rescaled over the candidates) next to word coverage
TYPE_BONUS = 0.15  # a sentence holding the asked-for kind of answer
TYPE_MISSING = 0.6  # multiplier when the question asks for a kind the sentence does not hold
OTHER_DOCUMENT_WEIGHT = 0.85  # sentences from another document than the first passage's
OTHER_DOCUMENT_PENALTY = 0.15  # an extra sentence from another document than the best one must gain this much more
NAME_MISSING_WEIGHT = 0.5  # per name of the question that the sentence's document never mentions
EVENT_KINDS = frozenset({"date", "duration", "person", "place"})  # kinds of answer that belong to an event


@dataclass
class Candidate:
    hit_rank: int  # 1-based: the citation number
    hit: Hit
    index: int  # sentence number within the passage
    start: int
    text: str
    terms: frozenset[str]
    context: frozenset[str]  # lemmas of the sentences around it
    weight: float  # from the passage rank and the sentence shape
    evidence: set[str]
    sim: float = 0.0
    of_other: bool = False  # states the asked attribute of something the question does not name
    names_focus: bool = False  # names, in quotes, one of what a which-question asks about
    beside: bool = False  # from the passage next to the best one's (_next_sentence): shown in document order with it
    topic: frozenset[str] = frozenset()  # lemmas of its document's topic (_topic)

    @property
    def position(self) -> tuple[str, int]:
        return self.hit.chunk.doc_id, self.hit.chunk.start + self.start


@dataclass
class Extraction:
    """The chosen sentences, and the figures the refusal policy reads."""

    answer: str
    citations: list[Citation]
    coverage: float  # question words covered by the chosen sentences (IDF-weighted, 0..1)
    own_coverage: float  # ... by the best sentence itself (its neighbours count half)
    similarity: float  # the highest encoder cosine among the chosen sentences (0 without an encoder)
    type_ok: bool  # the answer holds the asked-for kind (True when no kind was asked)
    chosen: list[Candidate] = field(default_factory=list)
    names_found: float = 1.0  # share of the question's names that the answer's documents mention
    missing: float = 0.0  # question words the collection uses but the answer and its neighbours lack (IDF share)
    topic_only: bool = False  # the answer shares only the question's names, nothing of what it asks about them
    of_other: bool = False  # the best sentence states the asked attribute of something else
    event_missing: bool = False  # a when/who/where question's event (its verb) is not in the answer's window
    focus_missing: bool = False  # the thing whose name is asked is not in the answer's window
    not_yet: bool = False  # the question asks of a past event the answer tells only as still to come
    not_most: bool = False  # the question asks for the most (first, last) one, the answer says of nothing that it is
    other_time: bool = False  # the question names a month or year, the answer another one and not it
    other_kind: bool = False  # of another one of the asked thing («отечественный завод»), or it only «в отличие от …»


def _candidates(hits: Sequence[Hit], asked: frozenset[str] = frozenset()) -> list[Candidate]:
    top = max((h.score for h in hits), default=1.0) or 1.0
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for rank, hit in enumerate(hits, start=1):
        spans = passage_sentences(hit)
        terms = [frozenset(lemmas(s.text)) for s in spans]
        topic = _topic(hit)
        for i, span in enumerate(spans):
            position = (hit.chunk.doc_id, hit.chunk.start + span.start)
            if position in seen or is_dateline(span.text):
                continue  # the same sentence in an overlapping chunk; a dateline dates the report, not its facts
            seen.add(position)
            around = frozenset().union(*terms[max(0, i - 1) : i], *terms[i + 1 : i + 2], topic) - terms[i]
            weight = 0.6 + 0.4 * max(hit.score, 0.0) / top
            if rank > 1 and hit.chunk.doc_id != hits[0].chunk.doc_id:
                weight *= OTHER_DOCUMENT_WEIGHT  # the first passage's document is where the answer usually is
            text = span.text.rstrip()
            if text.endswith(":") or not text[-1:] in ".!?…\"»)":
                weight *= CAPTION_WEIGHT
            evidence = sentence_evidence(span.text, asked)
            out.append(Candidate(rank, hit, i, span.start, span.text, terms[i], around, weight, evidence, topic=topic))
    return out


TOPIC_WORDS = 3  # a title of at most this many words names the document's topic (a headline says more)


def _topic_text(hit: Hit) -> str:
    """The document's title when it names a topic («Хоккей с мячом»), or what a title that is a defining lead
    sentence defines («Байкал — озеро …», «Ломоносов (1711–1765) — учёный …»): what every sentence of an
    article is about, named or not («Металл плавится …» in «Алюминий»); "" for a headline."""
    title = hit.document.title
    if len(lemmas(title)) > TOPIC_WORDS:
        defined, dash, _ = title.partition(" — ")
        title = re.sub(r"\([^)]*\)", " ", defined) if dash else ""
    return title if len(lemmas(title)) <= TOPIC_WORDS else ""


def _topic(hit: Hit) -> frozenset[str]:
    return frozenset(lemmas(_topic_text(hit)))


def _has(terms: frozenset[str], term: str) -> bool:
    return term in terms or any(related(term, t) for t in terms if t[:3] == term[:3])


def _coverage(terms: frozenset[str], wanted: dict[str, float], covered: set[str] = frozenset()) -> float:  # type: ignore[assignment]
    total = sum(wanted.values()) or 1.0
    return sum(w for t, w in wanted.items() if t not in covered and _has(terms, t)) / total


class SentenceScorer:
    """Scores candidates for one question."""

    def __init__(self, wanted: dict[str, float], kind: str | None) -> None:
        self.wanted = wanted
        self.kind = kind

    def lexical(self, c: Candidate, covered: set[str]) -> float:
        near = {t for t in c.context if t not in c.terms}
        own = {t for t in self.wanted if _has(c.terms, t)}
        return _coverage(c.terms, self.wanted, covered) + 0.5 * _coverage(frozenset(near), self.wanted, covered | own)

    def score(self, c: Candidate, covered: set[str], sims: tuple[float, float]) -> float:
        lo, hi = sims
        sim = (c.sim - lo) / (hi - lo) if hi > lo else 0.0
        value = c.weight * (self.lexical(c, covered) + SIM_WEIGHT * sim)
        if self.kind:
            value = value + TYPE_BONUS if self.kind in c.evidence else value * TYPE_MISSING
        elif c.names_focus:
            value += TYPE_BONUS  # «На какой выставке …?»: the sentence that gives the exhibition's name
        return value


def extract_answer(
    question: str,
    hits: Sequence[Hit],
    *,
    question_terms: Sequence[str],
    kind: str | None = None,
    context: str = "",
    similarity: Callable[[list[str]], np.ndarray] | None = None,
    knows: Callable[[str], bool] | None = None,
    names: Sequence[str] = (),
    document_terms: Callable[[str], frozenset[str]] | None = None,
    name_words: Sequence[str] = (),
    events: Sequence[str] | None = None,
    adjacent: Callable[[Hit, int], Hit | None] | None = None,
    max_sentences: int = 3,
    min_gain: float = 0.2,
) -> Extraction | None:
    """The best-answering sentences of `hits`, or None when there is nothing to choose from.

    `question_terms`: the question's content lemmas as the index knows them; `kind`: the kind of
    answer asked for (questions.answer_type); `context`: the previous question of a follow-up (its
    words count a third); `similarity(texts)`: encoder cosines of the question to each text; `knows(lemma)`:
    whether the collection has the word (a role word it lacks may be a paraphrase; default: has them all);
    `names`: the index terms of the question's proper names, `document_terms(doc_id)`: a document's lemmas —
    a sentence from a document that never mentions a name the question asks about is about something else;
    `name_words`: the terms of the question's names the collection does not know (misspelt ones, say);
    `events`: the terms of the question's event verbs (slots.asked_events; default: their lemmas);
    `adjacent(hit, step)`: the passage before or after a hit in its document (Retriever.adjacent), for a
    reason or a sequel that opens the next passage.
    """
    question_terms = list(question_terms)
    context_terms = [t for t in lemmas(context) if t not in question_terms]
    asked = frozenset(words(question + " " + context)) | frozenset(lemmas(question + " " + context))
    candidates = _candidates(hits, asked)
    if not candidates or not (question_terms or context_terms or similarity):
        return None
    kind, named_noun, attribute = _mark(candidates, question, kind, question_terms, knows, asked)
    quoted = [frozenset(lemmas(text)) for text in quoted_names(question)] if document_terms is not None else []
    quoted = [q for q in quoted if q]
    mentions: dict[str, float] = {}  # per document: the share of the question's names it mentions
    lacking: dict[str, int] = {}  # per document: the question's quoted names whose words it has not all
    if (names or quoted) and document_terms is not None:
        for doc in {c.hit.chunk.doc_id for c in candidates}:
            have = document_terms(doc)
            mentions[doc] = sum(_has(have, n) for n in names) / len(names) if names else 1.0
            lacking[doc] = sum(not all(_has(have, t) for t in q) for q in quoted)
        for c in candidates:  # a sentence of a document that lacks them is about something else
            missed = round((1 - mentions[c.hit.chunk.doc_id]) * len(names)) + lacking[c.hit.chunk.doc_id]
            c.weight *= NAME_MISSING_WEIGHT**missed
    idf = idf_weights(question_terms + context_terms, hits)
    wanted = {t: idf[t] for t in question_terms} | {t: idf[t] / 3 for t in context_terms}
    if similarity is not None:
        for c, s in zip(candidates, similarity([c.text for c in candidates]), strict=True):
            c.sim = float(s)
    sims = (min(c.sim for c in candidates), max(c.sim for c in candidates))
    scorer = SentenceScorer(wanted, kind)

    def rank(c: Candidate) -> tuple[float, int, int]:
        return scorer.score(c, set(), sims), -c.hit_rank, -c.start

    best = max(candidates, key=rank)
    if best.of_other and attribute is not None:
        # «Температура плавления титана — 1668 °C» for «Какова температура плавления алюминия?»: the article
        # on aluminium says it of itself without its name («Металл плавится при температуре 660 °C»)
        itself = [c for c in candidates if _of_title(c, attribute.of) and _has(c.terms, attribute.noun) and (
            not kind or kind in c.evidence)]  # fmt: skip
        best = max(itself, key=rank) if itself else best
    chosen = [best]
    covered = {t for t in wanted if _has(best.terms, t)}
    before = _sentence_at(best, candidates, -1)
    if not covered and before is not None and any(_has(before.terms, t) for t in wanted):
        # a short reason («Всё из-за погоды.») shares no word with the question: what it explains goes first
        chosen.append(before)
        covered |= {t for t in wanted if _has(before.terms, t)}
    elif kind == "reason" and follows_from_before(best.text):
        # «Почему закрыли мост?» — «Весной лёд повредил опоры.» + «Поэтому мост закрыли …»
        cause = _next_sentence(best, candidates, -1, adjacent)
        if cause is not None:
            chosen.append(cause)
            covered |= {t for t in wanted if _has(cause.terms, t)}
    if kind and kind not in best.evidence:
        follower = _next_sentence(best, candidates, 1, adjacent)
        # (a caption «Имя, должность:» opens the next quote; it does not go on with this sentence)
        if follower is not None and kind in follower.evidence and not follower.text.rstrip().endswith(":"):
            chosen.append(follower)  # «… не работает мобильный интернет.» + «Все ради безопасности.»
            covered |= {t for t in wanted if _has(follower.terms, t)}
    focus = asked_focus(question)
    if focus and not any(_has(c.terms, focus) for c in chosen):
        # «Какие виды обогревателей …?» + «… выпускает широкий ассортимент техники.»: the sentence
        # beside it that names the asked thing («Это … обогреватели, …») carries the answer
        for step in (1, -1):
            near = _sentence_at(best, candidates, step)
            if near is not None and near not in chosen and _has(near.terms, focus):
                chosen.append(near)
                covered |= {t for t in wanted if _has(near.terms, t)}
                break
    while len(chosen) < max_sentences:
        # one more sentence only for what the first left out; another document must bring much more
        def gain(c: Candidate, covered: set[str] = covered) -> float:
            own = _coverage(c.terms, scorer.wanted, covered) * c.weight
            return own if c.hit.chunk.doc_id == best.hit.chunk.doc_id else own - OTHER_DOCUMENT_PENALTY

        rest = [c for c in candidates if c not in chosen and not c.of_other]  # not another thing's attribute
        if not rest:
            break
        extra = max(rest, key=lambda c: (gain(c), -c.hit_rank, -c.start))
        if gain(extra) < min_gain:
            break
        chosen.append(extra)
        covered |= {t for t in wanted if _has(extra.terms, t)}
    last = max((c for c in chosen if c.hit is best.hit), key=lambda c: c.index)
    sequel = _sentence_at(last, candidates, 1)
    if (
        sequel is not None and sequel not in chosen and len(chosen) < max_sentences and goes_on(sequel.text)
        and any(_has(sequel.terms, t) for t in wanted if t not in covered)
    ):  # fmt: skip
        # «… выпуск вырос на 12 %.» + «К лету его планируют удвоить …»: the sentence after goes
        # on about the same thing (a pronoun early in it) and tells what the question asks that the first did not
        chosen.append(sequel)
        covered |= {t for t in wanted if _has(sequel.terms, t)}
    names_found = 1.0
    if names and mentions:
        assert document_terms is not None

        def unnamed(cs: list[Candidate]) -> list[str]:
            have = frozenset().union(*(document_terms(d) for d in {c.hit.chunk.doc_id for c in cs}))
            return [n for n in names if not _has(have, n)]

        missing = unnamed(chosen)
        if missing and len(missing) < len(names) and len(chosen) < max_sentences + 1:
            # «… председателя правительства Удмуртии и губернатора Ульяновской области»: the other name is
            # in another document; its best sentence joins the answer
            pool = [c for c in candidates if c not in chosen and not set(missing) <= set(unnamed([c]))]
            if pool:
                extra = max(pool, key=lambda c: (scorer.score(c, covered, sims), -c.hit_rank, -c.start))
                if scorer.lexical(extra, set()) > 0:
                    chosen.append(extra)
                    covered |= {t for t in wanted if _has(extra.terms, t)}
                    missing = unnamed(chosen)
        names_found = 1 - len(missing) / len(names)
    found = _render(chosen, wanted, kind, best)
    antecedent = _sentence_at(best, candidates, -1)
    antecedent = antecedent if antecedent is not None and refers_back(best.text, antecedent.text) else None
    if antecedent is not None and antecedent not in chosen:
        # «Они работают вместе давно.» says who only with the sentence before it: shown and quoted, but not
        # counted as evidence (a topic sentence beside a pronoun must not make a non-answer look covered)
        shown = _render([*chosen, antecedent], wanted, kind, best)
        found.answer, found.citations = shown.answer, shown.citations
    if quoted:  # «Казань Арена» is not named by «Казань» in one document and «… Арена» in another
        names_found = min(names_found, 1 - lacking[best.hit.chunk.doc_id] / len(quoted))
    found.names_found = names_found
    found.missing = _missing(found, question_terms, idf, kind, knows)
    _judge(found, question, best, candidates, question_terms, list(names) + list(name_words), events, kind, named_noun)
    return found


def _mark(
    candidates: list[Candidate], question: str, kind: str | None, question_terms: list[str],
    knows: Callable[[str], bool] | None, asked: frozenset[str],
) -> tuple[str | None, str | None, Attribute | None]:  # fmt: skip
    """Keep each candidate's evidence to what answers this question (a number that counts the asked thing, a
    name beside the asked role, …) and flag what it says of something else; (kind, the noun whose name is
    asked, the asked attribute)."""
    slot = asked_slot(question) if kind in ("number", None) else None
    if kind is None and slot is not None:
        kind = "number"  # «Какой бюджет …», «Какова цена …»: an amount is asked, in its units
    if slot is not None and slot.noun and slot.noun not in question_terms:
        # a misspelt counted noun («вагонав»): the question term the index read it as
        close = difflib.get_close_matches(slot.noun, question_terms, n=1, cutoff=0.75)
        slot = replace(slot, noun=close[0]) if close else slot
    if slot is not None:  # «сколько врачей»: a count of years or of other things does not answer
        for c in candidates:
            if "number" in c.evidence and not fills(slot, c.text):
                c.evidence.discard("number")
    role = asked_role(question) if kind == "person" else None
    if role is not None and role.head not in question_terms:
        # a misspelt role word («министор»): the question term the index read it as
        close = difflib.get_close_matches(role.head, question_terms, n=1, cutoff=0.75)
        role = replace(role, head=close[0]) if close else role
    if role is not None:  # «кто председатель X»: a name beside another office, or of another X, does not
        for c in candidates:
            if "person" in c.evidence and not fills_role(role, c.text, knows or (lambda _: True)):
                c.evidence.discard("person")
    named_noun = asked_named(question)
    if kind == "name" and named_noun is not None:
        for c in candidates:
            if "name" in c.evidence and not _animate(named_noun) and names_people_only(c.text, asked):
                c.evidence.discard("name")  # «Как называется компания …?» is not answered by «Олег Златин, …»
            if "name" not in c.evidence and names_as(named_noun, c.text):
                c.evidence.add("name")  # «Как называется белый пигмент …?» — «… диоксида титана, белого пигмента …»
    focus = asked_focus(question) if kind is None else None
    if focus:
        for c in candidates:
            c.names_focus = names_instance(focus, c.text)
    attribute = asked_attribute(question) if is_russian(question) else attribute_of_terms(question_terms)
    if attribute is not None:  # «Какова скорость поезда?» is not answered by «Скорость самолёта — 900 км/ч»
        for c in candidates:
            c.of_other = gives_other(attribute, c.text, c.topic)
    return kind, named_noun, attribute


def _judge(
    found: Extraction, question: str, best: Candidate, candidates: list[Candidate], question_terms: list[str],
    named: list[str], events: Sequence[str] | None, kind: str | None, named_noun: str | None,
) -> None:  # fmt: skip
    """Set the signals that the answer is about something else than the question asks (refusal.py)."""
    offices = answer_types().categories["any"]
    asked_about = [t for t in question_terms if t not in offices and not any(related(t, n) for n in named)]
    window = frozenset().union(*(c.terms | c.context for c in found.chosen))
    found.topic_only = bool(named and asked_about) and not any(_has(window, t) for t in asked_about)
    # a date, place or person beside another event («Когда закрыли …?» over «… поступил в 1731 году»)
    families = [lemma(w) for w in asked_events(question)]
    found.of_other = best.of_other or _event_of_other(found, question, kind, families)
    events = families if events is None else list(events)
    # (a verb the collection never uses is not looked for, but its word family in the answer tells the event:
    # «С кем спорил …, когда уволился …?» over «… ушёл с поста из-за спора с …»)
    found.event_missing = kind in EVENT_KINDS and bool(events) and not any(
        same_event(e, t) for e in dict.fromkeys([*events, *families]) for t in window if t[:2] == e[:2]
    )
    # «Сколько уже поставлено?» is not answered by «… поставит 120 …»: what is planned has not happened
    if families and event_tenses(question, families) == {"past"}:
        found.not_yet = event_tenses(" ".join(c.text for c in found.chosen), families) == {"futr"}
    # «Какая гора самая высокая?» is not answered by a sentence on a high mountain
    # «Как звали первого ректора?» is not answered by a sentence on a rector that says nothing of being first
    extreme = asked_extreme(question)
    found.not_most = (asks_most(question) and not any(says_most(c.text) for c in found.chosen)) or bool(
        extreme and not any(says_extreme(extreme, c.text) for c in found.chosen)
    )
    # «… в апреле?» is not answered by «… января …, июля …» (read in the best sentence's document: a sentence
    # of another document that only shares the year tells of something else)
    own = [c for c in found.chosen if c.hit.chunk.doc_id == best.hit.chunk.doc_id]
    near = [n for c in own for n in (_sentence_at(c, candidates, -1), c, _sentence_at(c, candidates, 1)) if n]
    # «Сколько игроков в команде по хоккею с шайбой?» over «… 11 игроков. В отличие от хоккея с шайбой, …»
    said = " ".join(c.text for c in found.chosen)
    found.other_kind = other_kind(question, best.text, _topic_text(best.hit)) or bool(
        only_in_contrast(question, question_terms, said)
    )
    found.other_time = other_time(question, " ".join(c.text for c in own), " ".join(n.text for n in near))
    # «Как называется столица …?» wants the capital named; a which-question's noun is not needed, its
    # instance answers it («Какие самолёты?» — «Ил-76»)
    found.focus_missing = named_noun is not None and named_noun not in offices and not _has(window, named_noun)


def _event_of_other(found: Extraction, question: str, kind: str | None, families: list[str]) -> bool:
    """The sentences that hold the asked date, person or place tell the question's event only of another thing
    («Когда основан театр?» over «… музей, основанный в 1870 году», slots.event_of_other)."""
    if kind not in EVENT_KINDS or not families:
        return False
    told = [
        event_of_other(question, c.text, families, c.topic) for c in found.chosen if kind in c.evidence
    ]  # fmt: skip
    return any(t is True for t in told) and all(t is not False for t in told)


def _missing(
    found: Extraction, question_terms: list[str], idf: dict[str, float], kind: str | None,
    knows: Callable[[str], bool] | None,
) -> float:  # fmt: skip
    """IDF share of the question's words that the collection uses somewhere but the chosen sentences and
    their neighbours do not: «Когда умер Менделеев?» over a sentence on his birth lacks «умереть», which
    another document has. A word naming the answer's kind («в каком городе») is answered by an instance."""
    terms = set(question_terms)
    total = sum(idf[t] for t in terms) or 1.0
    window = frozenset().union(*(c.terms | c.context for c in found.chosen))
    types = answer_types()
    categories = types.categories["any"] | (types.categories.get(kind or "", frozenset()) if found.type_ok else frozenset())
    lacking = [t for t in terms if (knows is None or knows(t)) and t not in categories and not _has(window, t)]
    return sum(idf[t] for t in lacking) / total


def _animate(noun: str) -> bool:
    from .text import _morph

    return "anim" in _morph().parse(noun)[0].tag


def _of_title(c: Candidate, nouns: Sequence[str]) -> bool:
    """The candidate's document is titled with one of `nouns` (an article on the thing itself)."""
    title = frozenset(lemmas(c.hit.document.title))
    return any(_has(title, n) for n in nouns)


def _sentence_at(c: Candidate, candidates: list[Candidate], step: int) -> Candidate | None:
    """The sentence `step` places after (or before) `c` in its passage."""
    return next((o for o in candidates if o.hit is c.hit and o.index == c.index + step), None)


def _next_sentence(
    c: Candidate, candidates: list[Candidate], step: int, adjacent: Callable[[Hit, int], Hit | None] | None
) -> Candidate | None:
    """The sentence right after (`step` 1) or before (-1) `c` in its document: in its passage, or else the
    nearest one of the passage beside it (`adjacent`), which then gets a citation number of its own."""
    near = _sentence_at(c, candidates, step)
    if near is not None or adjacent is None:
        return near
    beside = adjacent(c.hit, step)
    if beside is None:
        return None
    start, end = c.position[1], c.position[1] + len(c.text.rstrip())
    pool = [o for o in _candidates([beside]) if (o.position[1] >= end if step > 0 else o.position[1] + len(o.text.rstrip()) <= start)]
    if not pool:
        return None
    found = min(pool, key=lambda o: o.position[1]) if step > 0 else max(pool, key=lambda o: o.position[1])
    found.hit_rank, found.beside = max(o.hit_rank for o in candidates) + 1, True
    return found


def _render(chosen: list[Candidate], wanted: dict[str, float], kind: str | None, best: Candidate) -> Extraction:
    """Answer text with [n] markers, the best sentence's passage first (the answer leads), then the others in
    rank order, each in document order; one citation a passage quoting all its chosen sentences."""
    def place(c: Candidate) -> tuple[bool, int, int]:
        lead = c.hit_rank == best.hit_rank or c.beside  # the best passage and the sentence next to it, in order
        return not lead, best.hit_rank if lead else c.hit_rank, c.position[1]

    ordered = sorted(chosen, key=place)
    quotes: dict[int, list[Candidate]] = {}
    for c in ordered:
        quotes.setdefault(c.hit_rank, []).append(c)
    citations = [
        citation_for(n, cs[0].hit, " ".join(c.text.strip() for c in cs), _coverage(frozenset().union(*(c.terms for c in cs)), wanted))
        for n, cs in sorted(quotes.items())
    ]
    parts: list[str] = []
    for i, c in enumerate(ordered):  # one marker after a run of sentences from the same passage
        last_of_run = i + 1 == len(ordered) or ordered[i + 1].hit_rank != c.hit_rank
        parts.append(f"{c.text.rstrip()} [{c.hit_rank}]" if last_of_run else c.text.rstrip())
    text = " ".join(parts)
    union = frozenset().union(*(c.terms for c in chosen))
    # the asked-for kind must stand in the best sentence or a sentence beside it, not in an extra one
    # chosen for other words of the question («… запасы нефти» + «… 3 тыс. единиц нуждаются в замене»)
    beside = [c for c in chosen if c.hit is best.hit and abs(c.index - best.index) <= 1]
    evidence = set().union(*(c.evidence for c in beside))
    return Extraction(
        answer=text,
        citations=citations,
        coverage=_coverage(union, wanted),
        own_coverage=SentenceScorer(wanted, kind).lexical(best, set()),
        similarity=max(c.sim for c in chosen),
        type_ok=kind is None or kind in evidence,
        chosen=chosen,
    )
