"""Synthetic Russian documents for the retrieval benchmark.

Sentences of the seed and look-alike documents are recombined into new news-like articles: the
region, city and "<region>ский" adjective of each article are swapped for others (inflected to the
same case with pymorphy3), numbers and dates are varied, and part of the common nouns are replaced
by nouns drawn with a Zipf law from the navec news vocabulary, so that the corpus vocabulary grows
with its size as a real news collection's does (the recombined sentences alone give ~3k lemmas).
Everything is deterministic for a given seed; document i is the same whatever the corpus size.
"""

from __future__ import annotations

import bisect
import random
import re
from dataclasses import dataclass
from pathlib import Path

# Geographic names left as they are: the topic of the seeds (Belarus and Russia).
KEEP_GEO = {"беларусь", "белоруссия", "россия", "рф", "минск", "москва", "германия", "китай", "снг"}
SOURCE_REGIONS = {
    "удмуртия", "татарстан", "башкортостан", "башкирия", "чувашия", "прикамье", "мордовия", "поволжье",
    "приволжье", "урал",
}  # fmt: skip
# The seeds' own places never appear in generated documents, so the gold documents stay the only ones
# about them and "right document first" remains a meaningful check among the look-alikes.
SEED_PLACES = {"удмуртия", "ижевск", "ульяновск", "удмуртский", "ижевский", "ульяновский"}
REGIONS = [
    "татарстан", "башкортостан", "чувашия", "мордовия", "карелия", "якутия", "бурятия",
    "хакасия", "адыгея", "калмыкия", "дагестан", "ингушетия", "башкирия", "кубань", "ставрополье",
    "забайкалье", "приморье", "ямал", "югра", "камчатка", "сахалин", "алтай", "чукотка",
]  # fmt: skip
CITIES = [
    "казань", "уфа", "пермь", "самара", "пенза", "чебоксары", "саранск", "киров", "курск", "тула",
    "омск", "томск", "тверь", "рязань", "липецк", "брянск", "смоленск", "калуга", "ярославль", "кострома",
    "вологда", "архангельск", "мурманск", "петрозаводск", "сыктывкар", "оренбург", "саратов", "волгоград",
    "астрахань", "воронеж", "белгород", "тамбов", "челябинск", "екатеринбург", "тюмень",
    "новосибирск", "барнаул", "красноярск", "иркутск", "хабаровск", "владивосток", "магнитогорск", "тольятти",
]  # fmt: skip
REGION_ADJECTIVES = [
    "курский", "тульский", "омский", "томский", "тверской", "орловский", "рязанский", "липецкий", "брянский",
    "смоленский", "калужский", "ярославский", "костромской", "вологодский", "архангельский", "мурманский",
    "оренбургский", "саратовский", "волгоградский", "астраханский", "воронежский", "белгородский",
    "тамбовский", "челябинский", "свердловский", "тюменский", "новосибирский", "иркутский",
    "пензенский", "самарский", "пермский", "нижегородский", "кировский", "башкирский",
    "татарский", "чувашский", "казанский", "уфимский", "чебоксарский", "мордовский",
]  # fmt: skip
ADJ_SET = set(REGION_ADJECTIVES) | SEED_PLACES
assert not SEED_PLACES & set(REGIONS + CITIES + REGION_ADJECTIVES)
_EXCLUDED = {"Name", "Surn", "Patr", "Geox", "Orgn", "Abbr", "Fixd", "Pltm", "Trad"}
CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
SKIP_SENTENCE = re.compile(r"вымышлен|выдуман", re.IGNORECASE)
TOKEN = re.compile(r"[А-Яа-яЁё]+(?:-[А-Яа-яЁё]+)*|\d+(?:[.,]\d+)?")


@dataclass(frozen=True, slots=True)
class Slot:
    kind: str  # "region", "city", "adj", "noun", "num"
    original: str
    grammemes: frozenset[str]
    capital: bool


Template = tuple[object, ...]  # str literals and Slot objects


class CorpusGenerator:
    """Renders document number i of a synthetic corpus built from the given source texts."""

    def __init__(
        self,
        source_texts: list[str],
        *,
        seed: int = 20251002,
        noun_share: float = 0.3,
        lexicon_size: int = 20000,
    ) -> None:
        import pymorphy3

        from qa_bot.ingest import parse_document
        from qa_bot.text import sentences

        self.morph = pymorphy3.MorphAnalyzer()
        self.seed = seed
        self.noun_share = noun_share
        self._forms: dict[tuple[str, frozenset[str]], str | None] = {}
        self.sentences: list[Template] = []
        self.leads: list[Template] = []
        for n, raw in enumerate(source_texts):
            doc = parse_document(f"src{n}", raw)
            for p, paragraph in enumerate(doc.text.split("\n\n")):
                for span in sentences(paragraph):
                    text = span.text.strip()
                    if len(text) < 25 or SKIP_SENTENCE.search(text):
                        continue
                    template = self._template(text)
                    self.sentences.append(template)
                    if p == 0 or 60 <= len(text) <= 170:
                        self.leads.append(template)
        self.lexicon = self._noun_lexicon(lexicon_size)
        weights = [1.0 / (rank + 20) for rank in range(len(self.lexicon))]
        total = sum(weights)
        acc = 0.0
        self._cdf = []
        for w in weights:
            acc += w / total
            self._cdf.append(acc)

    # ---- templates -------------------------------------------------------------------------------
    def _template(self, sentence: str) -> Template:
        parts: list[object] = []
        pos = 0
        for m in TOKEN.finditer(sentence):
            slot = self._slot(m.group())
            if slot is None:
                continue
            parts.append(sentence[pos : m.start()])
            parts.append(slot)
            pos = m.end()
        parts.append(sentence[pos:])
        merged: list[object] = []
        for part in parts:
            if isinstance(part, str) and merged and isinstance(merged[-1], str):
                merged[-1] += part
            elif part != "":
                merged.append(part)
        return tuple(merged)

    def _slot(self, word: str) -> Slot | None:
        if word[0].isdigit():
            return Slot("num", word, frozenset(), False)
        parse = self.morph.parse(word)[0]
        tag = parse.tag
        lemma = parse.normal_form.replace("ё", "е")
        capital = word[0].isupper()
        case = {tag.case} if tag.case else set()
        number = {tag.number} if tag.number else set()
        if "Geox" in tag and tag.POS == "NOUN" and lemma not in KEEP_GEO:
            kind = "region" if lemma in SOURCE_REGIONS else "city"
            return Slot(kind, word, frozenset(case | number), capital)
        if tag.POS == "ADJF" and lemma in ADJ_SET:
            gender = {tag.gender} if tag.gender else set()
            return Slot("adj", word, frozenset(case | number | gender), capital)
        if (
            tag.POS == "NOUN"
            and not capital
            and len(word) >= 4
            and not (_EXCLUDED - {"Pltm"}) & set(str(tag).replace(" ", ",").split(","))
            and tag.case
        ):
            return Slot("noun", word, frozenset(case | number), capital)
        return None

    def _noun_lexicon(self, size: int) -> list[str]:
        """Common nouns (lemmas) from the navec news vocabulary, in a seeded random order (cached on disk)."""
        cache = Path.home() / ".cache" / "qa_bot" / "bench" / f"nouns-{self.seed}-{size}-v1.txt"
        if cache.exists():
            return cache.read_text(encoding="utf-8").split()
        out = self._parse_noun_lexicon(size)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text("\n".join(out), encoding="utf-8")
        tmp.replace(cache)
        return out

    def _parse_noun_lexicon(self, size: int) -> list[str]:
        from navec import Navec

        from qa_bot.embed import navec_archive

        words = [
            w for w in Navec.load(str(navec_archive())).vocab.words
            if 5 <= len(w) <= 14 and re.fullmatch("[а-я]+", w)
        ]  # fmt: skip
        rng = random.Random(self.seed)
        rng.shuffle(words)
        out: list[str] = []
        seen: set[str] = set()
        for w in words:
            p = self.morph.parse(w)[0]
            lemma = p.normal_form
            if (
                p.tag.POS == "NOUN"
                and p.score >= 0.5
                and lemma not in seen
                and not (_EXCLUDED & set(str(p.tag).replace(" ", ",").split(",")))
            ):
                seen.add(lemma)
                out.append(lemma)
                if len(out) >= size:
                    break
        return out

    def _inflect(self, lemma: str, grammemes: frozenset[str]) -> str | None:
        key = (lemma, grammemes)
        if key not in self._forms:
            form = None
            for parse in self.morph.parse(lemma)[:3]:
                if parse.normal_form.replace("ё", "е") != lemma.replace("ё", "е"):
                    continue
                inflected = parse.inflect(set(grammemes)) if grammemes else parse
                if inflected is None and "plur" in grammemes:  # Sgtm names: keep the singular
                    inflected = parse.inflect(set(grammemes - {"plur"}) | {"sing"})
                if inflected is not None:
                    form = inflected.word
                    break
            self._forms[key] = form
        return self._forms[key]

    # ---- rendering -------------------------------------------------------------------------------
    def _render(self, template: Template, rng: random.Random, choice: dict[str, str]) -> str:
        out: list[str] = []
        for part in template:
            if isinstance(part, str):
                out.append(part)
                continue
            slot: Slot = part  # type: ignore[assignment]
            word: str | None
            if slot.kind == "num":
                word = self._number(slot.original, rng)
            elif slot.kind == "noun":
                if rng.random() < self.noun_share:
                    lemma = self.lexicon[bisect.bisect_left(self._cdf, rng.random())]
                    word = self._inflect(lemma, slot.grammemes) or slot.original
                else:
                    word = slot.original
            else:
                word = self._inflect(choice[slot.kind], slot.grammemes) or slot.original
            if slot.capital and word:
                word = word[0].upper() + word[1:]
            out.append(word)
        return "".join(out)

    @staticmethod
    def _number(original: str, rng: random.Random) -> str:
        m = re.fullmatch(r"(\d+)(?:([.,])(\d+))?", original)
        assert m
        whole, sep, frac = m.groups()
        if len(whole) == 4 and whole.startswith(("19", "20")) and not frac:
            return str(rng.randint(2012, 2032))
        digits = len(whole)
        new = str(rng.randint(10 ** (digits - 1) if digits > 1 else 1, 10**digits - 1))
        if frac:
            new += sep + "".join(str(rng.randint(0, 9)) for _ in frac)
        return new

    def document(self, i: int) -> str:
        """The text of synthetic document i: a dated title line and paragraphs of recombined sentences."""
        rng = random.Random(self.seed * 1_000_003 + i)
        choice = {
            "region": rng.choice(REGIONS),
            "city": rng.choice(CITIES),
            "adj": rng.choice(REGION_ADJECTIVES),
        }
        date = f"date {rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        title = self._render(rng.choice(self.leads), rng, choice)
        paragraphs = [f"{date} {title}"]
        target = rng.randint(2300, 3700)
        length = 0
        while length < target:
            para = " ".join(
                self._render(rng.choice(self.sentences), rng, choice) for _ in range(rng.randint(1, 3))
            )
            paragraphs.append(para)
            length += len(para) + 2
        return "\n\n".join(paragraphs) + "\n"

    def write(self, folder: Path, start: int, stop: int, prefix: str = "syn_") -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i in range(start, stop):
            path = folder / f"{prefix}{i:06d}.txt"
            path.write_text(self.document(i), encoding="utf-8")
            paths.append(path)
        return paths
