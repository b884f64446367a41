"""Ingestion: metadata, clean-up and bad files, on the real seed documents."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from support import SEEDS, UDMURTIA, ULYANOVSK

from qa_bot.errors import DocumentsError
from qa_bot.ingest import extract_text, format_date, ingest, parse_document


def test_seed_metadata() -> None:
    docs = {d.doc_id: d for d in ingest([SEEDS]).documents}
    assert set(docs) == {UDMURTIA, ULYANOVSK}

    udm = docs[UDMURTIA]
    assert udm.date == "2025-10-02"
    assert not udm.title.lower().startswith("date")
    assert udm.title.startswith("Микроэлектроника, поставки пассажирской техники")
    assert not udm.text.startswith("date")

    uly = docs[ULYANOVSK]
    assert uly.title == "Ульяновская область и Белоруссия расширят кооперацию в авиа- и машиностроении"
    assert uly.date == "--10-07"  # the dateline gives no year: none is invented
    assert uly.date_display == "7 октября (год не указан)"
    assert uly.source == "ТАСС"
    assert len(udm.sha256) == 64 and udm.sha256 != uly.sha256


def test_repeated_caption_paragraph_is_dropped() -> None:
    raw = (SEEDS / f"{UDMURTIA}.txt").read_text(encoding="utf-8")
    caption = "Роман Ефимов, председатель правительства Удмуртии (Россия):"
    assert raw.count(caption) == 2
    doc = parse_document(UDMURTIA, raw)
    assert doc.text.count(caption) == 1
    assert "\n\n\n" not in doc.text and "  " not in doc.text


def test_date_formats() -> None:
    assert format_date("2025-10-02") == "2 октября 2025"
    assert format_date(None) == "дата не указана"
    doc = parse_document("x", "Заголовок\n\nМОСКВА, 3 марта 2024 г. — РИА Новости. Текст новости.")
    assert doc.date == "2024-03-03" and doc.source == "РИА Новости"


def test_bad_files_are_skipped_and_the_rest_is_read(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Хороший документ.\n\nО сотрудничестве.", encoding="utf-8")
    (tmp_path / "legacy.txt").write_bytes("Старый документ в кодировке Windows-1251.".encode("cp1251"))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PK\x00" * 50)
    (tmp_path / "image.png").write_bytes(b"\x89PNG")  # unsupported type: ignored

    report = ingest([tmp_path])

    by_id = {d.doc_id: d for d in report.documents}
    assert set(by_id) == {"good", "legacy"}
    assert by_id["legacy"].text == "Старый документ в кодировке Windows-1251."
    joined = "\n".join(report.warnings)
    assert "legacy.txt: not UTF-8, read as cp1251" in joined
    assert "empty.txt" in joined and "binary.txt" in joined


def test_empty_or_missing_folder_gives_clear_message(tmp_path: Path) -> None:
    with pytest.raises(DocumentsError, match="No readable documents"):
        ingest([tmp_path])
    with pytest.raises(DocumentsError, match="does not exist"):
        ingest([tmp_path / "nope"])


def test_rich_formats() -> None:
    html = "<html><head><title>Новость</title><script>x()</script></head><body><p>Первый абзац.</p><p>Второй.</p></body>"
    text, _ = extract_text(html.encode("utf-8"), "a.html")
    assert text.splitlines()[0] == "Новость" and "x()" not in text and "Второй." in text

    buf = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("Заголовок документа")
    document.add_paragraph("Текст о поставках лифтов.")
    document.save(buf)
    text, _ = extract_text(buf.getvalue(), "b.docx")
    assert "Текст о поставках лифтов." in text

    md, _ = extract_text("# Заголовок\n\nТекст с [ссылкой](http://x).".encode(), "c.md")
    assert md.startswith("Заголовок") and "ссылкой" in md and "http" not in md

    with pytest.raises(DocumentsError, match="cannot read this .docx"):
        extract_text(b"not a zip", "broken.docx")
    with pytest.raises(DocumentsError, match="PDF"):
        extract_text(b"%PDF-1.4 garbage", "broken.pdf")
    with pytest.raises(DocumentsError, match="unsupported file type"):
        extract_text(b"x", "photo.jpg")
