"""Stage 5: find the passages that answer a question: BM25, dense, or both fused."""

from __future__ import annotations

import difflib
import math
import re
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .embed import Embedder
from .english import equivalents
from .index import DocumentInfo, Index, StoredChunk
from .questions import cyrillic_reading
from .settings import RetrievalMode
from .text import STOP_WORDS, is_dictionary_word, is_proper_noun, lemma, names_something, related, words

CANDIDATES = 50
QUERY_CACHE = 64  # question vectors kept per retriever
NAMED_DOCUMENTS = 3  # documents searched for a name the retrieved passages lack
DOCUMENT_CACHE = 256  # documents whose lemma sets are kept per retriever
_LATIN_NAME = re.compile(r"\b[A-Z][a-z]{3,}")  # a capitalised Latin word: maybe a romanised Russian name
_NAME = re.compile(r"\b[A-ZА-ЯЁ][a-zа-яёA-ZА-ЯЁ]{2,}\b")
_NUMBER = re.compile(r"(?<![\d.,])\d{2,}(?![\d])")  # «2019», «558-м»: a number names what is asked about too


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its scores; `relevance` in [0, 1] drives refusals."""

    chunk: StoredChunk
    document: DocumentInfo
    score: float
    relevance: float
    bm25: float = 0.0
    dense: float = 0.0
    coverage: float = 0.0


class Retriever:
    """Ranks the chunks of one loaded Index; the embedder is loaded only when dense search needs it."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder | Callable[[], Embedder] | None,
        *,
        mode: RetrievalMode = "hybrid",
        dense_weight: float = 0.35,
    ) -> None:
        self.index = index
        self._embedder = embedder
        self.mode = mode
        self.dense_weight = dense_weight
        self._query_vectors: dict[str, np.ndarray] = {}
        self._document_terms: dict[str, frozenset[str]] = {}

    @property
    def embedder(self) -> Embedder:
        if not isinstance(self._embedder, Embedder):
            if self._embedder is None:
                raise RuntimeError("dense retrieval needs an embedder")
            self._embedder = self._embedder()
        return self._embedder

    def query_vector(self, text: str) -> np.ndarray:
        """The encoder's vector of a question; the last few are kept (retrieval and sentence choice both need it)."""
        cached = self._query_vectors.get(text)
        if cached is None:
            cached = self.embedder.embed_query(text)
            if len(self._query_vectors) >= QUERY_CACHE:
                self._query_vectors.clear()
            self._query_vectors[text] = cached
        return cached

    @property
    def embedder_loaded(self) -> bool:
        return isinstance(self._embedder, Embedder)

    @cached_property
    def _vocab_by_letter(self) -> dict[str, list[str]]:
        buckets: dict[str, list[str]] = defaultdict(list)
        for term in self.index.vocabulary:
            if len(term) >= 4 and term.isalpha():
                buckets[term[0]].append(term)
        return buckets

    def term(self, word: str) -> str:
        """The index lemma for a word form; a misspelt word unknown to the index becomes its closest lemma."""
        term = lemma(word)
        if self.index.knows(term) or len(word) < 4 or not word.isalpha() or is_dictionary_word(word):
            return term
        bucket = self._vocab_by_letter.get(word[0], [])
        close = difflib.get_close_matches(word, bucket, n=1, cutoff=0.75) or difflib.get_close_matches(
            term, bucket, n=1, cutoff=0.75
        )
        return lemma(close[0]) if close else term

    def query_terms(self, question: str) -> list[str]:
        """Content lemmas of the question as the index knows them. In a question in English, each word
        is read as the Russian equivalent the collection uses most (english.py), and a romanised Russian
        name («Vologda») as its Cyrillic reading when the index knows it."""
        out = []
        names = {m.group().lower() for m in _LATIN_NAME.finditer(question)}
        tokens = words(question)
        latin = [i for i, w in enumerate(tokens) if w.isascii() and w.isalpha()]
        read = self._english(tokens, latin, names) if latin else {}
        for i, w in enumerate(tokens):
            if w in STOP_WORDS or lemma(w) in STOP_WORDS:
                continue
            if i in read or (w.isascii() and w.isalpha()):
                if read.get(i):
                    out.append(read[i])
                continue
            out.append(self.term(w))
        return out

    def _english(self, tokens: list[str], latin: list[int], names: set[str]) -> dict[int, str]:
        """{token position: index term} for the English words (and romanised names) of a question."""
        from .english import phrases

        out: dict[int, str] = {}
        runs: list[list[int]] = []
        for i in latin:  # consecutive Latin words, so that phrases («sea level») are looked up whole
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        df = self._doc_freq
        for run in runs:
            for start, end, found in phrases([tokens[i] for i in run]):
                terms = [lemma(v) for v in found]
                if end - start > 1:  # a phrase («nizhny novgorod») reads as all its Russian words
                    for j, t in zip(range(start, end), terms + [""] * (end - start), strict=False):
                        out[run[j]] = t
                    continue
                known = [t for t in terms if self.index.knows(t)]
                # the equivalent the collection uses most; none known: the word stays, unknown, in the question
                out[run[start]] = max(known, key=lambda t: df.get(t, 0)) if known else terms[0]
        for i in latin:
            if i not in out and tokens[i] in names:
                term = self._romanised(tokens[i])
                if term:
                    out[i] = term
        return out

    def _romanised(self, word: str) -> str | None:
        if len(word) < 4:
            return None
        reading = cyrillic_reading(word)
        readings = [reading]
        if reading.endswith("ы") and len(reading) > 4:  # «Severny» -> «северний» / «северный»: -y stands for -ий or -ый
            readings += [reading[:-1] + "ий", reading[:-1] + "ый"]
        for r in readings:
            term = self.term(r) if r == reading else lemma(r)
            # a reading the spelling fix takes to another word of the collection (its first letters changed) is not it
            if self.index.knows(term) and term[:3] == r[:3]:
                return term
        bucket = self._vocab_by_letter.get(reading[0], [])
        close = difflib.get_close_matches(reading, bucket, n=1, cutoff=0.8)
        return close[0] if close else None

    def _name_words(self, question: str) -> list[str]:
        """Proper names of the question: capitalised words that do not merely open a sentence (or are all
        capitals), and the numbers of two or more digits it states («чемпионат 2019 года», «558-й завод»):
        a document that never mentions them is about something else. (Dates that restrict the documents
        are taken out of the question before.)"""
        out = [m.group() for m in _NUMBER.finditer(question)]
        for m in _NAME.finditer(question):
            word = m.group()
            before = question[: m.start()].rstrip(" «\"'(")
            first = not before or before[-1] in ".!?…:"  # a sentence starts with a capital anyway
            if (first and not word.isupper()) or word.lower() in STOP_WORDS:
                continue
            out.append(word)
        # a name typed in lower case («скока мостов в якутии», «пермское предприятие») is one too
        seen = {w.lower() for w in out}
        out += [w for w in words(question) if w not in seen and w not in STOP_WORDS and names_something(w)]
        return out

    def unknown_names(self, question: str) -> list[str]:
        """Proper names in the question that no indexed document mentions."""
        out = []
        for word in self._name_words(question):
            lower = word.lower()
            if self.index.knows(self.term(lower)):
                continue
            if lower.isalpha() and lower.isascii():
                # a Latin word is unknown only when it reads as a place or person no document names («Tver»
                # -> тверь); not «Lake» or «Soviet», nor a word the English list lacks
                if any(is_proper_noun(r) and not self.index.knows(self.term(r)) for r in equivalents(lower)[:1]):
                    out.append(word)
                continue
            if lower.isdigit():
                out.append(word)  # a number is not misspelt
                continue
            # a misspelt name ("Раман Ефимав") is close to an indexed one, «российский» is of «россия»: not unknown
            bucket = self._vocab_by_letter.get(lower[0], [])
            if difflib.get_close_matches(lower, bucket, n=1, cutoff=0.8):
                continue
            if word.islower() and any(related(self.term(lower), v) for v in bucket):
                continue
            out.append(word)
        return out

    def name_terms(self, question: str, *, known_only: bool = True) -> list[str]:
        """Index terms of the question's proper names that the collection knows («Ладожского» -> ладожский;
        «Ladoga» -> ладога): the answer must come from a document that mentions them. With
        `known_only=False`, the names the collection does not know as well."""
        out: list[str] = []
        for word in self._name_words(question):
            lower = word.lower()
            if lower.isdigit():
                term: str | None = lower
            else:
                term = self._romanised(lower) if lower.isascii() else self.term(lower)
            if term and (self.index.knows(term) or not known_only) and term not in out:
                out.append(term)
        return out

    def with_named_documents(
        self, question: str, hits: list[Hit], mode: RetrievalMode | None = None, doc_ids: Collection[str] | None = None
    ) -> list[Hit]:
        """`hits`, plus the best passage of a document naming what no hit's document names: «… в статье про
        Удмуртию, и в статье про Ульяновскую область» needs both articles, whatever the ranking."""
        out = list(hits)
        docs = {h.chunk.doc_id for h in out}
        for name in self.name_terms(question):
            if any(name in self.document_terms(d) for d in docs):
                continue
            rows = self.index.lexical_search([name], NAMED_DOCUMENTS * 4, doc_ids)
            named = list(dict.fromkeys(self.index.chunk(r).doc_id for r, _ in rows))[:NAMED_DOCUMENTS]
            if not named:
                continue
            shown = {h.chunk.chunk_id for h in out}
            extra = [h for h in self.search(question, 1, mode, named) if h.chunk.chunk_id not in shown]
            out += extra
            docs |= {h.chunk.doc_id for h in extra}
        return out

    def document_terms(self, doc_id: str) -> frozenset[str]:
        """Every lemma of one document (title included), read once per loaded index."""
        cached = self._document_terms.get(doc_id)
        if cached is None:
            cached = frozenset(t for c in self.index.chunks_of([doc_id]) for t in c.terms)
            if len(self._document_terms) >= DOCUMENT_CACHE:
                self._document_terms.clear()
            self._document_terms[doc_id] = cached
        return cached

    def adjacent(self, hit: Hit, step: int) -> Hit | None:
        """The passage right before (`step` -1) or after (+1) `hit` in its document, or None at its edge:
        the sentence that gives a reason or goes on may open the next passage."""
        chunks = self.index.chunks_of([hit.chunk.doc_id])
        at = next((i for i, c in enumerate(chunks) if c.vector_id == hit.chunk.vector_id), None)
        if at is None or not 0 <= at + step < len(chunks):
            return None
        return Hit(chunk=chunks[at + step], document=hit.document, score=0.0, relevance=0.0)

    def _idf(self, terms: list[str]) -> dict[str, float]:
        n = max(1, self.index.chunk_count)
        df = self._doc_freq
        return {t: math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in set(terms)}

    @cached_property
    def _doc_freq(self) -> dict[str, int]:
        return self.index.document_frequency()

    def coverage(self, terms: list[str], chunk: StoredChunk, idf: dict[str, float]) -> float:
        """IDF-weighted share of the question's lemmas that occur in the chunk."""
        if not terms:
            return 0.0
        have = set(chunk.terms)
        total = sum(idf[t] for t in set(terms))
        return sum(idf[t] for t in set(terms) if t in have) / total if total else 0.0

    def search(
        self, question: str, k: int = 5, mode: RetrievalMode | None = None, doc_ids: Collection[str] | None = None
    ) -> list[Hit]:
        """The k best passages, best first; only passages of `doc_ids` when given."""
        mode = mode or self.mode
        if not self.index.chunk_count:
            return []
        terms = self.query_terms(question)
        bm25: dict[int, float] = {}
        dense: dict[int, float] = {}
        pool = max(CANDIDATES, k)
        if mode in ("bm25", "hybrid"):
            bm25 = dict(self.index.lexical_search(terms, pool, doc_ids))
        if mode in ("dense", "hybrid"):
            dense = dict(self.index.dense_search(self.query_vector(question), pool, doc_ids))
        fused = self._fuse(bm25, dense, mode)
        ranked = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        idf = self._idf(terms)
        hits = []
        for row, score in ranked:
            chunk = self.index.chunk(row)
            cov = self.coverage(terms, chunk, idf)
            hits.append(
                Hit(
                    chunk=chunk,
                    document=self.index.documents[chunk.doc_id],
                    score=score,
                    relevance=cov,
                    bm25=bm25.get(row, 0.0),
                    dense=dense.get(row, 0.0),
                    coverage=cov,
                )
            )
        return hits

    def _fuse(self, bm25: dict[int, float], dense: dict[int, float], mode: RetrievalMode) -> dict[int, float]:
        if mode == "bm25":
            return bm25
        if mode == "dense":
            return dense
        # Convex combination of max-normalised scores: BM25 keeps exact names and numbers first,
        # the dense score breaks ties and rescues paraphrases with no shared lemma.
        top_b = max(bm25.values(), default=0.0) or 1.0
        w = self.dense_weight
        rows = set(bm25) | set(dense)
        return {r: (1 - w) * bm25.get(r, 0.0) / top_b + w * dense.get(r, 0.0) for r in rows}
