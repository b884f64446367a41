"""The sentence-packing text splitter behind chunk.py (kept apart: langchain is imported only to index)."""

from __future__ import annotations

from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter, TextSplitter

from .text import sentences


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
