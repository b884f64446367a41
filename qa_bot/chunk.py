"""Stage 2: cut documents into overlapping passages along sentence boundaries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter, TextSplitter

from .ingest import Document
from .text import sentences


@dataclass(frozen=True)
class Chunk:
    """A passage of a document; `start`/`end` are character offsets into the document's text."""

    chunk_id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str


class SentenceTextSplitter(TextSplitter):
    """Packs whole Russian sentences (razdel) into chunks of at most `chunk_size` characters.

    Each piece handed to langchain's merger is an exact slice of the text (a sentence with the
    whitespace after it), so every chunk is a substring of the document and its offsets are exact.
    A sentence longer than a chunk is cut at word boundaries by RecursiveCharacterTextSplitter.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._long = RecursiveCharacterTextSplitter(
            chunk_size=self._chunk_size,
            chunk_overlap=min(self._chunk_overlap, self._chunk_size // 4),
            separators=["; ", ", ", " ", ""],
            keep_separator="end",
        )

    def split_text(self, text: str) -> list[str]:
        spans = sentences(text)
        pieces: list[str] = []
        for i, span in enumerate(spans):
            end = spans[i + 1].start if i + 1 < len(spans) else len(text)
            piece = text[span.start : end]
            if len(piece.strip()) > self._chunk_size:
                pieces.extend(self._long.split_text(piece))
            else:
                pieces.append(piece)
        return self._merge_splits(pieces, "")


def chunk_document(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """The document's chunks, in order, with offsets into `doc.text`."""
    splitter = SentenceTextSplitter(chunk_size=chunk_size, chunk_overlap=min(chunk_overlap, chunk_size // 2))
    chunks: list[Chunk] = []
    cursor = 0
    for i, piece in enumerate(splitter.split_text(doc.text)):
        start = doc.text.find(piece, cursor)
        if start < 0:  # cannot happen for exact slices; keep going rather than lose text
            start = doc.text.find(piece)
        end = start + len(piece)
        chunks.append(Chunk(f"{doc.doc_id}#{i}", doc.doc_id, i, start, end, piece))
        cursor = start + 1
    return chunks
