"""Unit tests of the bot's pure parts: HTML formatting and splitting, input checks, limits, upload names."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from fake_bot_api import parsed_html

from qa_bot.answer import Answer
from qa_bot.citations import Citation
from qa_bot.telegram import texts
from qa_bot.telegram.answering import rejection
from qa_bot.telegram.formatting import answer_html, split_html, utf16_len
from qa_bot.telegram.limits import AnswerSlots, RateLimiter
from qa_bot.telegram.uploads import MAX_NAME_SHOWN, safe_stem, shown_name, target_path

REJECTION_IDS = [
    "empty",
    "blank",
    "far-too-long",
    "long-but-cut",
    "emoji",
    "punctuation",
    "url",
    "www",
    "with-emoji",
    "with-url",
]
CLAIM = "Беларусь поставит в Удмуртию 120 автобусов МАЗ <на газе> & «с гарантией»"


def long_answer() -> Answer:
    sentences = " ".join(f"{CLAIM}, пункт {i}. [{i % 9 + 1}]" for i in range(120))
    citations = [
        Citation(
            n, f"doc{n}", f"Документ №{n} о поставках & <ценах>", "2025-10-02", f"doc{n}:0", CLAIM * 6, 0.9
        )
        for n in range(1, 10)
    ]
    return Answer(
        CLAIM, sentences, False, citations, [], "extractive", notice="Вопрос слишком длинный & был обрезан."
    )


def test_long_answer_is_split_without_breaking_tags_or_citations() -> None:
    source = answer_html(long_answer())
    assert utf16_len(source) > 3 * 4096
    parts = split_html(source)
    assert len(parts) >= 4
    for part in parts:
        assert utf16_len(part) <= 4096
        parsed_html(part)  # Telegram's HTML rules: known tags, balanced, entities intact (raises otherwise)
        assert not re.search(r"\[\d*$", part) and not re.match(r"\d*\]", part)
        assert not re.match(r"(<[^>]+>)*\[\d+\]", part)  # a marker never starts a part, away from its claim
    assert re.findall(r"\[\d+\]", "".join(parts)) == re.findall(r"\[\d+\]", source)
    assert re.sub(r"\s+", "", parsed_html("".join(parts))) == re.sub(r"\s+", "", parsed_html(source))
    assert any(p.startswith("<blockquote>") or "<blockquote>" in p for p in parts)


def test_a_cut_inside_a_tag_closes_and_reopens_it() -> None:
    source = "<blockquote>" + " ".join(["цитата"] * 1500) + "</blockquote>"
    parts = split_html(source, limit=1000)
    assert len(parts) > 5
    for part in parts:
        assert part.startswith("<blockquote>") and part.endswith("</blockquote>") and utf16_len(part) <= 1000
        parsed_html(part)


def test_text_without_spaces_is_still_split_within_the_limit() -> None:
    parts = split_html("я" * 10_000 + " &amp; " + "😀" * 3000)
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert "".join(parts).count("&amp;") == 1 and "".join(parts).count("😀") == 3000


def test_answer_html_escapes_everything_and_shows_the_notice_in_italics() -> None:
    answer = Answer("q", "<b>не тег</b> & [1]", False, [Citation(1, "d", "Заголовок <i>", None, "d:0", "a < b", 1.0)],
                    [], "extractive", notice="Внимание & <осторожно>")  # fmt: skip
    html = answer_html(answer)
    assert html.startswith("&lt;b&gt;не тег&lt;/b&gt; &amp; [1]")
    assert "<i>Внимание &amp; &lt;осторожно&gt;</i>" in html
    assert "[1] <b>Заголовок &lt;i&gt;</b>, дата не указана" in html and "«a &lt; b»" in html
    parsed_html(html)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", texts.EMPTY),
        ("  \n ", texts.EMPTY),
        ("вопрос " * 300, "Сообщение слишком длинное"),
        ("вопрос " * 200, None),  # over the limit but not absurdly: the pipeline cuts it with a notice
        ("🙂🙂🙂", texts.NO_WORDS),
        ("?!...", texts.NO_WORDS),
        ("https://tass.ru/ekonomika/1", texts.BARE_URL),
        ("www.example.com", texts.BARE_URL),
        ("Сколько автобусов? 🙂", None),
        ("Что написано на https://tass.ru/1 про МАЗ?", None),
    ],
    ids=REJECTION_IDS,
)
def test_rejection(text: str, expected: str | None) -> None:
    result = rejection(text, 1000)
    assert result == expected if expected is None else result.startswith(expected)


def test_rate_limiter_counts_a_sliding_minute_per_user() -> None:
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.hit(1) for _ in range(3)] == [0, 0, 0]
    assert limiter.hit(1) == 60 and limiter.hit(2) == 0
    now[0] = 45.2
    assert limiter.hit(1) == 15
    now[0] = 60.0
    assert limiter.hit(1) == 0


async def test_answer_slots_queue_callers_beyond_the_limit() -> None:
    slots = AnswerSlots(1)
    order: list[str] = []
    told: list[tuple[str, int]] = []
    release = asyncio.Event()

    async def job(name: str, notice_after: float) -> None:
        async def tell(position: int) -> None:
            told.append((name, position))

        async with slots.slot(tell, notice_after):
            order.append(name)
            await release.wait()

    assert slots.position() == 0
    first = asyncio.create_task(job("first", 0.0))
    await asyncio.sleep(0)
    assert slots.position() == 1 and order == ["first"]
    second = asyncio.create_task(job("second", 0.05))  # waits longer than 0.05 s: told it is queued
    third = asyncio.create_task(job("third", 5.0))  # its wait ends sooner: never told
    await asyncio.sleep(0.2)
    assert slots.position() == 3 and order == ["first"]
    release.set()
    await asyncio.wait_for(asyncio.gather(first, second, third), 5)
    assert order == ["first", "second", "third"] and slots.position() == 0
    assert told == [("second", 1)]


def test_uploaded_file_names_are_made_safe_and_never_clash(tmp_path: Path) -> None:
    assert safe_stem("Пингвины (новость).txt") == "Пингвины_новость"
    assert safe_stem("../../etc/passwd.txt") == "passwd"
    assert safe_stem("..\\..\\evil name!.md") == "evil_name"
    assert safe_stem("....pdf") == "document"
    (tmp_path / "report.md").write_text("x")
    assert target_path(tmp_path, "report.txt") == tmp_path / "report_2.txt"
    # an upload never replaces a document, not even one of the same name (issue 12)
    assert target_path(tmp_path, "report.md") == tmp_path / "report_2.md"
    assert target_path(tmp_path, "REPORT.txt") == tmp_path / "REPORT_2.txt"  # case-insensitive file systems
    (tmp_path / "Отчёт_1.txt").write_text("x")
    assert target_path(tmp_path, "Отчёт [1].txt") == tmp_path / "Отчёт_1_2.txt"
    (tmp_path / "document.txt").write_text("x")
    assert target_path(tmp_path, "..txt") == tmp_path / "document_2.txt"


def test_long_file_names_are_shortened_in_replies() -> None:
    shown = shown_name("о" * 5000 + ".docx")
    assert len(shown) == MAX_NAME_SHOWN and shown.endswith("….docx")
    assert shown_name("Отчёт.txt") == "Отчёт.txt"
