"""Stage 1: read documents from a folder, clean them and extract their metadata."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .dates import month_name, month_numbers, year_from_context
from .errors import DocumentsError
from .text import sentences, tidy_document

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md")
RICH_SUFFIXES = (".html", ".htm", ".pdf", ".docx")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + RICH_SUFFIXES
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
# Limits of what a file may expand to, checked while reading (a small .docx or .pdf can unpack to gigabytes):
# the text parts of a .docx, and the text extracted from any file, at most as large as a .txt may be
MAX_EXPANDED_BYTES = MAX_DOCUMENT_BYTES
MAX_TEXT_CHARS = MAX_DOCUMENT_BYTES
MAX_PDF_PAGES = 5000
MAX_DOCX_PARAGRAPHS = 100_000  # ~10 µs each even when empty; 100k are 20 MB of 200-character ones

_DATE_HEADER = re.compile(r"^\s*date\s+(\d{4})-(\d{2})-(\d{2})\b\s*", re.IGNORECASE)
# "ВОЛОГДА, 7 октября. /ТАСС/." or "МОСКВА, 7 октября 2025 г. — РИА Новости."
_DATELINE = re.compile(
    r"^(?P<city>[А-ЯЁ][А-ЯЁ\- ]{1,40}),\s+(?P<day>\d{1,2})\s+(?P<month>[а-я]+)(?:\s+(?P<year>\d{4})(?:\s*г\.?)?)?"
    r"\s*(?:\.\s*/(?P<agency>[^/\n]{2,30})/\.?|[-—–]\s*(?P<agency2>[А-ЯЁA-Z][\w .]{1,30}?)\.)"
)

# the dateline cut off as a sentence of its own: «САМАРА, 14 октября.» («/ТАСС/.» follows as another)
_DATELINE_SENTENCE = re.compile(r"[А-ЯЁ][А-ЯЁ\- ]{1,40},\s+\d{1,2}\s+(?P<month>[а-яё]+)(?:\s+\d{4}(?:\s*г)?)?\.?")


def is_dateline(sentence: str) -> bool:
    """A news dateline alone: where and when the report was filed, not a fact of the story."""
    m = _DATELINE_SENTENCE.fullmatch(sentence.strip())
    return m is not None and m.group("month").replace("ё", "е") in month_numbers()


@dataclass(frozen=True)
class Document:
    """A cleaned document; `text` is what chunk offsets refer to."""

    doc_id: str
    title: str
    date: str | None  # ISO "2025-10-02", or "--10-07" when the year is not known
    source: str | None  # news agency named in a dateline
    text: str
    sha256: str
    path: str = ""

    @property
    def date_display(self) -> str:
        return format_date(self.date)


@dataclass
class IngestReport:
    documents: list[Document] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # doc_ids not read because the caller knows them


def format_date(date: str | None) -> str:
    """Russian display form: "2 октября 2025", "7 октября (год не указан)", "октябрь 2025", "2025 год"."""
    if not date:
        return "дата не указана"
    m = re.fullmatch(r"(\d{4}|-)-(\d{2})(?:-(\d{2}))?", date)
    if not m or not 1 <= int(m.group(2)) <= 12 or (m.group(1) == "-" and m.group(3) is None):
        return f"{date} год" if re.fullmatch(r"\d{4}", date) else date
    year, month, day = m.groups()
    if day is None:
        return f"{month_name(int(month))} {year}"
    text = f"{int(day)} {month_name(int(month), 1)}"
    return f"{text} {year}" if year != "-" else f"{text} (год не указан)"


_UNKNOWN_ENCODING = "кодировка не распознана: сохраните файл в UTF-8."


def _too_big(name: str, unpacked: bool = False) -> DocumentsError:
    limit = MAX_DOCUMENT_BYTES // 1_000_000
    what, russian = ("unpacked document", "распакованный документ") if unpacked else ("text", "текст в нём")
    return DocumentsError(
        f"{name}: the {what} is too large (the limit is {limit} MB).",
        russian=f"файл слишком большой: {russian} больше {limit} МБ.",
    )


def _check_text_size(text: str, name: str) -> str:
    if len(text) > MAX_TEXT_CHARS:
        raise _too_big(name)
    return text


def _readable(text: str) -> bool:
    """Mostly letters, digits, punctuation and spaces of European scripts: text, not bytes read as text."""
    if not text:
        return False
    good = sum(
        c.isspace() or (c.isprintable() and (ord(c) < 0x250 or 0x400 <= ord(c) < 0x530 or 0x2000 <= ord(c) < 0x2070))
        for c in text
    )
    return good >= 0.95 * len(text) and any(c.isspace() for c in text)


def _utf16_without_bom(data: bytes) -> str | None:
    """`data` decoded as UTF-16 (LE or BE) when its zero bytes sit where UTF-16 text puts them, else None."""
    head = data[:4096]
    zeros_even, zeros_odd = head[0::2].count(0), head[1::2].count(0)
    if len(data) % 2 or max(zeros_even, zeros_odd) < 0.1 * len(head) / 2:
        return None
    encoding = "utf-16-le" if zeros_odd > zeros_even else "utf-16-be"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    return text if _readable(text[:20000]) else None


def decode_bytes(data: bytes, name: str) -> tuple[str, str | None]:
    """UTF-8 (with or without BOM), UTF-16 (with a BOM, or without when it reads as text), else cp1251;
    returns (text, warning or None)."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = _utf16_without_bom(data)
        if text is not None:
            return text, f"{name}: UTF-16 without a byte order mark, read as UTF-16."
        raise DocumentsError(f"{name}: looks like a binary file, not text.", russian="это двоичный файл, а не текст.")
    for encoding in ("utf-8-sig", "utf-16") if data.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8-sig",):
        try:
            return data.decode(encoding), None
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError as exc:
        raise DocumentsError(
            f"{name}: not UTF-8 and not cp1251 ({exc.reason}).", russian=_UNKNOWN_ENCODING
        ) from exc
    cyrillic = sum("а" <= c.lower() <= "я" for c in text)
    if cyrillic < 0.3 * sum(c.isalpha() for c in text):
        raise DocumentsError(
            f"{name}: not UTF-8, and cp1251 gives no readable Russian text.", russian=_UNKNOWN_ENCODING
        )
    return text, f"{name}: not UTF-8, read as cp1251."


def _read_html(data: bytes, name: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "footer", "header"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    blocks = [el.get_text(" ", strip=True) for el in soup.find_all(["h1", "h2", "h3", "p", "li", "blockquote"])]
    blocks = [b for b in blocks if b]
    if not blocks:
        blocks = [line for line in soup.get_text("\n").splitlines() if line.strip()]
    if title and (not blocks or blocks[0] != title):
        blocks.insert(0, title)
    return _check_text_size("\n\n".join(blocks), name)


def _read_pdf(data: bytes, name: str) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if len(reader.pages) > MAX_PDF_PAGES:
            raise DocumentsError(
                f"{name}: {len(reader.pages)} pages is too many (limit {MAX_PDF_PAGES}).",
                russian=f"файл слишком большой: больше {MAX_PDF_PAGES} страниц.",
            )
        pages, size = [], 0
        for page in reader.pages:  # stop as soon as the text is over the limit
            pages.append(page.extract_text() or "")
            size += len(pages[-1])
            if size > MAX_TEXT_CHARS:
                raise _too_big(name)
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise DocumentsError(
            f"{name}: cannot read this PDF ({exc}).", russian="PDF повреждён или зашифрован."
        ) from exc
    text = "\n\n".join(p for p in pages if p.strip())
    if not text.strip():
        raise DocumentsError(
            f"{name}: the PDF has no text layer (a scan?); add a text version instead.",
            russian="в PDF нет текстового слоя (скан?); пришлите текстовую версию.",
        )
    return text


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _read_docx(data: bytes, name: str) -> str:
    """The paragraphs of word/document.xml, streamed: the unpacked size and the text are checked against
    the limits before and while reading, so a small archive that unpacks to gigabytes costs nothing."""
    import io
    import zipfile

    from lxml import etree

    def damaged(exc: Exception) -> DocumentsError:
        return DocumentsError(f"{name}: cannot read this .docx file ({exc}).", russian="файл .docx повреждён.")

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = [i for i in archive.infolist() if i.filename.endswith(".xml") or i.filename.endswith(".rels")]
        body = archive.getinfo("word/document.xml")
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise damaged(exc) from exc
    if sum(i.file_size for i in parts) > MAX_EXPANDED_BYTES:  # sizes from the archive's directory; reads
        raise _too_big(name, unpacked=True)  # below never go past them
    paragraphs: list[str] = []
    size = 0
    try:
        with archive.open(body) as xml:
            for n, (_, element) in enumerate(etree.iterparse(xml, events=("end",), tag=f"{_W}p", huge_tree=True)):
                if n >= MAX_DOCX_PARAGRAPHS:
                    raise DocumentsError(
                        f"{name}: more than {MAX_DOCX_PARAGRAPHS} paragraphs.",
                        russian=f"файл слишком большой: больше {MAX_DOCX_PARAGRAPHS:,} абзацев.".replace(",", " "),
                    )
                text = "".join(
                    node.text or "" if node.tag == f"{_W}t" else ("\t" if node.tag == f"{_W}tab" else "\n")
                    for node in element.iter(f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr")
                )
                element.clear()
                while element.getprevious() is not None:  # keep memory flat over millions of paragraphs
                    del element.getparent()[0]
                if text.strip():
                    paragraphs.append(text)
                    size += len(text)
                    if size > MAX_TEXT_CHARS:
                        raise _too_big(name)
    except (etree.XMLSyntaxError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise damaged(exc) from exc
    return "\n\n".join(paragraphs)


def _read_markdown(text: str) -> str:
    text = re.sub(r"^\s{0,3}#{1,6}\s*", "", text, flags=re.MULTILINE)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    return re.sub(r"(\*\*|__|`)", "", text)


_RICH_READERS: dict[str, Callable[[bytes, str], str]] = {
    ".html": _read_html, ".htm": _read_html, ".pdf": _read_pdf, ".docx": _read_docx,
}  # fmt: skip


def extract_text(data: bytes, name: str) -> tuple[str, str | None]:
    """Raw text of a file's bytes by its suffix; returns (text, warning or None)."""
    suffix = Path(name).suffix.lower()
    if suffix in _RICH_READERS:
        return _RICH_READERS[suffix](data, name), None
    if suffix not in TEXT_SUFFIXES:
        raise DocumentsError(
            f"{name}: unsupported file type {suffix or '(none)'}.",
            f"Supported: {', '.join(SUPPORTED_SUFFIXES)}.",
        )
    text, warning = decode_bytes(data, name)
    return (_read_markdown(text) if suffix == ".md" else text), warning


def clean_paragraphs(text: str) -> list[str]:
    """Normalised paragraphs, without empty ones and without a paragraph repeating the one before."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        para = " ".join(line.strip() for line in tidy_document(block).split("\n") if line.strip())
        if para and (not paragraphs or para != paragraphs[-1]):
            paragraphs.append(para)
    return paragraphs


def parse_document(doc_id: str, raw: str, path: str = "") -> Document:
    """Clean `raw` text and extract title, date and source."""
    paragraphs = clean_paragraphs(raw)
    if not paragraphs:
        raise DocumentsError(f"{doc_id}: the document is empty.", russian="в документе нет текста.")
    date: str | None = None
    header = _DATE_HEADER.match(paragraphs[0])
    if header:
        date = "-".join(header.groups())
        paragraphs[0] = paragraphs[0][header.end() :].strip() or paragraphs[0]
    source = None
    for para in paragraphs[:3]:
        line = _DATELINE.match(para)
        month = month_numbers().get(line.group("month").lower().replace("ё", "е")) if line else None
        if line and month:
            source = (line.group("agency") or line.group("agency2") or "").strip() or None
            if date is None:
                date = _dateline_date(line, month, "\n\n".join(paragraphs))
            break
    text = "\n\n".join(paragraphs)
    return Document(
        doc_id=doc_id,
        title=_title(paragraphs[0]),
        date=date,
        source=source,
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        path=path,
    )


def _dateline_date(line: re.Match[str], month: int, text: str) -> str:
    """ISO date of a dateline; without a year, the year the document itself gives, else "--MM-DD"."""
    day = int(line.group("day"))
    year = line.group("year") or year_from_context(text, month, day)
    return f"{year or '-'}-{month:02d}-{day:02d}"


def _title(first_paragraph: str, limit: int = 160) -> str:
    """The first line if short, else its lead sentence, cut at a word boundary."""
    if len(first_paragraph) <= limit:
        return first_paragraph.rstrip(".")
    spans = sentences(first_paragraph)
    lead = spans[0].text if spans else first_paragraph
    if len(lead) > limit:
        lead = lead[:limit].rsplit(" ", 1)[0] + "…"
    return lead.rstrip(".")


def read_document(path: Path) -> tuple[Document, str | None]:
    """One file to a Document; raises DocumentsError with the file's name when it cannot be read."""
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentsError(f"{path.name}: {size // 1_000_000} MB is too large (limit 20 MB).")
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentsError(f"{path.name}: cannot read the file ({exc.strerror}).") from exc
    if not data.strip():
        raise DocumentsError(f"{path.name}: the file is empty.")
    raw, warning = extract_text(data, path.name)
    return parse_document(path.stem, raw, str(path)), warning


def document_paths(folders: Iterable[Path]) -> list[Path]:
    """Supported files in the folders and their subfolders (hidden ones left out), sorted; raises if a folder
    is missing."""
    paths: list[Path] = []
    for folder in folders:
        if not folder.is_dir():
            raise DocumentsError(
                f"Documents folder {folder} does not exist.",
                "Create it and put .txt/.md files in it, or point DOCS_DIR (or --docs) elsewhere.",
            )
        paths += folder_files(folder)
    return sorted(paths, key=lambda p: (p.stem, str(p)))


def folder_files(folder: Path) -> list[Path]:
    """The supported files of a folder and its subfolders; hidden files and folders («.git») left out."""
    return [
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]  # fmt: skip


def ingest(folders: Iterable[Path], unchanged: Callable[[Path], bool] | None = None) -> IngestReport:
    """Read every supported document; a bad file is skipped with a warning and never stops the rest.

    Files for which `unchanged(path)` is true are not read: their doc_ids are listed in `report.unchanged`.
    """
    folders = list(folders)
    report = IngestReport()
    seen: dict[str, str] = {}
    for path in document_paths(folders):
        if path.stem in seen:
            report.warnings.append(f"skipped {path}: doc_id {path.stem!r} is already used by {seen[path.stem]}.")
            continue
        if unchanged is not None and unchanged(path):
            seen[path.stem] = str(path)
            report.unchanged.append(path.stem)
            continue
        try:
            doc, warning = read_document(path)
        except DocumentsError as exc:
            report.warnings.append(f"skipped {exc}")
            continue
        if warning:
            report.warnings.append(warning)
        seen[doc.doc_id] = str(path)
        report.documents.append(doc)
    for warning in report.warnings:
        log.warning(warning)
    if not report.documents and not report.unchanged:
        where = ", ".join(str(f) for f in folders)
        raise DocumentsError(
            f"No readable documents in {where}.",
            f"Add .txt or .md files (UTF-8 or cp1251); supported types: {', '.join(SUPPORTED_SUFFIXES)}.",
        )
    return report
