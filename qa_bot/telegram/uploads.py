"""Admins add documents by sending files: parse first, then save into DOCS_DIR and index incrementally."""

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


def safe_stem(file_name: str) -> str:
    """A file name stem safe on any file system: letters, digits, '-' and '_' only."""
    stem = Path(unicodedata.normalize("NFC", file_name).replace("\\", "/")).stem
    stem = re.sub(r"[^\w\-]+", "_", stem).strip("._-")[:MAX_STEM].strip("._-")
    return stem or "document"


def target_path(docs_dir: Path, file_name: str) -> Path:
    """Where an upload goes; the stem is the doc_id, so it must not clash with a file of another type."""
    suffix = Path(file_name).suffix.lower()
    stem = safe_stem(file_name)
    taken = (
        {p.stem: p for p in docs_dir.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES}
        if docs_dir.is_dir()
        else {}
    )
    candidate, n = stem, 2
    while candidate in taken and taken[candidate].name != f"{candidate}{suffix}":
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
    await message.reply_text(texts.UPLOAD_RECEIVED.format(name=name))
    data = bytes(await (await document.get_file()).download_as_bytearray())
    try:
        await asyncio.to_thread(check_document, data, name)
    except DocumentsError as exc:
        reason = exc.russian or str(exc).removeprefix(f"{name}: ")
        await message.reply_text(texts.UPLOAD_UNREADABLE.format(name=name, reason=reason))
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
        await message.reply_text(texts.UPLOAD_FAILED.format(name=name, reason=str(exc)))
        return
    except BaseException:
        installed.undo()
        raise
    info = state.pipeline.index.documents.get(installed.path.stem)
    if info is None:
        installed.undo()
        if installed.previous is not None:
            await asyncio.to_thread(state.pipeline.update)
        reason = "; ".join(report.warnings) or "документ не попал в индекс."
        await message.reply_text(texts.UPLOAD_FAILED.format(name=name, reason=reason))
        return
    action = "обновлён" if installed.previous is not None else "добавлен"
    log.info(
        "document %s %s by user %s", installed.path.name, action, message.from_user and message.from_user.id
    )
    await message.reply_text(
        texts.UPLOAD_DONE.format(
            action=action,
            title=esc(info.title),
            date=esc(info.date_display),
            chunks=info.chunks,
            file=esc(installed.path.name),
        ),
        parse_mode=ParseMode.HTML,
    )
