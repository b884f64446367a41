"""Dates in questions and documents: Russian date expressions to filters, document dates matched against them.

Rules (general Russian, vocabulary in `data/dates_ru.json`):
- A filter comes only from an expression that says WHEN: a day with a month («7 октября», «07.10.2025»,
  «2025-10-07»), a range of such days («с 1 по 10 октября», «между 1 и 10 октября», «1–10 октября»), a month
  with a year («в октябре 2025»), a relative day or week («вчера», «на прошлой неделе», «за последние 3 дня»,
  «2 дня назад»), or «с 1 октября» (from that day to today).
- Coarse periods — a bare year («в 2025 году», «за 2025 год»), «в этом/прошлом году», «в этом/прошлом месяце»,
  a month without a day or year («в октябре»), a quarter or half-year, months or years back («за последние
  5 лет», «2 года назад»), «сегодня» — filter only when the question is about news or events (a word such
  as «новости», «писали», «обсуждали», «сообщалось», «было»: `news_cues` in the data file). «Сколько
  автобусов поставят в этом году?» and «Кто сегодня возглавляет …?» are about content: no filter.
- Never a filter: years after «до», «к», «на» («до 2030 года», «на 2025 - 2026 годы», «к концу 2025-го»),
  day-months after «к»/«до» (deadlines), numbers without a month («18 лет», «25–30%»).
- A date without a year resolves to the most recent such date not after `today` and is marked
  `year_known=False`: it then matches documents by month and day in any year.
- Matching (`date_in_ranges`): when both the document date and the range have a year, the intervals must
  overlap; when either lacks a year (a document dated «--10-07», a question «7 октября»), the document
  matches if its month and day fall in the range for some year.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache, lru_cache
from pathlib import Path

_DATA = Path(__file__).parent / "data"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_SPACES = "\u00a0\u2007\u202f\u2009\u200a\u2002\u2003\u3000\t\n\r"


@cache
def _data(name: str) -> dict:
    return json.loads((_DATA / name).read_text(encoding="utf-8"))


def _norm(text: str) -> str:
    """Lower case, ё→е, dashes to "-", odd spaces to " "; the same length as `text`, so offsets carry over."""
    out = []
    for c in text:
        low = c.lower()
        c = low if len(low) == 1 else c
        if c == "ё":
            c = "е"
        elif c in _DASHES:
            c = "-"
        elif c in _SPACES:
            c = " "
        out.append(c)
    return "".join(out)


def _alt(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@lru_cache(maxsize=1)
def month_numbers() -> dict[str, int]:
    """Every month form and abbreviation (lower case, ё as е) → month number."""
    return {form: int(n) for n, forms in _data("dates_ru.json")["months"].items() for form in forms}


def month_name(month: int, case: int = 0) -> str:
    """Month name: case 0 nominative («октябрь»), 1 genitive («октября»)."""
    return _data("dates_ru.json")["months"][str(month)][case]


def _month_in(month: int) -> str:
    return _data("dates_ru.json")["months_in"][month - 1]


# ---------------------------------------------------------------- question side


@dataclass
class DateQuery:
    """Date filters parsed from a question; `ranges` are inclusive, `year_known[i]` belongs to `ranges[i]`."""

    ranges: list[tuple[date, date]] = field(default_factory=list)
    year_known: list[bool] = field(default_factory=list)
    recency: bool = False
    invalid: str | None = None  # Russian message for an impossible date («32 октября»)
    spans: list[tuple[int, int]] = field(default_factory=list)  # what `stripped` leaves out
    stripped: str = ""
    texts: list[str] = field(default_factory=list)  # the date expressions as written

    @property
    def has_filter(self) -> bool:
        """True when documents should be filtered by date (an impossible date filters everything out)."""
        return bool(self.ranges) or self.invalid is not None

    def describe(self) -> str:
        """The periods in Russian: «7 октября», «с 1 по 10 октября 2025», «октябрь 2025»."""
        return "; ".join(
            describe_range(s, e, k) for (s, e), k in zip(self.ranges, self.year_known, strict=True)
        )


def describe_range(start: date, end: date, year_known: bool = True) -> str:
    """One period in Russian; the year is left out when the question gave none."""

    def day(d: date, with_year: bool) -> str:
        return f"{d.day} {month_name(d.month, 1)}" + (f" {d.year}" if with_year else "")

    year = (lambda y: f" {y}") if year_known else (lambda y: "")
    if start == end:
        return day(start, year_known)
    last = calendar.monthrange(end.year, end.month)[1]
    if start.day == 1 and end.day == last:
        if (start.month, start.year) == (end.month, end.year):
            return f"{month_name(start.month)}{year(start.year)}"
        if start.month == 1 and end.month == 12 and start.year == end.year:
            return f"{start.year} год" if year_known else "год"
    if start.year == end.year and start.month == end.month:
        return f"с {start.day} по {end.day} {month_name(end.month, 1)}{year(end.year)}"
    same_year = start.year == end.year
    return f"с {day(start, year_known and not same_year)} по {day(end, year_known)}"


class _Invalid(Exception):
    pass


@dataclass
class _Hit:
    start: int
    end: int
    periods: list[tuple[date, date, bool]] = field(default_factory=list)
    weak: bool = False
    invalid: str | None = None


def _days_word(n: int) -> str:
    return (
        "день"
        if n % 10 == 1 and n % 100 != 11
        else "дня"
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14
        else "дней"
    )


def _check(day: int, month: int, year: int | None, raw: str) -> None:
    """Raise _Invalid with a Russian message when day/month/year is not a real date."""
    if not 1 <= month <= 12:
        raise _Invalid(f"Даты «{raw}» не существует: месяцев всего 12.")
    if year is not None and not 1 <= year <= 9999:
        raise _Invalid(f"Даты «{raw}» не существует.")
    most = (
        calendar.monthrange(year, month)[1]
        if year is not None
        else (29 if month == 2 else calendar.monthrange(2001, month)[1])
    )
    if not 1 <= day <= most:
        where = (
            f"в {_month_in(month)} {year} года"
            if year is not None and month == 2
            else f"в {_month_in(month)}"
        )
        raise _Invalid(f"Даты «{raw}» не существует: {where} {most} {_days_word(most)}.")


def _latest(month: int, day: int, not_after: date) -> date:
    """The most recent day-month not after `not_after` (29 February goes back to a leap year)."""
    year = not_after.year
    while True:
        try:
            d = date(year, month, day)
        except ValueError:
            year -= 1
            continue
        if d <= not_after:
            return d
        year -= 1


def _latest_month(month: int, today: date) -> int:
    """The year of the most recent month `month` that has begun by `today`."""
    return today.year if month <= today.month else today.year - 1


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    w = _data("dates_ru.json")
    forms = month_numbers()
    m_day = _alt(forms)  # after a day number every form is accepted («7 окт.», «7 октября»)
    m_in = _alt(w["months_in"])
    m_for = _alt(w["months_for"])
    m_full = _alt(f for fs in w["months"].values() for f in fs[:5])  # the cases, no abbreviations
    units = _alt(u for us in w["units"].values() for u in us)
    numw = _alt(w["number_words"])
    this, last, before_last = _alt(w["this"]), _alt(w["last"]), _alt(w["before_last"])
    recent = _alt(w["recent_period"])
    ords = _alt(w["ordinals"])
    B = r"(?<![0-9a-zа-я])"  # a word starts here
    E = r"(?![0-9a-zа-я])"  # a word ends here
    yr = r"(?:1[89]|2[01])\d\d"
    ys = r"(?:\s*(?:года|году|год|г\.|г" + E + r"))?"

    def dm(i: str = "") -> str:
        return rf"{B}(?P<d{i}>\d{{1,2}})(?:-?го)?\s+(?P<m{i}>{m_day})\.?{E}(?:\s+(?P<y{i}>{yr}){ys}{E})?"

    def num(i: str = "") -> str:
        return (
            rf"{B}(?:(?P<iy{i}>{yr})-(?P<im{i}>\d{{1,2}})-(?P<id{i}>\d{{1,2}})"
            rf"|(?P<nd{i}>\d{{1,2}})\.(?P<nm{i}>\d{{1,2}})\.(?P<ny{i}>{yr})"
            rf"|(?=\d\d\.\d\d\.)(?P<sd{i}>\d\d)\.(?P<sm{i}>\d\d)\.(?P<sy{i}>\d\d))(?![0-9.])"
        )

    pre = rf"(?:{B}(?P<pre>с|со|от|между)\s+)?"
    conn = r"\s*(?P<conn>-|по|до|и|,)\s*"
    n_or_w = rf"(?:(?P<n>\d{{1,3}})\s+|(?P<w>{numw})\s+)?"
    return [
        ("range_dm", re.compile(pre + dm("1") + conn + dm("2"))),
        ("range_d", re.compile(pre + rf"{B}(?P<d1>\d{{1,2}})" + conn + dm("2"))),
        ("range_num", re.compile(pre + num("1") + conn + num("2"))),
        (
            "range_month",
            re.compile(
                rf"{B}(?P<pre>с|со|от)\s+(?P<m1>{m_full}){E}(?:\s+(?P<y1>{yr}){ys})?\s+(?P<conn>по|до)\s+"
                rf"(?P<m2>{m_full}){E}(?:\s+(?P<y2>{yr}){ys}{E})?"
            ),
        ),
        ("from", re.compile(rf"{B}(?:начиная\s+)?(?:с|со)\s+(?:{dm()[len(B) :]}|{num()[len(B) :]})")),
        ("dm", re.compile(dm())),
        ("num", re.compile(num())),
        (
            "part_month",
            re.compile(
                rf"{B}(?:в|во)\s+(?P<part>{_alt(w['month_parts'])})\s+(?P<m>{m_full}){E}(?:\s+(?P<y>{yr}){ys}{E})?"
            ),
        ),
        ("month_year", re.compile(rf"(?:{B}(?:в|во|за)\s+)?{B}(?P<m>{m_full})\s+(?P<y>{yr}){ys}{E}")),
        ("last_n", re.compile(rf"{B}(?:за|в\s+течение)\s+(?P<adj>{recent})\s+{n_or_w}(?P<unit>{units}){E}")),
        ("ago", re.compile(rf"{B}{n_or_w}(?P<unit>{units})\s+(?:{_alt(w['ago'])}){E}")),
        (
            "week",
            re.compile(rf"{B}(?:на|в|за)\s+(?P<which>{this}|{last}|{before_last})\s+(?:неделе|неделю){E}"),
        ),
        (
            "rel_month",
            re.compile(rf"{B}(?:в|за)\s+(?P<which>{this}|{last}|{before_last})\s+(?:месяце|месяц){E}"),
        ),
        (
            "rel_year",
            re.compile(rf"{B}(?:в|за)\s+(?P<which>{this}|{last}|{before_last})\s+(?:году|год){E}"),
        ),
        (
            "quarter",
            re.compile(
                rf"{B}(?:в|во|за)\s+(?P<ord>{ords})\s+(?P<unit>{_alt(w['quarter'] + w['half_year'])}){E}"
                rf"(?:\s+(?P<y>{yr}){ys}{E})?"
            ),
        ),
        ("month", re.compile(rf"{B}(?:в|во|за)\s+(?P<m>{m_in}|{m_for}){E}")),
        (
            "year",
            re.compile(
                rf"{B}(?:в|во|за)\s+(?P<y>{yr})(?:(?:\s*-\s*(?:м|го))?\s*(?:году|год|г\.|г{E})|\s*-\s*м{E})"
            ),
        ),
        (
            "rel_day",
            re.compile(rf"{B}(?P<which>{_alt(w['today'] + w['yesterday'] + w['day_before_yesterday'])}){E}"),
        ),
    ]


def _prev_words(text: str, pos: int, k: int = 2) -> list[str]:
    return re.findall(r"[0-9a-zа-я]+", text[max(0, pos - 40) : pos])[-k:]


def _year(raw: str | None) -> int | None:
    if not raw:
        return None
    y = int(raw)
    return 2000 + y if y < 100 else y


def _num_parts(m: re.Match[str], i: str = "") -> tuple[int, int, int]:
    if m.group(f"iy{i}"):
        return int(m.group(f"id{i}")), int(m.group(f"im{i}")), int(m.group(f"iy{i}"))
    if m.group(f"nd{i}"):
        return int(m.group(f"nd{i}")), int(m.group(f"nm{i}")), int(m.group(f"ny{i}"))
    return int(m.group(f"sd{i}")), int(m.group(f"sm{i}")), 2000 + int(m.group(f"sy{i}"))  # "07.10.25"


def _day_range(
    d1: int, m1: int, y1: int | None, d2: int, m2: int, y2: int | None, raw: str, today: date
) -> tuple[date, date, bool]:
    """A range of two day-months; a missing year is taken from the other end, else resolved back from today."""
    if y1 is None and y2 is not None:
        y1 = y2 - 1 if (m1, d1) > (m2, d2) else y2
    if y2 is None and y1 is not None:
        y2 = y1 + 1 if (m1, d1) > (m2, d2) else y1
    _check(d1, m1, y1, raw)
    _check(d2, m2, y2, raw)
    if y1 is None or y2 is None:
        end = _latest(m2, d2, today)
        return _latest(m1, d1, end), end, False
    start, end = date(y1, m1, d1), date(y2, m2, d2)
    if start > end:
        raise _Invalid(f"В периоде «{raw}» начало позже конца.")
    return start, end, True


def _hit(kind: str, m: re.Match[str], text: str, today: date) -> _Hit | None:
    """The periods of one match, or None when this match says nothing about WHEN."""
    w = _data("dates_ru.json")
    months = month_numbers()
    raw = m.group(0).strip()
    g = m.groupdict()
    hit = _Hit(m.start(), m.end())
    pre, conn = g.get("pre"), g.get("conn")
    if kind in ("range_dm", "range_d", "range_num"):
        if conn in ("и", ",") and pre != "между":
            if kind != "range_d":
                return None  # two separate dates: each is read on its own
            mon, y = months[g["m2"]], _year(g["y2"])
            days = [int(g["d1"]), int(g["d2"])]
            for d in days:
                _check(d, mon, y, raw)
            hit.periods = [
                (date(y, mon, d), date(y, mon, d), True) if y else (_latest(mon, d, today),) * 2 + (False,)
                for d in days
            ]
            return hit
        if (pre == "между") != (conn == "и") or (pre in ("с", "со", "от") and conn not in ("по", "до", "-")):
            return None
        if pre is None and conn in ("по", "до"):
            return None
        if kind == "range_num":
            d1, m1, y1 = _num_parts(m, "1")
            d2, m2, y2 = _num_parts(m, "2")
        else:
            m2, y2, d2 = months[g["m2"]], _year(g["y2"]), int(g["d2"])
            d1 = int(g["d1"])
            m1 = months[g["m1"]] if kind == "range_dm" else m2
            y1 = _year(g.get("y1")) if kind == "range_dm" else y2
        hit.periods = [_day_range(d1, m1, y1, d2, m2, y2, raw, today)]
        return hit
    if kind == "range_month":
        m1, m2 = months[g["m1"]], months[g["m2"]]
        y1, y2 = _year(g["y1"]), _year(g["y2"])
        y1 = y1 or (y2 - (m1 > m2) if y2 else None)
        y2 = y2 or (y1 + (m1 > m2) if y1 else None)
        if y1 is None or y2 is None:
            y2 = _latest_month(m2, today)
            y1 = y2 - (m1 > m2)
            hit.weak = True
        start, end = _month_range(y1, m1)[0], _month_range(y2, m2)[1]
        if start > end:
            raise _Invalid(f"В периоде «{raw}» начало позже конца.")
        hit.periods = [(start, end, not hit.weak)]
        return hit
    if kind == "from":
        if g.get("iy") or g.get("nd") or g.get("sd"):
            d, mon, y = _num_parts(m)
        else:
            d, mon, y = int(g["d"]), months[g["m"]], _year(g["y"])
        _check(d, mon, y, raw)
        start = date(y, mon, d) if y else _latest(mon, d, today)
        hit.periods = [(start, max(start, today), bool(y))]
        return hit
    if kind in ("dm", "num"):
        if set(_prev_words(text, m.start(), 1)) & set(w["deadline_before_day"]):  # «к 1 января»
            return None
        if kind == "num":
            d, mon, y = _num_parts(m)
        else:
            d, mon, y = int(g["d"]), months[g["m"]], _year(g["y"])
        _check(d, mon, y, raw)
        day = date(y, mon, d) if y else _latest(mon, d, today)
        hit.periods = [(day, day, bool(y))]
        return hit
    if kind in ("month_year", "part_month", "month"):
        if kind == "month_year" and set(_prev_words(text, m.start())) & set(w["not_when_before_month_year"]):
            return None
        mon = months[g["m"]]
        y = _year(g.get("y"))
        hit.weak = y is None
        start, end = _month_range(y or _latest_month(mon, today), mon)
        if kind == "part_month":
            first, last = w["month_parts"][g["part"]]
            start, end = start.replace(day=first), end.replace(day=min(last, end.day))
        hit.periods = [(start, end, y is not None)]
        return hit
    if kind == "quarter":
        n = w["ordinals"][g["ord"]]
        size = 3 if g["unit"] in w["quarter"] else 6
        if n * size > 12:
            return None
        first = (n - 1) * size + 1
        y = _year(g.get("y")) or (today.year if date(today.year, first, 1) <= today else today.year - 1)
        hit.weak = True
        hit.periods = [(date(y, first, 1), _month_range(y, first + size - 1)[1], g.get("y") is not None)]
        return hit
    if kind == "year":
        y = int(g["y"])
        hit.weak = True
        hit.periods = [(date(y, 1, 1), date(y, 12, 31), True)]
        return hit
    if kind == "rel_day":
        which = g["which"]
        back = 2 if which in w["day_before_yesterday"] else 1 if which in w["yesterday"] else 0
        day = today - timedelta(days=back)
        hit.weak = back == 0  # «Кто сегодня возглавляет …» means nowadays, not a news day
        hit.periods = [(day, day, True)]
        return hit
    if kind == "week":
        which = g["which"]
        back = 2 if which in w["before_last"] else 1 if which in w["last"] else 0
        monday = today - timedelta(days=today.weekday() + 7 * back)
        hit.periods = [(monday, monday + timedelta(days=6), True)]
        return hit
    if kind in ("rel_month", "rel_year"):
        which = g["which"]
        back = 2 if which in w["before_last"] else 1 if which in w["last"] else 0
        hit.weak = True
        if kind == "rel_month":
            first = _add_months(today.replace(day=1), -back)
            hit.periods = [_month_range(first.year, first.month) + (True,)]
        else:
            hit.periods = [(date(today.year - back, 1, 1), date(today.year - back, 12, 31), True)]
        return hit
    if kind in ("last_n", "ago"):
        n = int(g["n"]) if g.get("n") else w["number_words"][g["w"]] if g.get("w") else 1
        unit = next(u for u, forms in w["units"].items() if g["unit"] in forms)
        hit.weak = unit in ("month", "year")  # «за последние 5 лет вырос» is about content
        if kind == "last_n":
            start = (
                today - timedelta(days=n)
                if unit == "day"
                else today - timedelta(weeks=n)
                if unit == "week"
                else _add_months(today, -n * (12 if unit == "year" else 1))
            )
            hit.periods = [(start, today, True)]
        elif unit == "day":
            day = today - timedelta(days=n)
            hit.periods = [(day, day, True)]
        elif unit == "week":
            monday = today - timedelta(days=today.weekday() + 7 * n)
            hit.periods = [(monday, monday + timedelta(days=6), True)]
        elif unit == "month":
            first = _add_months(today.replace(day=1), -n)
            hit.periods = [_month_range(first.year, first.month) + (True,)]
        else:
            hit.periods = [(date(today.year - n, 1, 1), date(today.year - n, 12, 31), True)]
        return hit
    return None


def _has_word(text: str, stems: Iterable[str]) -> bool:
    words = re.findall(r"[a-zа-я]+", text)
    return any(w.startswith(s) for w in words for s in stems)


def _recency_spans(text: str, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans of recency words: «недавно», «на днях», or «последние/свежие/новые» before a news noun."""
    w = _data("dates_ru.json")
    spans = [
        (m.start(), m.end())
        for m in re.finditer(rf"(?<![а-я])(?:{_alt(w['recency_phrases'])})(?![а-я])", text)
    ]
    nouns = tuple(w["news_nouns"])
    adj = re.compile(
        rf"(?<![а-я])(?:самые\s+|самых\s+)?(?:{_alt(w['recency_adjectives'])})\s+(?P<noun>[а-я]+)"
    )
    spans += [(m.start(), m.start("noun")) for m in adj.finditer(text) if m.group("noun").startswith(nouns)]
    return [s for s in spans if not any(s[0] < e and b < s[1] for b, e in taken)]


_JOINER = re.compile(r"\s*(?:,|и|или|а также)?\s*")


def _with_preposition(text: str, start: int) -> int:
    """Move `start` back over a preposition right before it («от 7 октября»), so stripping leaves none."""
    m = re.search(rf"(?<![а-я])(?:{_alt(_data('dates_ru.json')['date_prepositions'])})\s+$", text[:start])
    return m.start() if m else start


def parse_question_dates(question: str, today: date) -> DateQuery:
    """Date filters, recency and an impossible-date message from a question (see the module docstring)."""
    text = _norm(question)
    taken: list[tuple[int, int]] = []
    hits: list[_Hit] = []
    for kind, pattern in _patterns():
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            try:
                hit = _hit(kind, m, text, today)
            except _Invalid as exc:
                hit = _Hit(m.start(), m.end(), invalid=str(exc))
            if hit is None:
                continue
            taken.append((hit.start, hit.end))
            hits.append(hit)
    news = _has_word(text, _data("dates_ru.json")["news_cues"])
    used = sorted((h for h in hits if news or not h.weak), key=lambda h: h.start)
    query = DateQuery()
    for h in used:
        query.texts.append(question[h.start : h.end].strip())
        if h.invalid and query.invalid is None:
            query.invalid = h.invalid
        for start, end, known in h.periods:
            query.ranges.append((start, end))
            query.year_known.append(known)
    date_spans = [(_with_preposition(text, h.start), h.end) for h in used]
    recency = _recency_spans(text, date_spans)
    query.recency = bool(recency)
    query.spans = sorted(date_spans + recency)
    if query.invalid:
        query.ranges, query.year_known = [], []
    kept, pos = [], 0
    for s, e in query.spans:
        between = question[pos:s]
        kept.append("" if kept and _JOINER.fullmatch(_norm(between)) else between)  # «7 октября и 9 октября»
        pos = e
    kept.append(question[pos:])
    stripped = re.sub(r"\s+([?!.,;:])", r"\1", " ".join("".join(kept).split()))
    query.stripped = stripped.strip(" ,;:-")
    return query


# ---------------------------------------------------------------- document side

_DOC_DATE = re.compile(r"(?:(?P<y>\d{4})|-)(?:-(?P<m>\d{2})(?:-(?P<d>\d{2}))?)?")


def parse_doc_date(doc_date: str | None) -> tuple[date, date] | tuple[int, int] | None:
    """ "2025-10-07"/"2025-10"/"2025" → (first, last day); "--10-07" → (10, 7); anything else → None."""
    if not doc_date:
        return None
    m = _DOC_DATE.fullmatch(doc_date.strip())
    if not m:
        return None
    y, mon, d = (int(v) if v else None for v in m.group("y", "m", "d"))
    try:
        if y is None:
            if mon is None or d is None:
                return None
            _check(d, mon, None, doc_date)
            return mon, d
        if mon is None:
            return date(y, 1, 1), date(y, 12, 31)
        if d is None:
            return _month_range(y, mon)
        return date(y, mon, d), date(y, mon, d)
    except (ValueError, _Invalid):
        return None


def period_query(since: date | None, until: date | None, today: date) -> DateQuery:
    """A filter from explicit bounds (CLI `--since/--until`): open ends run from the beginning or to today."""
    start, end = since or date.min, until or max(today, since or today)
    if start > end:
        return DateQuery(invalid=f"Начало периода ({start:%d.%m.%Y}) позже конца ({end:%d.%m.%Y}).")
    return DateQuery(ranges=[(start, end)], year_known=[True])


def latest_day(doc_date: str | None, today: date) -> date | None:
    """The latest day a document can be dated, for ordering by recency only (never shown).

    A year-less «--10-07» is taken as the most recent 7 October not after today.
    """
    doc = parse_doc_date(doc_date)
    if doc is None:
        return None
    if isinstance(doc[0], int):
        return _latest(doc[0], doc[1], today)
    return doc[1]


def _could_fall_in(month: int, day: int, start: date, end: date) -> bool:
    """True if month-day is in [start, end] for some year."""
    if (end - start).days >= 366:
        return True
    for year in range(start.year, end.year + 1):
        try:
            if start <= date(year, month, day) <= end:
                return True
        except ValueError:
            continue
    return False


def _matches(doc: tuple, start: date, end: date, year_known: bool) -> bool:
    if isinstance(doc[0], int):
        return _could_fall_in(doc[0], doc[1], start, end)
    lo, hi = doc
    if year_known or (hi - lo).days >= 365:
        return lo <= end and start <= hi
    if lo == hi:
        return _could_fall_in(lo.month, lo.day, start, end)
    d = lo  # a month: any of its days, by month-day
    while d <= hi:
        if _could_fall_in(d.month, d.day, start, end):
            return True
        d += timedelta(days=1)
    return False


def date_in_ranges(doc_date: str | None, query: DateQuery) -> bool:
    """Whether a document dated `doc_date` passes the query's date filter.

    No filter: every document passes. An impossible date: none does. A document without a (readable)
    date never passes a filter. Year-less dates on either side match by month and day.
    """
    if not query.has_filter:
        return True
    doc = parse_doc_date(doc_date)
    if doc is None or query.invalid:
        return False
    return any(_matches(doc, s, e, k) for (s, e), k in zip(query.ranges, query.year_known, strict=True))


def _distance(doc: tuple, start: date, end: date, year_known: bool) -> int:
    """Days between a document date and a range (0 when it falls in); a year-less side is put in the nearest year."""
    if isinstance(doc[0], int):
        candidates = []
        for year in range(start.year - 1, end.year + 2):
            try:
                candidates.append((date(year, doc[0], doc[1]),) * 2)
            except ValueError:
                continue
    elif year_known:
        candidates = [doc]
    else:
        lo, hi = doc
        candidates = []
        for year in range(start.year - 1, end.year + 2):
            try:
                candidates.append((lo.replace(year=year), hi.replace(year=year + (hi.year - lo.year))))
            except ValueError:
                continue
    return min((max(0, (start - hi).days, (lo - end).days) for lo, hi in candidates), default=10**9)


def nearest_dates(doc_dates: Iterable[str | None], query: DateQuery, n: int = 3) -> list[str]:
    """Up to `n` distinct document dates closest to the query's periods, nearest first (for «ближайшие: …»)."""
    if not query.ranges:
        return []
    scored: dict[str, int] = {}
    for raw in doc_dates:
        doc = parse_doc_date(raw)
        if doc is None or raw in scored:
            continue
        scored[raw] = min(
            _distance(doc, s, e, k) for (s, e), k in zip(query.ranges, query.year_known, strict=True)
        )
    return sorted(scored, key=lambda r: (scored[r], r.startswith("-"), r))[:n]


# ---------------------------------------------------------------- questions about the documents


@dataclass(frozen=True)
class MetaQuestion:
    """A question about the documents themselves: kind is "date", "source" or "mentions"."""

    kind: str
    topic: str  # the rest of the question, as written: what the documents are about
    words: tuple[str, ...]  # the topic's content words


@lru_cache(maxsize=1)
def _meta_patterns() -> tuple[list[tuple[str, re.Pattern[str]]], re.Pattern[str]]:
    cues = _data("metadata_questions_ru.json")
    noun = cues["doc_noun"]
    patterns = [
        (kind, re.compile(p.replace("doc_noun", noun)))
        for kind in ("date", "source", "mentions")
        for p in cues[kind]
    ]
    return patterns, re.compile(cues["topic_prefix"].replace("doc_noun", noun))


def metadata_question(question: str) -> MetaQuestion | None:
    """Detect «Когда опубликована статья о …?», «Какое агентство сообщило …?», «Какие документы упоминают …?»."""
    text = _norm(question)
    patterns, prefix = _meta_patterns()
    for kind, pattern in patterns:
        m = pattern.match(text)
        if not m:
            continue
        rest = m.end() + (len(text[m.end() :]) - len(text[m.end() :].lstrip()))
        rest += prefix.match(text, rest).end() - rest
        topic = question[rest:].strip(" ?!.,;:")
        from .text import STOP_WORDS

        words = tuple(w for w in re.findall(r"[\w-]+", topic) if _norm(w) not in STOP_WORDS)
        return MetaQuestion(kind, topic, words)
    return None


# ---------------------------------------------------------------- year-less datelines

_NEAR_DAYS = 7  # a full date this close to a year-less dateline gives its year (news reports recent events)
_HEAD_CHARS = 1000  # «октябре 2025» gives the year only near the top of the document


def year_from_context(text: str, month: int, day: int) -> int | None:
    """The year of a year-less dateline («7 октября») from the same document, or None when it does not tell.

    In order, each used only when it names a single year: a full date with the same day and month
    anywhere («7 октября 2025», «2025-10-07», «07.10.2025»); the same month with a year near the top
    («в октябре 2025 года»); a full date within a week of the dateline. Never guessed otherwise.
    """
    norm = _norm(text)
    months = month_numbers()
    forms = _alt(f for f in months if len(f) > 2)
    yr = r"(?:1[89]|2[01])\d\d"
    full: list[date] = []
    patterns = (
        rf"(?<![0-9])(?P<d>\d{{1,2}})\s+(?P<m>{forms})\.?\s+(?P<y>{yr})(?![0-9])",
        rf"(?<![0-9])(?P<y>{yr})-(?P<m>\d{{2}})-(?P<d>\d{{2}})(?![0-9])",
        rf"(?<![0-9.])(?P<d>\d{{1,2}})\.(?P<m>\d{{1,2}})\.(?P<y>{yr})(?![0-9])",
    )
    for pattern in patterns:
        for m in re.finditer(pattern, norm):
            mon = months.get(m.group("m")) or (int(m.group("m")) if m.group("m").isdigit() else 0)
            try:
                full.append(date(int(m.group("y")), mon, int(m.group("d"))))
            except ValueError:
                continue
    same = {d.year for d in full if (d.month, d.day) == (month, day)}
    if same:
        return same.pop() if len(same) == 1 else None
    head = norm[:_HEAD_CHARS]
    with_month = {
        int(m.group("y"))
        for m in re.finditer(rf"(?<![а-я])(?P<m>{forms})\s+(?P<y>{yr})(?![0-9])", head)
        if months[m.group("m")] == month
    }
    if with_month:
        return with_month.pop() if len(with_month) == 1 else None
    near = set()
    for d in full:
        for year in (d.year - 1, d.year, d.year + 1):
            try:
                if abs((date(year, month, day) - d).days) <= _NEAR_DAYS:
                    near.add(year)
            except ValueError:
                continue
    return near.pop() if len(near) == 1 else None
