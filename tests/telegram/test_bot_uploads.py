"""Admins add documents by sending files; broken files change nothing; others are refused."""

from __future__ import annotations

import io
from collections.abc import Iterator

import docx
import pytest
from botkit import ADMIN, RunningBot, ask, copy_collection, running_bot, seed_index

from qa_bot.telegram import texts

PENGUINS = """date 2025-11-03 В Ижевске откроется пингвинарий

В Ижевске в декабре откроется первый в Удмуртии пингвинарий. В нём будут жить 35 пингвинов Гумбольдта.

Строительство обошлось городу в 410 миллионов рублей, сообщили в мэрии.
"""


def docx_bytes() -> bytes:
    document = docx.Document()
    document.add_paragraph("Сарапульский завод выпустит электробусы для Ижевска")
    document.add_paragraph("ИЖЕВСК, 5 ноября 2025 г. — РИА Новости. Сарапульский электрогенераторный завод "
                           "в 2026 году выпустит 48 электробусов для Ижевска.")  # fmt: skip
    document.add_paragraph("Первые машины выйдут на городские маршруты весной, сообщил директор завода.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def upload_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    root = copy_collection(seed_index(tmp_path_factory), tmp_path_factory.mktemp("upload_bot"))
    with running_bot(root) as running:
        yield running


def _snapshot(bot: RunningBot) -> tuple[list[str], str, list[str]]:
    """The documents folder, the index generation in use, and the indexed documents."""
    settings = bot.settings
    files = sorted(p.name for p in settings.docs_dir.iterdir())
    current = (settings.index_dir / "CURRENT").read_text()
    return files, current, sorted(bot.state.pipeline.index.documents)


def _upload(bot: RunningBot, name: str | None, data: bytes, user_id: int = ADMIN) -> str:
    """Send a file and wait for the bot's verdict (the reply after "Получил …")."""
    before = len(bot.api.calls_of("sendMessage", user_id))
    bot.api.send_document(user_id, name, data)
    calls = bot.api.wait_for(
        lambda: [
            c for c in bot.api.calls_of("sendMessage", user_id)[before:] if not c.text.startswith("Получил")
        ],
        timeout=30,
    )
    return calls[0].text


def test_admin_uploads_a_txt_document_that_becomes_answerable(upload_bot: RunningBot) -> None:
    verdict = _upload(upload_bot, "Пингвины (новость).txt", PENGUINS.encode())
    assert verdict.startswith("Документ добавлен: <b>В Ижевске откроется пингвинарий</b> — 3 ноября 2025")
    assert (upload_bot.settings.docs_dir / "Пингвины_новость.txt").read_bytes() == PENGUINS.encode()
    answer = ask(upload_bot.api, ADMIN, "Сколько пингвинов будет жить в пингвинарии Ижевска?").text
    assert "35" in answer.partition("<b>Источники:</b>")[0]
    assert "[1] <b>В Ижевске откроется пингвинарий</b>" in answer


def test_admin_uploads_a_docx_document_that_becomes_answerable(upload_bot: RunningBot) -> None:
    verdict = _upload(upload_bot, "electrobus.docx", docx_bytes())
    assert "Сарапульский завод выпустит электробусы для Ижевска" in verdict and "5 ноября 2025" in verdict
    assert "electrobus" in upload_bot.state.pipeline.index.documents
    answer = ask(upload_bot.api, ADMIN, "Сколько электробусов выпустит Сарапульский завод?").text
    assert "48" in answer.partition("<b>Источники:</b>")[0]


@pytest.mark.parametrize(
    ("name", "data", "expected", "reason"),
    [
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "Не удалось прочитать «broken.pdf»", "PDF повреждён"),
        ("broken.docx", b"PK\x03\x04 not a zip archive", "Не удалось прочитать «broken.docx»", "файл .docx повреждён"),
        ("empty.txt", b"   \n\n  ", "Не удалось прочитать «empty.txt»", "файл пуст"),
        ("binary.txt", b"\x00\x01\x02\x03" * 100, "Не удалось прочитать «binary.txt»", "это двоичный файл"),
        ("latin1.txt", "Café crème brûlée".encode("latin-1"), "Не удалось прочитать «latin1.txt»", "кодировка"),
        ("setup.exe", b"MZ\x90\x00", "Файлы .exe я не читаю", None),
    ],
    ids=["pdf", "docx", "empty", "binary", "encoding", "exe"],
)
def test_a_file_that_cannot_be_parsed_is_rejected_and_nothing_changes(
    upload_bot: RunningBot, name: str, data: bytes, expected: str, reason: str | None
) -> None:
    before = _snapshot(upload_bot)
    verdict = _upload(upload_bot, name, data)
    assert verdict.startswith(expected)
    if reason is None:
        assert "Подходят: .txt, .md" in verdict
    else:  # the reason in Russian, for the person in the chat
        assert f"коллекция не изменилась.\nПричина: {reason}" in verdict, verdict
    assert _snapshot(upload_bot) == before


def test_non_admins_cannot_upload(upload_bot: RunningBot, user: int) -> None:
    before = _snapshot(upload_bot)
    assert _upload(upload_bot, "mine.txt", PENGUINS.encode(), user_id=user) == texts.UPLOAD_REFUSED
    assert _snapshot(upload_bot) == before


def test_reindex_is_for_admins_and_rebuilds(upload_bot: RunningBot, user: int) -> None:
    upload_bot.api.send_text(user, "/reindex")
    assert upload_bot.api.wait_calls("sendMessage", user)[0].text == texts.ADMINS_ONLY
    before = len(upload_bot.api.calls_of("sendMessage", ADMIN))
    upload_bot.api.send_text(ADMIN, "/reindex")
    done = upload_bot.api.wait_calls("sendMessage", ADMIN, before + 2, timeout=30)[before + 1].text
    documents = len(upload_bot.state.pipeline.index.documents)
    assert done.startswith(f"Готово: документов {documents}, фрагментов")


# -- issue 12: uploads never overwrite another document; resource limits --------------------------


def test_uploads_whose_names_look_alike_never_overwrite_each_other(upload_bot: RunningBot) -> None:
    docs = upload_bot.settings.docs_dir
    first = PENGUINS.replace("35 пингвинов", "36 пингвинов").encode()
    second = PENGUINS.replace("35 пингвинов", "37 пингвинов").encode()
    assert "<code>Отчёт_1.txt</code>" in _upload(upload_bot, "Отчёт (1).txt", first)
    verdict = _upload(upload_bot, "Отчёт [1].txt", second)
    assert verdict.startswith("Документ добавлен") and "<code>Отчёт_1_2.txt</code>" in verdict
    assert "уже занято" in verdict
    assert (docs / "Отчёт_1.txt").read_bytes() == first and (docs / "Отчёт_1_2.txt").read_bytes() == second
    assert {"Отчёт_1", "Отчёт_1_2"} <= set(upload_bot.state.pipeline.index.documents)


def test_a_nameless_upload_does_not_replace_an_earlier_one(upload_bot: RunningBot) -> None:
    docs = upload_bot.settings.docs_dir
    assert "<code>document.txt</code>" in _upload(upload_bot, None, PENGUINS.encode())
    kept = {p.name: p.read_bytes() for p in docs.iterdir()}
    verdict = _upload(upload_bot, "..txt", PENGUINS.replace("35", "40").encode())
    assert verdict.startswith("Документ добавлен"), verdict
    assert all((docs / name).read_bytes() == data for name, data in kept.items())
    assert len(list(docs.iterdir())) == len(kept) + 1


def test_a_very_long_file_name_is_shortened_in_the_replies(upload_bot: RunningBot) -> None:
    name = "о" * 5000 + ".txt"
    before = len(upload_bot.api.calls_of("sendMessage", ADMIN))
    verdict = _upload(upload_bot, name, PENGUINS.encode())
    assert verdict.startswith("Документ добавлен"), verdict
    replies = upload_bot.api.calls_of("sendMessage", ADMIN)[before:]
    assert all(c.error is None and len(c.text) < 1000 for c in replies), [c.error for c in replies]
    assert texts.ERROR not in [c.text for c in replies]


def _docx_with_body(body_xml: bytes) -> bytes:
    """A valid .docx (made by python-docx) whose word/document.xml is replaced by `body_xml`."""
    import zipfile

    source, out = io.BytesIO(docx_bytes()), io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = body_xml if item.filename == "word/document.xml" else zin.read(item)
            zout.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


W = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'


@pytest.mark.parametrize(
    "body",
    [
        W + b"<w:p/>" * 9_000_000 + b"</w:body></w:document>",  # 54 MB of empty paragraphs
        W + b"<w:p/>" * 100_001 + b"</w:body></w:document>",  # small, but too many paragraphs to read
        W + b"<w:p><w:r><w:t>" + "текст ".encode() * 2_300_000 + b"</w:t></w:r></w:p></w:body></w:document>",
    ],
    ids=["54MB-of-empty-paragraphs", "100k-empty-paragraphs", "one-25MB-run"],
)
def test_a_docx_that_unpacks_too_large_is_refused_as_too_big(upload_bot: RunningBot, body: bytes) -> None:
    data = _docx_with_body(body)
    assert len(data) < 1_000_000  # small on the wire
    before = _snapshot(upload_bot)
    verdict = _upload(upload_bot, "huge.docx", data)
    assert "Причина: файл слишком большой" in verdict, verdict
    assert _snapshot(upload_bot) == before


def test_utf16_without_a_byte_order_mark_is_read(upload_bot: RunningBot) -> None:
    data = PENGUINS.replace("пингвинарий", "океанариум").encode("utf-16-le")
    verdict = _upload(upload_bot, "utf16.txt", data)
    assert verdict.startswith("Документ добавлен: <b>В Ижевске откроется океанариум</b>"), verdict
