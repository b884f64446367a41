"""Admins add documents by sending files: parse first, then save into DOCS_DIR and index incrementally.

An upload never replaces another document: it is stored under a file name no document in DOCS_DIR
has (compared case-insensitively, whatever the type), and the reply says which. To replace a
document, delete its file from DOCS_DIR and send the new version (or put it there and /reindex).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from ..errors import DocumentsError, QaBotError
from ..ingest import MAX_DOCUMENT_BYTES, SUPPORTED_SUFFIXES, Document, extract_text, parse_document
from . import texts
from .formatting import esc
from .state import get_state

log = logging.getLogger(__name__)
MAX_STEM = 80
MAX_NAME_SHOWN = 60  # a file name quoted in a reply is cut to this many characters


def shown_name(file_name: str) -> str:
    """A file name short enough to quote in a reply (Telegram refuses messages over 4096 characters)."""
    if len(file_name) <= MAX_NAME_SHOWN:
        return file_name
    suffix = Path(file_name).suffix[:10]
    return file_name[: MAX_NAME_SHOWN - len(suffix) - 1] + "…" + suffix


def shown_reason(reason: str, limit: int = 500) -> str:
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def safe_stem(file_name: str) -> str:
    """A file name stem safe on any file system: letters, digits, '-' and '_' only."""
    stem = Path(unicodedata.normalize("NFC", file_name).replace("\\", "/")).stem
    stem = re.sub(r"[^\w\-]+", "_", stem).strip("._-")[:MAX_STEM].strip("._-")
    return stem or "document"


def target_path(docs_dir: Path, file_name: str) -> Path:
    """A new file in `docs_dir` for an upload: its stem (the doc_id) is used by no other file there,
    whatever the type or letter case, so the upload never replaces another document."""
    suffix = Path(file_name).suffix.lower()
    stem = safe_stem(file_name)
    taken = {p.stem.casefold() for p in docs_dir.iterdir()} if docs_dir.is_dir() else set()
    candidate, n = stem, 2
    while candidate.casefold() in taken:
        candidate, n = f"{stem}_{n}", n + 1
    return docs_dir / f"{candidate}{suffix}"


def check_document(data: bytes, file_name: str) -> Document:
    """Parse the file as indexing will; raises DocumentsError with a clear message when it cannot be read."""
    if not data.strip():
        raise DocumentsError(f"{file_name}: the file is empty.", russian="файл пуст.")
    try:
        raw, _warning = extract_text(data, file_name)
    except DocumentsError:
        raise
    except Exception as exc:  # a parser library failing on a malformed file
        suffix = Path(file_name).suffix
        raise DocumentsError(
            f"{file_name}: the file is damaged or not really {suffix}.",
            russian=f"файл повреждён или это не {suffix}.",
        ) from exc
    return parse_document(safe_stem(file_name), raw)


@dataclass
class Installed:
    """A file written into DOCS_DIR, with what was there before so that it can be undone."""

    path: Path
    previous: bytes | None

    def undo(self) -> None:
        if self.previous is None:
            self.path.unlink(missing_ok=True)
        else:
            write_atomic(self.path, self.previous)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")  # dot files are never read as documents
    tmp.write_bytes(data)
    os.replace(tmp, path)


def install(data: bytes, path: Path) -> Installed:
    previous = path.read_bytes() if path.exists() else None
    write_atomic(path, data)
    return Installed(path, previous)


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A file in a private chat: admins add it to the collection, everyone else is politely refused."""
    state = get_state(context)
    message = update.effective_message
    assert message is not None and message.document is not None
    if not state.is_admin(update.effective_user.id if update.effective_user else None):
        await message.reply_text(texts.UPLOAD_REFUSED)
        return
    document = message.document
    name = document.file_name or "document.txt"
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(SUPPORTED_SUFFIXES)
        await message.reply_text(
            texts.UPLOAD_BAD_TYPE.format(suffix=suffix or "без расширения", supported=supported)
        )
        return
    if document.file_size and document.file_size > MAX_DOCUMENT_BYTES:
        size, limit = document.file_size // 1_000_000, MAX_DOCUMENT_BYTES // 1_000_000
        await message.reply_text(texts.UPLOAD_TOO_BIG.format(size=size, limit=limit))
        return
    await message.reply_text(texts.UPLOAD_RECEIVED.format(name=shown_name(name)))
    data = bytes(await (await document.get_file()).download_as_bytearray())
    try:
        await asyncio.to_thread(check_document, data, name)
    except DocumentsError as exc:
        reason = shown_reason(exc.russian or str(exc).removeprefix(f"{name}: "))
        await message.reply_text(texts.UPLOAD_UNREADABLE.format(name=shown_name(name), reason=reason))
        return
    async with state.index_lock:
        await _add(update, context, data, name)


async def _add(update: Update, context: ContextTypes.DEFAULT_TYPE, data: bytes, name: str) -> None:
    """Save the file and index it; on failure the file is taken back out and nothing changes."""
    state = get_state(context)
    message = update.effective_message
    assert message is not None
    installed = install(data, target_path(state.settings.docs_dir, name))
    try:
        report = await asyncio.to_thread(state.pipeline.update)
    except QaBotError as exc:
        installed.undo()
        reason = shown_reason(str(exc))
        await message.reply_text(texts.UPLOAD_FAILED.format(name=shown_name(name), reason=reason))
        return
    except BaseException:
        installed.undo()
        raise
    info = state.pipeline.index.documents.get(installed.path.stem)
    if info is None:
        installed.undo()
        if installed.previous is not None:
            await asyncio.to_thread(state.pipeline.update)
        reason = shown_reason("; ".join(report.warnings) or "документ не попал в индекс.")
        await message.reply_text(texts.UPLOAD_FAILED.format(name=shown_name(name), reason=reason))
        return
    log.info("document %s added by user %s", installed.path.name, message.from_user and message.from_user.id)
    stored = installed.path.name
    done = texts.UPLOAD_DONE.format(
        title=esc(info.title[:300]), date=esc(info.date_display), chunks=info.chunks, file=esc(stored)
    )
    if safe_stem(name) != installed.path.stem:
        done += "\n" + texts.UPLOAD_RENAMED.format(name=esc(shown_name(name)))
    await message.reply_text(done, parse_mode=ParseMode.HTML)
