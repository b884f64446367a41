"""Stage 2: cut documents into overlapping passages along sentence boundaries."""

from __future__ import annotations

from dataclasses import dataclass

from .ingest import Document


@dataclass(frozen=True)
class Chunk:
    """A passage of a document; `start`/`end` are character offsets into the document's text."""

    chunk_id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str


def chunk_document(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """The document's chunks, in order, with offsets into `doc.text`."""
    from .splitter import SentenceTextSplitter  # langchain: only when indexing (slow to import)

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
