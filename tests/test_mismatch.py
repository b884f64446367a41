"""Signs that an answer tells of something else than the question asks (qa_bot/mismatch.py)."""

from __future__ import annotations

from qa_bot.mismatch import (
    asked_extreme,
    asks_most,
    only_in_contrast,
    other_kind,
    other_time,
    says_extreme,
    says_most,
    time_points,
)


def test_a_sentence_on_another_one_of_what_the_question_names() -> None:
    question = "В каком году пустили Тульский оружейный завод?"
    assert other_kind(question, "Первый отечественный оружейный завод пустили в 1712 году.")
    assert not other_kind(question, "Тульский оружейный завод пустили в 1712 году.")
    assert not other_kind(question, "Оружейный завод в Туле пустили в 1712 году.")  # no other kind of it
    # the proper adjective elsewhere in the sentence does not make its noun the asked one
    assert other_kind(
        "Что купил Тульский автомобильный завод?", "Станки купили Ижевский завод и Тульское депо."
    )
    assert not other_kind(question, "Первый отечественный оружейный завод пустили в 1712 году.", "Тула")
    # in the article on «Ладожское озеро» a bare «озеро» is that lake, not the asked one
    onega = "В каком месяце замерзает Онежское озеро?"
    assert other_kind(onega, "Прибрежные участки озера замерзают в декабре.", "Ладожское озеро")
    assert not other_kind(onega, "Прибрежные участки озера замерзают в декабре.", "Онежское озеро")
    assert not other_kind(onega, "Прибрежные участки озера замерзают в декабре.")
    # what a which-question asks about is named by a narrower kind: «какого российского» — «Тульского»
    assert not other_kind(
        "Продукция какого Уральского завода нужна Туле?", "Туле нужна продукция Тагильского завода."
    )
    assert not other_kind(
        "Какой город стоит на белорусской границе?", "Город стоит на польской границе."
    )  # lower case


def test_a_question_after_the_most_of_something_wants_a_superlative_in_the_answer() -> None:
    assert asks_most("Какая самая высокая гора края?") and asks_most("Какая гора самая высокая?")
    assert asks_most("Как называется крупнейший остров озера?") and asks_most("Какой наиболее древний город?")
    # a superlative describing what the question is about, or in its predicate, asks nothing
    assert not asks_most("Какую долю воды хранит самое глубокое озеро?")
    assert not asks_most("Какая продукция пользуется наибольшим спросом?")
    assert not asks_most("Какая гора стоит над городом?")
    assert says_most("Крупнейший остров — Валаам.") and says_most("Это самый большой остров.")
    assert says_most("Здесь наиболее древние постройки.")
    assert not says_most("Город стоит на высоком берегу, на горах.")


def test_a_question_after_the_first_or_last_one_wants_an_answer_that_says_so() -> None:
    assert asked_extreme("Как звали первого ректора университета?") == "первый"
    assert asked_extreme("Когда прошёл последний чемпионат мира?") == "последний"
    assert asked_extreme("Кто стал первым русским профессором химии?") == "первый"  # adjectives between
    assert asked_extreme("Кто был ректором университета?") is None
    assert says_extreme("первый", "Сталь здесь впервые выплавили в 1890 году.")
    assert says_extreme("первый", "Первый чемпионат прошёл в Хельсинки.")
    assert not says_extreme("первый", "Лобачевский был ректором университета.")


def test_what_a_sentence_names_only_after_in_contrast_to_it_is_not_about() -> None:
    text = "В каждой команде 11 игроков. В отличие от регби, в футболе нельзя брать мяч руками."
    terms = ["игрок", "команда", "регби"]
    assert only_in_contrast("Сколько игроков в команде по регби?", terms, text) == ["регби"]
    assert only_in_contrast("Сколько игроков в команде?", ["игрок", "команда"], text) == []
    # a question about the difference itself wants that sentence
    assert only_in_contrast("Чем футбол отличается от регби?", ["футбол", "регби"], text) == []
    assert only_in_contrast("Что нельзя в футболе, в отличие от регби?", ["футбол", "регби"], text) == []
    assert only_in_contrast("Сколько игроков в регби?", ["игрок", "регби"], "В регби 15 игроков.") == []


def test_months_and_years_a_text_names_and_an_answer_about_another_time() -> None:
    assert time_points("Лёд сходит в апреле, а в 1985 году — в мае; глубина 1642 м.") == {
        ("month", "апрель"),
        ("month", "май"),
        ("year", "1985"),
    }  # «1642 м» is no year
    climate = "Средняя температура января −10 °C, июля — +20 °C."
    assert other_time("Какая температура в апреле?", climate, climate)
    assert not other_time("Какая температура в июле?", climate, climate)
    assert not other_time("Какая температура зимой?", climate, climate)  # no month asked
    # another year in the answer, the asked one only in a neighbour: the answer may well be about it
    assert other_time("Сколько туристов было в 2019 году?", "В 2023 году приехали 4 млн туристов.", "")
    assert not other_time(
        "Сколько туристов было в 2019 году?", "В 2023 году — 4 млн.", "А в 2019 году — 3 млн."
    )
    assert not other_time(
        "Сколько туристов было в 2019 году?", "Город посещают 4 млн туристов.", ""
    )  # no year told
