"""Chunking: exact offsets, whole sentences, bounded size."""

from __future__ import annotations

from support import SEEDS

from qa_bot.chunk import chunk_document
from qa_bot.ingest import ingest, parse_document
from qa_bot.text import sentences


def test_chunks_are_exact_slices_of_whole_sentences() -> None:
    for doc in ingest([SEEDS]).documents:
        chunks = chunk_document(doc, 600, 150)
        assert len(chunks) > 2
        starts = {s.start for s in sentences(doc.text)}
        ends = {s.end for s in sentences(doc.text)}
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text
            assert len(c.text) <= 600
            assert c.start in starts, f"{c.chunk_id} starts mid-sentence: {c.text[:40]!r}"
            assert c.end in ends, f"{c.chunk_id} ends mid-sentence: {c.text[-40:]!r}"
            assert c.chunk_id == f"{doc.doc_id}#{c.index}"
        # no text is lost between chunks, and most consecutive chunks share a sentence
        assert chunks[0].start == 0 and chunks[-1].end == len(doc.text)
        pairs = list(zip(chunks, chunks[1:], strict=False))
        assert all(not doc.text[a.end : b.start].strip() for a, b in pairs)
        assert sum(b.start < a.end for a, b in pairs) >= len(pairs) / 2


def test_quoted_name_with_a_full_stop_is_one_sentence() -> None:
    text = 'Компании были на выставке "ИННОПРОМ. Беларусь". Там подписали договоры.'
    assert [s.text for s in sentences(text)] == [
        'Компании были на выставке "ИННОПРОМ. Беларусь".',
        "Там подписали договоры.",
    ]


def test_a_sentence_longer_than_a_chunk_is_cut_at_words() -> None:
    long_sentence = " ".join(["слово"] * 200) + "."
    doc = parse_document("long", "Короткое начало. " + long_sentence + " Конец.")
    chunks = chunk_document(doc, 200, 40)
    assert all(len(c.text) <= 200 for c in chunks)
    assert all(not c.text.startswith("лово") for c in chunks)  # never inside a word
    assert "Конец." in chunks[-1].text


def test_a_sentence_goes_on_after_an_abbreviation_followed_by_lower_case() -> None:
    text = "На тонну уходит около 15 тыс. кВт·ч энергии. Поэтому заводы строят у ГЭС."
    assert [s.text for s in sentences(text)] == ["На тонну уходит около 15 тыс. кВт·ч энергии.", "Поэтому заводы строят у ГЭС."]
