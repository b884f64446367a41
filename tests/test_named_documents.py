"""Questions that name things, over two invented look-alike documents (e5-small, offline): the answer comes
from the document that names what the question names; a question naming both gets both; a follow-up stays
in the conversation's document unless it names another; English words are read as the Russian the
collection uses (english.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import make_settings, small_collection

from qa_bot.answer import Answerer
from qa_bot.embed import load_embedder
from qa_bot.english import equivalents, phrases
from qa_bot.index import update_index
from qa_bot.ingest import is_dateline
from qa_bot.retrieve import Retriever

# Invented for this test: two ports, the same vocabulary, different places, people and figures.
NORTH = (
    "Северный порт расширяет причалы\n\n"
    "АРХАНГЕЛЬСК, 3 марта. Северный морской порт в Архангельске расширяет причалы и закупает новые краны. "
    "Директор порта Иван Соколов сообщил, что грузооборот за год вырос на 12 процентов. "
    "Новый причал для лесовозов откроют в мае, его строительство обойдется в 2 млрд рублей. "
    "Главным грузом порта остаются пиломатериалы.\n"
)
SOUTH = (
    "Южный порт закупил краны\n\n"
    "НОВОРОССИЙСК, 5 марта. Южный морской порт в Новороссийске закупил четыре портальных крана. "
    "Грузооборот порта за год вырос на 7 процентов, сообщил директор Пётр Волков. "
    "Главным грузом порта он назвал зерно, которое идет на экспорт.\n"
)


@pytest.fixture(scope="module")
def ports(tmp_path_factory: pytest.TempPathFactory) -> Answerer:
    return small_collection(tmp_path_factory.mktemp("ports"), {"north.txt": NORTH, "south.txt": SOUTH})


def test_the_answer_comes_from_the_document_naming_the_place(ports: Answerer) -> None:
    for place, person, doc in (("Новороссийске", "Волков", "south"), ("Архангельске", "Соколов", "north")):
        answer = ports.answer(f"Кто директор порта в {place}?")
        assert not answer.refused and person in answer.answer, answer.answer
        assert {c.doc_id for c in answer.citations} == {doc}


def test_a_question_naming_both_places_is_answered_from_both_documents(ports: Answerer) -> None:
    answer = ports.answer("На сколько вырос грузооборот порта в Архангельске и в Новороссийске?")
    assert not answer.refused
    assert "12 процентов" in answer.answer and "7 процентов" in answer.answer, answer.answer
    assert {c.doc_id for c in answer.citations} == {"north", "south"}


def test_a_place_no_document_names_is_refused_with_its_name(ports: Answerer) -> None:
    answer = ports.answer("Кто директор порта в Мурманске?")
    assert answer.refused and "Мурманске" in (answer.notice or "")


def test_a_follow_up_stays_in_the_conversations_document_unless_it_names_another(ports: Answerer) -> None:
    history = ["Кто директор порта в Архангельске?"]
    same = ports.answer("А какой у порта главный груз?", history)
    assert "пиломатериалы" in same.answer and {c.doc_id for c in same.citations} == {"north"}, same.answer
    other = ports.answer("А какой главный груз у порта в Новороссийске?", history)
    assert "зерно" in other.answer and {c.doc_id for c in other.citations} == {"south"}, other.answer


def test_english_words_become_the_russian_the_collection_uses(ports: Answerer) -> None:
    assert "порт" in equivalents("ports") and "расти" in equivalents("grew")  # inflections and irregular forms
    assert equivalents("qwertyuiop") == ()
    assert [(s, e) for s, e, _ in phrases(["how", "much", "did", "the", "cargo", "turnover", "grow"])][-1][1] == 7
    terms = ports.retriever.query_terms("Who is the director of the port in Novorossiysk?")
    assert {"директор", "порт"} <= set(terms) and "новороссийск" in terms, terms
    answer = ports.answer("Who is the director of the port in Novorossiysk?")
    assert not answer.refused and "Волков" in answer.answer and answer.citations[0].doc_id == "south", answer.answer


def test_an_amount_asked_by_its_noun_wants_money(ports: Answerer) -> None:
    """«Какой бюджет …» asks for an amount of money, though no question word says «сколько»."""
    cost = ports.answer("Какой бюджет у строительства нового причала в Архангельске?")
    assert not cost.refused and "2 млрд рублей" in cost.answer, cost.answer
    for question in ("Какой бюджет у закупки портальных кранов южным портом?", "Какая выручка у порта в Новороссийске?"):
        assert ports.answer(question).refused, question  # only a count of cranes there, no money


def test_a_number_no_document_mentions_is_refused_with_it(ports: Answerer) -> None:
    answer = ports.answer("Когда откроют причал номер 47 в Архангельске?")
    assert answer.refused and "47" in (answer.notice or ""), (answer.answer, answer.notice)
    known = ports.answer("Что выросло на 12 процентов?")  # a number the documents do mention
    assert not known.refused and "12 процентов" in known.answer
    assert {c.doc_id for c in known.citations} == {"north"}


def test_a_place_typed_in_lower_case_that_no_document_mentions_is_refused_with_it(ports: Answerer) -> None:
    # the ports' documents name Архангельск and Новороссийск, not Мурманск: a casual question is still about it
    for question in ("скока кранов закупил порт в мурманске", "Что закупил мурманский порт?"):
        answer = ports.answer(question)
        assert answer.refused and "мурман" in (answer.notice or "").lower(), (question, answer.answer, answer.notice)
    known = ports.answer("скока кранов закупил порт в новороссийске")
    assert not known.refused and "четыре" in known.answer, known.answer


def test_an_english_place_no_document_mentions_is_refused_with_it(ports: Answerer) -> None:
    answer = ports.answer("How many cranes did the port in Murmansk buy?")
    assert answer.refused and "Murmansk" in (answer.notice or ""), (answer.answer, answer.notice)
    known = ports.answer("How many cranes did the port in Novorossiysk buy?")
    assert not known.refused and {c.doc_id for c in known.citations} == {"south"}, known.answer


def test_a_question_about_an_article_no_document_tells_of_is_refused(ports: Answerer) -> None:
    for question in ("Когда опубликована статья о порте Мурманска?", "Когда вышла статья про погоду в Архангельске?"):
        assert ports.answer(question).refused, question
    dated = ports.answer("Когда опубликована статья о кранах в Новороссийске?")
    assert not dated.refused and dated.citations[0].doc_id == "south", dated.answer


def _evidence(answerer: Answerer, question: str):  # noqa: ANN202 - the refusal policy's view of the answer
    query, context, hits = answerer._retrieve(question, [], answerer.settings.top_k, None)
    found = answerer.extraction(question, hits, context)
    assert found is not None
    return answerer.evidence(question, hits, found), found


def test_a_date_beside_another_event_does_not_answer_when(ports: Answerer) -> None:
    # the southern port's document is dated, but it does not widen its berths: the northern one does
    missing, found = _evidence(ports, "Когда порт в Новороссийске начнёт расширять причалы?")
    assert missing.event_missing == 1.0, found.answer
    assert ports.answer("Когда порт в Новороссийске начнёт расширять причалы?").refused
    said, found = _evidence(ports, "Когда откроют новый причал в Архангельске?")
    assert said.event_missing == 0.0 and "в мае" in found.answer, found.answer
    assert not ports.answer("Когда откроют новый причал в Архангельске?").refused


def test_a_name_question_wants_the_thing_named_in_the_answer(ports: Answerer) -> None:
    evidence, found = _evidence(ports, "Как называется ледокол порта в Архангельске?")
    assert evidence.focus_missing == 1.0, found.answer
    evidence, found = _evidence(ports, "Как называется порт в Новороссийске?")
    assert evidence.focus_missing == 0.0, found.answer


def test_a_dateline_dates_the_report_not_the_facts_in_it(ports: Answerer) -> None:
    assert is_dateline("НОВОРОССИЙСК, 5 марта.") and is_dateline("МОСКВА, 7 октября 2025 г.")
    assert not is_dateline("Новый причал откроют 5 марта.") and not is_dateline("ЕАЭС, 3 страны.")
    # the southern report says when it was filed, not when the cranes were bought
    answer = ports.answer("Когда порт в Новороссийске закупил краны?")
    assert "5 марта" not in answer.answer, answer.answer



def test_what_is_still_to_come_does_not_answer_what_has_happened(ports: Answerer) -> None:
    planned = ports.answer("Когда откроют новый причал для лесовозов?")
    assert not planned.refused and "мае" in planned.answer, planned.answer
    done = ports.answer("Когда открыли новый причал для лесовозов?")
    assert done.refused, done.answer  # the document says it will open in May, not that it has


def test_the_reason_before_a_consequence_is_taken_from_the_passage_before(tmp_path: Path) -> None:
    # «Поэтому …» opens a passage of its own: why is the last sentence of the passage before it
    docs = tmp_path / "docs"
    docs.mkdir()
    text = (
        "Плавильный завод\n\n"
        "Плавка металла в электропечах требует огромного количества электроэнергии.\n\n"
        "Поэтому плавильные заводы строят рядом с мощными плотинами на больших реках.\n\n"
        "Готовый металл отправляют на склады в порту по железной дороге.\n"
    )
    (docs / "plant.txt").write_text(text, encoding="utf-8")
    settings = make_settings(tmp_path, embedding_model="e5-small", docs_dir=docs, chunk_size=100, chunk_overlap=0)
    embedder = load_embedder(settings)
    index, _ = update_index(settings, embedder, [docs])
    answerer = Answerer(Retriever(index, embedder), None, settings)
    passages = index.chunks_of(["plant"])
    assert not any("Плавка" in c.text and "Поэтому" in c.text for c in passages)  # the two are apart
    answer = answerer.answer("Почему плавильные заводы строят рядом с плотинами?")
    assert not answer.refused, answer.answer
    assert answer.answer.index("электроэнергии") < answer.answer.index("Поэтому"), answer.answer
    assert any("электроэнергии" in c.quote for c in answer.citations), answer.citations


# Invented for this test: a verb the collection never uses («спорить») is told by its noun («спора»), while the
# question's other event («уволиться») is only in another document
MUSEUM = (
    "Музей в Томске закрыли на ремонт\n\n"
    "ТОМСК, 2 апреля. Городской музей в Томске закрыли на ремонт. "
    "В 2019 году директор музея Анна Белова ушла с поста из-за спора с мэром Олегом Кравцовым о бюджете. "
    "Ремонт обойдется в 40 млн рублей.\n"
)
THEATRE = (
    "В Омске сменился директор театра\n\n"
    "ОМСК, 4 апреля. Директор драматического театра в Омске уволился после двадцати лет работы. "
    "Новым директором стал Илья Гром.\n"
)


def test_an_event_the_collection_tells_only_by_its_noun_is_beside_the_answer(tmp_path: Path) -> None:
    answerer = small_collection(tmp_path, {"museum.txt": MUSEUM, "theatre.txt": THEATRE})
    evidence, found = _evidence(answerer, "С кем спорила Белова, когда уволилась из музея?")
    assert evidence.event_missing == 0.0 and "Кравцов" in found.answer, found.answer


def test_an_english_name_is_read_as_the_collections_word_not_as_a_spelling_fix_of_another(tmp_path: Path) -> None:
    # invented: «Nizhny» reads «нижны», which the spelling fix would take to «нужный» (in the text as «нужны»)
    answerer = small_collection(tmp_path, {"tagil.txt": (
        "Завод в Нижнем Тагиле\n\nНИЖНИЙ ТАГИЛ, 5 мая. Завод в Нижнем Тагиле выпустил за год 300 вагонов. "
        "Директор сказал, что заводу нужны новые станки, а нужные детали закупят осенью.\n"
    )})  # fmt: skip
    question = "How many wagons did the plant in Nizhny Tagil make?"
    assert answerer.retriever.name_terms(question) == ["нижний", "тагил"]
    answer = answerer.answer(question)
    assert not answer.refused and "300 вагонов" in answer.answer, (answer.answer, answer.notice)
