"""Dates in questions and documents (qa_bot.dates): a fixed "today", positives and negatives, no models."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest
from support import ROOT, SEEDS, ULYANOVSK

from qa_bot.dates import (
    DateQuery,
    date_in_ranges,
    latest_day,
    metadata_question,
    nearest_dates,
    parse_doc_date,
    parse_question_dates,
    period_query,
    year_from_context,
)
from qa_bot.ingest import format_date, ingest, parse_document

TODAY = date(2025, 10, 15)  # a Wednesday
D = date


def _r(start: str, end: str | None = None) -> tuple[date, date]:
    return D.fromisoformat(start), D.fromisoformat(end or start)


ABSOLUTE = [
    # question, ranges, year_known
    ("Что обсуждали 7 октября 2025 года?", [_r("2025-10-07")], [True]),
    ("Новости за 07.10.2025", [_r("2025-10-07")], [True]),
    ("Что было 07.10.25?", [_r("2025-10-07")], [True]),
    ("Что было 7.10.2025?", [_r("2025-10-07")], [True]),
    ("Что было 2025-10-07?", [_r("2025-10-07")], [True]),
    ("Что обсуждали 7 октября?", [_r("2025-10-07")], [False]),
    ("Что обсуждали 7-го октября?", [_r("2025-10-07")], [False]),
    ("Что писали 7 окт. о заводе?", [_r("2025-10-07")], [False]),
    ("Что писали 20 октября?", [_r("2024-10-20")], [False]),  # not after today: last year's
    ("Что писали 29 февраля?", [_r("2024-02-29")], [False]),
    ("Что было с 1 по 10 октября?", [_r("2025-10-01", "2025-10-10")], [False]),
    ("Что было с 1 октября по 5 ноября 2024 года?", [_r("2024-10-01", "2024-11-05")], [True]),
    ("Что было с 20 декабря 2024 по 10 января 2025?", [_r("2024-12-20", "2025-01-10")], [True]),
    ("Что было с 20 декабря по 10 января 2025 года?", [_r("2024-12-20", "2025-01-10")], [True]),
    ("Что было с 25 декабря по 5 января?", [_r("2024-12-25", "2025-01-05")], [False]),
    ("Что было между 1 и 10 октября?", [_r("2025-10-01", "2025-10-10")], [False]),
    ("Что было между 1 октября и 3 октября?", [_r("2025-10-01", "2025-10-03")], [False]),
    ("Новости 1–10 октября", [_r("2025-10-01", "2025-10-10")], [False]),
    ("Новости 1 — 10 октября 2025", [_r("2025-10-01", "2025-10-10")], [True]),
    ("Новости с 01.10.2025 по 05.10.2025", [_r("2025-10-01", "2025-10-05")], [True]),
    ("Что было 7 и 9 октября?", [_r("2025-10-07"), _r("2025-10-09")], [False, False]),
    ("Что обсуждали 7 октября и 9 октября 2025?", [_r("2025-10-07"), _r("2025-10-09")], [False, True]),
    ("Что было с 1 октября?", [_r("2025-10-01", "2025-10-15")], [False]),
    ("Что писали в октябре 2024?", [_r("2024-10-01", "2024-10-31")], [True]),
    ("Какие новости за сентябрь 2025 года?", [_r("2025-09-01", "2025-09-30")], [True]),
    ("Что писали в октябре?", [_r("2025-10-01", "2025-10-31")], [False]),
    ("Что писали в ноябре?", [_r("2024-11-01", "2024-11-30")], [False]),  # November has not begun yet
    ("Какие новости в начале октября 2025?", [_r("2025-10-01", "2025-10-10")], [True]),
    ("Что сообщали в конце сентября 2025?", [_r("2025-09-21", "2025-09-30")], [True]),
    ("Что сообщали в конце февраля 2024?", [_r("2024-02-21", "2024-02-29")], [True]),
    ("Что сообщали в середине августа?", [_r("2025-08-11", "2025-08-20")], [False]),
    ("Новости с сентября по ноябрь 2024", [_r("2024-09-01", "2024-11-30")], [True]),
    ("Что писали в 2024 году?", [_r("2024-01-01", "2024-12-31")], [True]),
    ("Какие новости за 2024 год?", [_r("2024-01-01", "2024-12-31")], [True]),
    ("Что писали в 2024-м?", [_r("2024-01-01", "2024-12-31")], [True]),
    ("Какие новости были в первом полугодии 2025?", [_r("2025-01-01", "2025-06-30")], [True]),
    ("Что сообщалось во втором квартале 2025 года?", [_r("2025-04-01", "2025-06-30")], [True]),
]

RELATIVE = [
    ("Что было вчера?", [_r("2025-10-14")]),
    ("Что писали позавчера?", [_r("2025-10-13")]),
    ("Какие новости сегодня?", [_r("2025-10-15")]),
    ("Что писали на прошлой неделе?", [_r("2025-10-06", "2025-10-12")]),
    ("Что писали на этой неделе?", [_r("2025-10-13", "2025-10-19")]),
    ("Что было на позапрошлой неделе?", [_r("2025-09-29", "2025-10-05")]),
    ("Что писали в этом месяце?", [_r("2025-10-01", "2025-10-31")]),
    ("Что писали в прошлом месяце?", [_r("2025-09-01", "2025-09-30")]),
    ("Что писали в позапрошлом месяце?", [_r("2025-08-01", "2025-08-31")]),
    ("Что писали в позапрошлом году?", [_r("2023-01-01", "2023-12-31")]),
    ("Вчерашние новости о заводе", [_r("2025-10-14")]),
    ("Какие новости были в этом году?", [_r("2025-01-01", "2025-12-31")]),
    ("Что писали в прошлом году?", [_r("2024-01-01", "2024-12-31")]),
    ("Что писали за последние 3 дня?", [_r("2025-10-12", "2025-10-15")]),
    ("Что писали за последние две недели?", [_r("2025-10-01", "2025-10-15")]),
    ("Новости за последнюю неделю", [_r("2025-10-08", "2025-10-15")]),
    ("Новости за последние 2 месяца", [_r("2025-08-15", "2025-10-15")]),
    ("Что писали за последний год?", [_r("2024-10-15", "2025-10-15")]),
    ("Что писали 2 года назад?", [_r("2023-01-01", "2023-12-31")]),
    ("Что сообщалось 5 дней назад?", [_r("2025-10-10")]),
    ("Что писали неделю назад?", [_r("2025-10-06", "2025-10-12")]),
    ("Что писали месяц назад?", [_r("2025-09-01", "2025-09-30")]),
]

# Questions about content: a number or a year that is not WHEN the news happened.
NO_FILTER = [
    "На какие годы рассчитан план мероприятий на 2025 - 2026 годы?",
    "До какого года продлена программа, до 2030 года?",
    "Сколько лет длится партнерство? 18 лет",
    "Сколько поставят 120 автобусов?",
    "Товарооборот вырос на 25–30%?",
    "Сколько автобусов поставят в этом году?",  # coarse period without a news word: content
    "Какой товарооборот за первое полугодие?",
    "Что планируют сделать к концу 2025-го?",
    "Что нужно сделать к 1 января?",
    "По состоянию на 1 октября 2025 года какой товарооборот?",
    "Что должны построить до 5 ноября 2025 года?",
    "Какие отрасли развиваются в 2025 году?",
    "Сколько стоит поездка на 3 дня?",
    "В 12 часов началась встреча?",
    "Сколько единиц техники, 3 тыс.?",
    "Работает ли это на Python 3.10.12?",
    "Какой последний статус проекта?",
    "Завод основан 18 лет назад?",
    "Кто сегодня возглавляет правительство?",
    "Как вырос товарооборот за последние 5 лет?",
]


@pytest.mark.parametrize(("question", "ranges", "known"), ABSOLUTE)
def test_absolute_dates_ranges_months_and_years(question: str, ranges: list, known: list) -> None:
    q = parse_question_dates(question, TODAY)
    assert (q.ranges, q.year_known, q.invalid) == (ranges, known, None)


@pytest.mark.parametrize(("question", "ranges"), RELATIVE)
def test_relative_to_a_fixed_today(question: str, ranges: list) -> None:
    q = parse_question_dates(question, TODAY)
    assert q.ranges == ranges and all(q.year_known)


def test_relative_dates_follow_today() -> None:
    assert parse_question_dates("Что было вчера?", D(2026, 1, 1)).ranges == [_r("2025-12-31")]
    assert parse_question_dates("Что было 7 октября?", D(2026, 10, 6)).ranges == [_r("2025-10-07")]
    assert parse_question_dates("Что было 7 октября?", D(2026, 10, 7)).ranges == [_r("2026-10-07")]


@pytest.mark.parametrize("question", NO_FILTER)
def test_content_numbers_and_years_are_not_filters(question: str) -> None:
    q = parse_question_dates(question, TODAY)
    assert not q.has_filter and not q.recency, (q.ranges, q.texts)
    assert q.stripped == question.strip()


def test_no_gold_question_gets_a_filter() -> None:
    questions = [  # the questions about the documents themselves ("meta") are meant to be found
        row["question"]
        for row in map(json.loads, (ROOT / "eval" / "gold.jsonl").read_text("utf-8").splitlines())
        if row.get("type") != "meta"
    ]
    assert len(questions) > 50
    flagged = [
        q for q in questions
        if parse_question_dates(q, TODAY).has_filter or parse_question_dates(q, TODAY).recency or metadata_question(q)
    ]  # fmt: skip
    assert flagged == []


def test_coarse_periods_filter_only_questions_about_news() -> None:
    assert not parse_question_dates("Сколько автобусов поставят в 2025 году?", TODAY).has_filter
    assert parse_question_dates("Какие новости об автобусах были в 2025 году?", TODAY).ranges == [
        _r("2025-01-01", "2025-12-31")
    ]
    assert not parse_question_dates("Какой план в октябре?", TODAY).has_filter
    assert parse_question_dates("Что обсуждали в октябре?", TODAY).ranges == [_r("2025-10-01", "2025-10-31")]


IMPOSSIBLE = [
    ("Какие новости были 32 октября?", "«32 октября» не существует: в октябре 31 день"),
    ("Что писали 30 февраля 2025 года?", "в феврале 2025 года 28 дней"),
    ("Что писали 29 февраля 2025?", "в феврале 2025 года 28 дней"),
    ("Что было 31 ноября?", "в ноябре 30 дней"),
    ("Что было 2025-13-01?", "месяцев всего 12"),
    ("Что было 45.10.2025?", "не существует"),
    ("Что было с 10 по 5 октября 2025?", "начало позже конца"),
]


@pytest.mark.parametrize(("question", "message"), IMPOSSIBLE)
def test_impossible_dates_get_a_russian_message_and_match_nothing(question: str, message: str) -> None:
    q = parse_question_dates(question, TODAY)
    assert q.invalid is not None and message in q.invalid
    assert q.ranges == [] and q.has_filter
    assert not any(date_in_ranges(d, q) for d in ("2025-10-07", "--10-07", "2025-10", "2025", None))
    assert nearest_dates(["2025-10-07"], q) == []


def test_spans_and_stripped_question() -> None:
    question = "Что обсуждали 7 октября на встрече в Минске?"
    q = parse_question_dates(question, TODAY)
    assert [question[s:e] for s, e in q.spans] == ["7 октября"] and q.texts == ["7 октября"]
    assert q.stripped == "Что обсуждали на встрече в Минске?"
    q = parse_question_dates("Что было 7 октября и 9 октября в Минске?", TODAY)
    assert q.stripped == "Что было в Минске?"
    q = parse_question_dates("Новости от 7 октября о заводе", TODAY)
    assert q.stripped == "Новости о заводе" and q.texts == ["7 октября"]
    q = parse_question_dates("Последние новости о заводе", TODAY)
    assert q.recency and q.stripped == "новости о заводе"


@pytest.mark.parametrize(
    ("question", "recency"),
    [
        ("Последние новости о сотрудничестве", True),
        ("Какие свежие статьи есть про лифты?", True),
        ("Что недавно писали о заводе?", True),
        ("Что обсуждали на днях?", True),
        ("Какие новые документы о торговле?", True),
        ("Что нового в сотрудничестве?", True),
        ("Какие новые договоренности достигнуты?", False),
        ("Какие новые кооперационные цепочки наметили?", False),
        ("Какое последнее место в рейтинге?", False),
    ],
)
def test_recency_words(question: str, recency: bool) -> None:
    q = parse_question_dates(question, TODAY)
    assert q.recency is recency and q.ranges == []


def test_describe() -> None:
    def describe(question: str) -> str:
        return parse_question_dates(question, TODAY).describe()

    assert describe("Что было 7 октября?") == "7 октября"
    assert describe("Что было 7 октября 2025?") == "7 октября 2025"
    assert describe("Что было с 1 по 10 октября 2025?") == "с 1 по 10 октября 2025"
    assert describe("Что было с 20 декабря 2024 по 10 января 2025?") == "с 20 декабря 2024 по 10 января 2025"
    assert describe("Что писали в октябре 2024?") == "октябрь 2024"
    assert describe("Что писали в 2024 году?") == "2024 год"


DOCS = ["2025-10-02", "--10-07", "2025-10-09", "--10-09", "2025-09-26", "2025-10", "2024", None, "garbage"]


@pytest.mark.parametrize(
    ("question", "matching"),
    [
        # a year-less question matches by month-day: documents of any year, with or without one
        ("Что обсуждали 7 октября?", ["--10-07", "2025-10"]),
        ("Что было 9 октября?", ["2025-10-09", "--10-09", "2025-10"]),
        # a full date: dated documents by the calendar, year-less ones if they could fall in it
        ("Что было 9 октября 2025 года?", ["2025-10-09", "--10-09", "2025-10"]),
        ("Что было 9 октября 2024 года?", ["--10-09", "2024"]),
        ("Что было с 1 по 5 октября 2025 года?", ["2025-10-02", "2025-10"]),
        ("Что писали в сентябре 2025 года?", ["2025-09-26"]),
        ("Что писали в 2024 году?", ["--10-07", "--10-09", "2024"]),
        ("Что было с 25 сентября по 1 октября 2025?", ["2025-09-26", "2025-10"]),
        ("Что писали 20 октября 2025?", ["2025-10"]),
    ],
)
def test_date_in_ranges(question: str, matching: list[str]) -> None:
    q = parse_question_dates(question, TODAY)
    assert [d for d in DOCS if date_in_ranges(d, q)] == matching


def test_no_filter_lets_every_document_through() -> None:
    q = parse_question_dates("Кто губернатор?", TODAY)
    assert all(date_in_ranges(d, q) for d in DOCS)


def test_year_less_range_across_new_year_matches_by_month_day() -> None:
    q = parse_question_dates("Что было с 25 декабря по 5 января?", TODAY)
    assert [d for d in ["--12-31", "--01-03", "--01-06", "2019-12-28", "2019-11-28"] if date_in_ranges(d, q)] == [
        "--12-31", "--01-03", "2019-12-28",
    ]  # fmt: skip


def test_nearest_dates() -> None:
    docs = ["2025-10-02", "--10-07", "2025-10-09", "2025-10-13", "--10-14", "2025-09-26", None, "2025-10-02"]
    q = parse_question_dates("Что обсуждали 20 октября 2025 года?", TODAY)
    assert not any(date_in_ranges(d, q) for d in docs)
    assert nearest_dates(docs, q) == ["--10-14", "2025-10-13", "2025-10-09"]
    assert nearest_dates(docs, parse_question_dates("Что было в ноябре 2025 года?", TODAY), n=2) == [
        "--10-14", "2025-10-13",
    ]  # fmt: skip
    assert nearest_dates(docs, parse_question_dates("Что было 20 сентября 2025?", TODAY), n=1) == [
        "2025-09-26"
    ]
    # a year-less date is put in its nearest year: 14 October 2024 is closer to 1 January 2025 than 26 September
    assert nearest_dates(docs, parse_question_dates("Что было 1 января 2025?", TODAY), n=2) == [
        "--10-14",
        "--10-07",
    ]
    assert nearest_dates(docs, parse_question_dates("Кто губернатор?", TODAY)) == []


def test_period_query_from_explicit_bounds() -> None:
    q = period_query(D(2025, 10, 1), D(2025, 10, 5), TODAY)
    assert [d for d in DOCS if date_in_ranges(d, q)] == ["2025-10-02", "2025-10"]
    q = period_query(D(2025, 10, 8), None, TODAY)  # to today
    assert q.ranges == [_r("2025-10-08", "2025-10-15")]
    assert [d for d in DOCS if date_in_ranges(d, q)] == ["2025-10-09", "--10-09", "2025-10"]
    q = period_query(None, D(2024, 12, 31), TODAY)  # from the beginning
    assert [d for d in DOCS if date_in_ranges(d, q)] == ["--10-07", "--10-09", "2024"]
    q = period_query(D(2025, 10, 5), D(2025, 10, 1), TODAY)
    assert q.invalid and "позже конца" in q.invalid and not any(date_in_ranges(d, q) for d in DOCS)


def test_latest_day_orders_by_recency() -> None:
    assert latest_day("2025-10-02", TODAY) == D(2025, 10, 2)
    assert latest_day("2025-10", TODAY) == D(2025, 10, 31)
    assert latest_day("--10-07", TODAY) == D(2025, 10, 7)
    assert latest_day("--10-20", TODAY) == D(2024, 10, 20)
    assert latest_day(None, TODAY) is None and latest_day("garbage", TODAY) is None


def test_parse_doc_date() -> None:
    assert parse_doc_date("2025-10-07") == (D(2025, 10, 7), D(2025, 10, 7))
    assert parse_doc_date("2025-10") == (D(2025, 10, 1), D(2025, 10, 31))
    assert parse_doc_date("2025") == (D(2025, 1, 1), D(2025, 12, 31))
    assert parse_doc_date("--10-07") == (10, 7)
    assert [parse_doc_date(v) for v in (None, "", "--10-32", "2025-02-30", "7 октября", "--10")] == [None] * 6


METADATA = [
    (
        "Когда опубликована статья об Ульяновской области и Белоруссии?",
        "date",
        "Ульяновской области и Белоруссии",
    ),
    ("Когда вышла новость про завод?", "date", "завод"),
    ("Какая дата у статьи про лифты?", "date", "лифты"),
    ("От какого числа новость о поставках автобусов?", "date", "поставках автобусов"),
    ("Какого числа опубликована статья о выставке?", "date", "выставке"),
    ("Дата публикации статьи о торговле", "date", "торговле"),
    ("Какое агентство сообщило о встрече в Минске?", "source", "встрече в Минске"),
    ("Какое издание написало о заводе?", "source", "заводе"),
    ("Откуда эта новость?", "source", ""),
    ("Из какого источника информация о поставках?", "source", "поставках"),
    ("Какие документы упоминают Минский метрополитен?", "mentions", "Минский метрополитен"),
    ("В каких статьях говорится о лифтах?", "mentions", "лифтах"),
    ("В каком документе упоминается глутаровый альдегид?", "mentions", "глутаровый альдегид"),
    ("Где упоминается станкостроение?", "mentions", "станкостроение"),
]


@pytest.mark.parametrize(("question", "kind", "topic"), METADATA)
def test_metadata_questions(question: str, kind: str, topic: str) -> None:
    meta = metadata_question(question)
    assert meta is not None and (meta.kind, meta.topic) == (kind, topic)
    assert all(w.lower() not in {"о", "об", "про", "в"} for w in meta.words)


@pytest.mark.parametrize(
    "question",
    [
        "Когда откроют совместный Торговый дом?",
        "Какая дата у выставки?",
        "Когда опубликован указ о программе?",
        "От какого числа действует закон?",
        "В какие даты проходила выставка?",
        "Какие белорусские города упоминаются в статьях о сотрудничестве?",
        "Какие регионы описаны в документах?",
        "Кто сообщил о подписании соглашения?",
    ],
)
def test_content_questions_are_not_metadata_questions(question: str) -> None:
    assert metadata_question(question) is None


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("УЛЬЯНОВСК, 7 октября. /ТАСС/. Встреча 7 октября 2025 года прошла в Минске.", 2025),
        ("УЛЬЯНОВСК, 7 октября. /ТАСС/. Текст.\n\ndate 2024-10-07", 2024),
        ("УЛЬЯНОВСК, 7 октября. /ТАСС/. Итоги 07.10.2023 подвели вчера.", 2023),
        ("УЛЬЯНОВСК, 7 октября. /ТАСС/. В октябре 2025 года выставка собрала гостей.", 2025),
        ("УЛЬЯНОВСК, 7 октября. /ТАСС/. Соглашение подписали 3 октября 2025 года.", 2025),
        ("МОСКВА, 3 января. /ТАСС/. Итоги подвели 29 декабря 2024 года.", 2025),  # across the new year
        ("УЛЬЯНОВСК, 7 октября. /ТАСС/. План на 2025 - 2026 годы, программа до 2030 года.", None),
        ("УЛЬЯНОВСК, 7 октября. /ТАСС/. Завод открыли 1 марта 2020 года.", None),  # far from the dateline
        ("УЛЬЯНОВСК, 7 октября. /ТАСС/. 7 октября 2024 года и 7 октября 2025 года.", None),  # conflicting
        ("УЛЬЯНОВСК, 7 октября. /ТАСС/. Текст.", None),
    ],
)
def test_year_from_context(text: str, year: int | None) -> None:
    day = 3 if text.startswith("МОСКВА") else 7
    assert year_from_context(text, 1 if day == 3 else 10, day) == year


def test_ingest_resolves_a_year_less_dateline_only_from_the_document() -> None:
    raw = "Заголовок\n\nСАМАРА, 14 октября. /ТАСС/. Переговоры прошли 13 октября 2025 года в Гродно."
    doc = parse_document("x", raw)
    assert (doc.date, doc.source, doc.date_display) == ("2025-10-14", "ТАСС", "14 октября 2025")
    doc = parse_document("y", "Заголовок\n\nСАМАРА, 14 октября. /ТАСС/. План на 2024 - 2025 годы.")
    assert (doc.date, doc.date_display) == ("--10-14", "14 октября (год не указан)")
    seeds = {d.doc_id: d for d in ingest([SEEDS]).documents}
    assert seeds[ULYANOVSK].date == "--10-07"  # its only years are a plan's: none is invented


def test_format_date_partial_dates() -> None:
    assert format_date("2025-10") == "октябрь 2025"
    assert format_date("2025") == "2025 год"
    assert format_date("--10-07") == "7 октября (год не указан)"
    assert format_date("not a date") == "not a date"


def test_date_query_defaults() -> None:
    q = DateQuery()
    assert not q.has_filter and q.describe() == ""


def test_import_is_cheap() -> None:
    code = (
        "import sys, qa_bot.dates as d, datetime;"
        "d.parse_question_dates('Что было 7 октября?', datetime.date(2025, 10, 15));"
        "print(sorted(m for m in ('natasha', 'dateparser', 'razdel', 'pymorphy3', 'numpy', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_vocabulary_is_packaged_data() -> None:
    from importlib.resources import files

    data = files("qa_bot") / "data"
    for name in ("dates_ru.json", "metadata_questions_ru.json"):
        assert "_source" in json.loads((data / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def collection_dates() -> dict[str, tuple[str | None, str | None]]:
    """doc_id → (date, source) of the seeds and the distractors, as ingest reads them."""
    docs = ingest([SEEDS, ROOT / "eval" / "distractors"]).documents
    return {d.doc_id: (d.date, d.source) for d in docs}


GOLD_DATES = [
    json.loads(line) for line in (ROOT / "eval" / "gold_dates.jsonl").read_text("utf-8").splitlines()
]


@pytest.mark.parametrize("today", [D(2025, 10, 20), D(2026, 11, 23)])
@pytest.mark.parametrize("item", GOLD_DATES, ids=[g["id"] for g in GOLD_DATES])
def test_gold_date_questions_select_their_documents(item: dict, today: date, collection_dates: dict) -> None:
    """A date question's filter keeps exactly its gold documents; a metadata question's answer is in the metadata."""
    q = parse_question_dates(item["question"], today)
    meta = metadata_question(item["question"])
    if meta is not None:
        assert not q.has_filter and item["answerable"]
        (doc_id,) = item["sources"]
        doc_date, source = collection_dates[doc_id]
        shown = source if meta.kind == "source" else format_date(doc_date)
        assert meta.kind in ("date", "source") and any(f in shown for f in item["key_facts"])
        return
    assert q.has_filter
    kept = {d for d, (doc_date, _) in collection_dates.items() if date_in_ranges(doc_date, q)}
    if item["answerable"]:
        assert kept == set(item["sources"])
    else:
        assert kept == set()
        assert q.invalid or nearest_dates([d for d, _ in collection_dates.values()], q)
