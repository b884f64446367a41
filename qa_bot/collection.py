"""Stage 1b: the collection's sources (folders and single files) and what a scan of them finds.

The index manifest remembers every source ever given with `--docs` (or DOCS_DIR for a new
collection); each update re-scans all of them, so indexing one folder never drops another's
documents. Dropping is explicit: `qa-bot remove` or `qa-bot index --prune`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DocumentsError
from .ingest import SUPPORTED_SUFFIXES, Document, folder_files, read_document

log = logging.getLogger(__name__)

Stamp = dict[str, object]  # {"path", "size", "mtime_ns"}: a file is unchanged while its stamp is


def resolve_source(path: Path) -> str:
    """The form a source is remembered in: absolute, so the bot and the CLI may run from other folders."""
    return str(path.expanduser().resolve())


def stamp(path: Path) -> Stamp:
    st = path.stat()
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def belongs_to(path: str, source: str) -> bool:
    """True when the file `path` is the source itself or lies directly in the source folder."""
    return path == source or str(Path(path).parent) == source


def check_new_source(path: Path) -> None:
    """A source given on the command line must exist and be a folder or a supported file."""
    if path.is_dir():
        return
    if not path.exists():
        raise DocumentsError(
            f"{path} does not exist.",
            "Give an existing folder or file with --docs (or point DOCS_DIR elsewhere).",
        )
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DocumentsError(f"{path}: unsupported file type {path.suffix or '(none)'}.",
                             f"Supported: {', '.join(SUPPORTED_SUFFIXES)}.")  # fmt: skip


def source_files(source: Path) -> list[Path]:
    """The supported files of a source: the file itself, or the files of the folder and its subfolders."""
    if source.is_file():
        return [source]
    return folder_files(source)


@dataclass
class Scan:
    documents: list[Document] = field(default_factory=list)  # read: new, changed or touched files
    unchanged: list[str] = field(default_factory=list)  # doc_ids whose file stamp matches the manifest
    stamps: dict[str, Stamp] = field(default_factory=dict)  # doc_id -> stamp of every file found
    missing_sources: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # doc_ids of files present but not readable
    warnings: list[str] = field(default_factory=list)


def scan(sources: Iterable[str], known: Mapping[str, Stamp], excluded: Mapping[str, Stamp]) -> Scan:
    """Read the sources' files, skipping those whose stamp matches `known` (by doc_id) or `excluded` (by path).

    A bad file is skipped with a warning and never stops the rest; a source that has disappeared
    is listed in `missing_sources`.
    """
    out = Scan()
    paths: list[Path] = []
    for source in sources:
        folder = Path(source)
        if not folder.exists():
            out.missing_sources.append(source)
            continue
        try:
            paths += source_files(folder)
        except OSError as exc:
            out.warnings.append(f"cannot list {source} ({exc.strerror}); its documents are kept.")
            out.missing_sources.append(source)
    seen: dict[str, str] = {}
    for path in sorted(set(paths), key=lambda p: (p.stem, str(p))):
        if path.stem in seen:
            out.warnings.append(f"skipped {path}: doc_id {path.stem!r} is already used by {seen[path.stem]}.")
            continue
        try:
            current = stamp(path)
        except OSError:
            continue  # vanished while scanning: treated as gone
        if excluded.get(str(path)) == current:
            continue  # removed with `qa-bot remove`; comes back when the file changes
        seen[path.stem] = str(path)
        out.stamps[path.stem] = current
        if known.get(path.stem) == current:
            out.unchanged.append(path.stem)
            continue
        try:
            doc, warning = read_document(path)
        except DocumentsError as exc:
            out.warnings.append(f"skipped {exc}")
            out.unreadable.append(path.stem)
            del out.stamps[path.stem]
            continue
        if warning:
            out.warnings.append(warning)
        out.documents.append(doc)
    for warning in out.warnings:
        log.warning(warning)
    return out


def rebuilt_text(pieces: Iterable[tuple[int, int, str]]) -> str:
    """A document's text put back together from its chunks' (start, end, text): chunks are exact slices."""
    pieces = sorted(pieces)
    size = max((end for _, end, _ in pieces), default=0)
    chars = [" "] * size
    for start, end, text in pieces:
        chars[start:end] = text
    return "".join(chars)
