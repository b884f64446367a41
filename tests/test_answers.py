"""Extractive answers a careful reader would give: the default multilingual encoder (e5-small, offline)
over the seed documents — sentence choice, answer kinds, follow-ups, dates, metadata, refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from support import ROOT, SEEDS, UDMURTIA, ULYANOVSK, make_settings, small_collection

from qa_bot.answer import Answerer
from qa_bot.citations import REFUSAL
from qa_bot.embed import Embedder, load_embedder
from qa_bot.extractive import Candidate
from qa_bot.index import update_index
from qa_bot.questions import (
    answer_type,
    clean_question,
    cyrillic_reading,
    leans_on_history,
    names_people_only,
    quoted_names,
    refers_back,
    sentence_evidence,
)
from qa_bot.refusal import Evidence, model_for
from qa_bot.retrieve import Retriever
from qa_bot.text import normalize_for_match

TODAY = date(2025, 10, 20)


@pytest.fixture(scope="module")
def e5() -> Embedder:
    return load_embedder(make_settings(Path("/nonexistent"), embedding_model="e5-small"))


@pytest.fixture(scope="module")
def answerer(tmp_path_factory: pytest.TempPathFactory, e5: Embedder) -> Answerer:
    tmp = tmp_path_factory.mktemp("e5")
    settings = make_settings(tmp, embedding_model="e5-small", docs_dir=SEEDS)
    index, _ = update_index(settings, e5, [SEEDS])
    return Answerer(Retriever(index, e5), None, settings, today=lambda: TODAY)


def said(answer_text: str, fact: str) -> bool:
    return normalize_for_match(fact) in normalize_for_match(answer_text)


@pytest.mark.parametrize(
    ("question", "doc_id", "fact"),
    [
        ("Сколько лифтов нужно заменить в Удмуртии?", UDMURTIA, "3 тыс"),
        ("Сколко лифтов нужно заменть в Удмуртии?", UDMURTIA, "3 тыс"),  # misspelt
        ("скока лифтов нада заменить в удмуртии", UDMURTIA, "3 тыс"),  # colloquial
        ("Как долго ижевский производитель обогревателей работает с белорусской компанией?", UDMURTIA, "18 лет"),
        ("На сколько вырос товарооборот Ульяновской области с Белоруссией?", ULYANOVSK, "25-30"),
        # the best sentence names the factory, the next one the kinds asked for («Это … обогреватели»)
        ("Какие виды обогревателей выпускают в Ижевске?", UDMURTIA, "инфракрасные"),
    ],
)
def test_reader_questions_answered_with_the_sentence_that_holds_the_answer(
    answerer: Answerer, question: str, doc_id: str, fact: str
) -> None:
    answer = answerer.answer(question)
    assert not answer.refused and said(answer.answer, fact), (question, answer.answer)
    assert answer.citations[0].doc_id == doc_id


def test_a_which_question_is_answered_by_the_sentence_that_names_one_in_quotes(tmp_path: Path, e5: Embedder) -> None:
    answerer = small_collection(tmp_path, embedder=e5, files={
        "expo.txt": (
            "Уральские заводы расширяют экспорт станков.\n\n"
            "Уральский станкозавод представил на выставке новый токарный станок с числовым управлением. "
            "Станок уже заказали три предприятия из Казахстана.\n\n"
            "Предприятия области были представлены на международной выставке «Металлообработка-2026». "
            "Там подписали десять контрактов.\n"
        ),
    })  # fmt: skip
    answer = answerer.answer("На какой выставке были представлены уральские предприятия?")
    assert not answer.refused and "Металлообработка-2026" in answer.answer, answer.answer


def test_in_an_undated_collection_a_year_in_the_question_is_content_not_a_filter(tmp_path: Path, e5: Embedder) -> None:
    answerer = small_collection(tmp_path, embedder=e5, files={
        "plant.txt": (
            "Комбинат на берегу озера открыли в 1966 году. Его окончательно закрыли в 2013 году из-за убытков.\n"
            "Средняя температура воды в озере в июле — около 15 °C.\n"
        ),
    })  # fmt: skip
    answer = answerer.answer("Что произошло с комбинатом в 2013 году?")  # «произошло» would make it a news filter
    assert not answer.refused and "закрыли" in answer.answer, answer.answer
    # a month the documents give nothing for, when they tell of another month: refused
    assert answerer.answer("Какая средняя температура воды в озере в январе?").refused
    assert not answerer.answer("Какая средняя температура воды в озере в июле?").refused
    assert "не существует" in answerer.answer("Что было с комбинатом 32 октября?").answer  # still an impossible date


def test_a_quoted_name_is_one_thing_that_one_document_must_name(tmp_path: Path, e5: Embedder) -> None:
    answerer = small_collection(tmp_path, embedder=e5, files={
        "hockey.txt": (
            "Крупнейшая крытая арена для хоккея — «Северная Арена» в Мурманске; она вмещает около 9 тыс. зрителей.\n"
            "Сезон длится с ноября по март.\n"
        ),
        "city.txt": (
            "Тверь — старинный город на Волге. В 2019 году на стадионе «Тверь Арена» прошёл финал кубка.\n"
        ),
    })  # fmt: skip
    # «Тверь» is in one document and «… Арена» with a capacity in the other: no document names «Тверь Арена»'s
    assert answerer.answer("Сколько зрителей вмещает «Тверь Арена»?").refused
    answer = answerer.answer("Сколько зрителей вмещает «Северная Арена»?")
    assert not answer.refused and "9 тыс" in answer.answer, answer.answer


def test_an_article_states_its_own_attribute_without_naming_itself(tmp_path: Path, e5: Embedder) -> None:
    answerer = small_collection(tmp_path, embedder=e5, files={
        "copper.txt": (
            "Медь\n\nМедь — пластичный металл красноватого цвета. Металл плавится при температуре 1085 °C и хорошо "
            "проводит ток.\n"
        ),
        "tin.txt": (
            "Олово\n\nОлово — мягкий серебристый металл, его сплав с медью называют бронзой. Температура плавления "
            "олова — 232 °C, поэтому его плавят даже на газовой плите.\n"
        ),
    })  # fmt: skip
    answer = answerer.answer("Какова температура плавления меди?")
    # the tin sentence names the attribute word for word, but of tin; the copper article says it of copper
    assert not answer.refused and "1085" in answer.answer and "232" not in answer.answer, answer.answer
    english = answerer.answer("What is the melting point of copper?")  # the same, from the Russian terms in order
    assert not english.refused and "1085" in english.answer and "232" not in english.answer, english.answer


def test_a_short_title_is_the_topic_of_every_sentence_of_its_article(tmp_path: Path, e5: Embedder) -> None:
    answerer = small_collection(tmp_path, embedder=e5, files={
        "tver.txt": (
            "Тверь\n\nТверь — город на Волге.\n\nВ XIII веке здесь правили удельные князья, и в городе строили "
            "каменные храмы. По легенде, город основан в 1135 году на месте торгового поселения.\n"
        ),
        "news.txt": (
            "Псков и Тверь подписали соглашение о туризме\n\nГорода обменяются выставками. Соглашение основано на "
            "договоре 2019 года.\n"
        ),
        "pskov.txt": (  # no title line: the lead sentence defines the topic
            "Псков (впервые упомянут в летописи) — древний город на северо-западе России при слиянии рек Великой и "
            "Псковы, с каменным кремлём и соборами.\n\nВ XV веке здесь чеканили свою монету. Город выдержал осаду "
            "в 1581 году.\n"
        ),
    })  # fmt: skip

    def sentence(question: str, start: str) -> Candidate:
        found = answerer.extraction(question, answerer.retriever.search(question))
        assert found is not None
        return next(c for c in found.chosen if c.text.startswith(start))

    # «город основан …» is read as about Тверь, the article's topic; a headline is no topic of every sentence
    founded = sentence("В каком году была основана Тверь?", "По легенде")
    assert "тверь" in founded.context and "тверь" not in founded.terms
    agreed = sentence("На каком договоре основано соглашение?", "Соглашение основано")
    assert "псков" not in agreed.context
    siege = sentence("В каком году Псков выдержал осаду?", "Город выдержал")
    assert "псков" in siege.context and "псков" not in siege.terms


def test_a_reason_is_the_sentence_after_the_one_that_restates_the_question(answerer: Answerer) -> None:
    answer = answerer.answer("Почему в Ижевске не работает мобильный интернет?")
    assert "безопасности" in answer.answer, answer.answer
    # one [n] covering two sentences quotes both of them
    (citation,) = answer.citations
    assert "мобильный интернет" in citation.quote and "безопасности" in citation.quote


def test_a_sentence_opening_with_a_pronoun_is_shown_with_the_one_it_refers_to(answerer: Answerer) -> None:
    assert refers_back("Мы с ними работаем 18 лет уже.") and refers_back("И там открыли завод.")
    assert not refers_back("Белорусская компания - один из наших партнеров.")
    # a bare common noun with its verb stands for what the sentence before named with a proper name
    before = "Например, производитель красок из Твери работает со всеми фермами."
    assert refers_back("Компания производит средства для дезинфекции.", before)
    assert not refers_back("Компания производит средства для дезинфекции.")  # no sentence before
    assert not refers_back("Компания производит средства.", "Краски нужны всем фермам.")  # it named nothing
    assert not refers_back("Производитель выпускает краски.", before)  # the same word: it names itself
    assert not refers_back("Краски производит компания.", before)  # not a subject opening the sentence
    question = "Как долго ижевский производитель обогревателей работает с белорусской компанией?"
    hits = answerer.retriever.search(question)
    found = answerer.extraction(question, hits)
    assert found is not None
    # «мы с ними»: the quoted sentence before says who «они» are, in the answer and in its [n]'s quote
    assert "Мы с ними работаем 18 лет" in found.answer and "Белорусская компания" in found.answer, found.answer
    assert found.answer.lstrip("\"«").startswith("Белорусская компания"), found.answer  # the answer leads
    assert any("Белорусская компания" in c.quote and "18 лет" in c.quote for c in found.citations)
    # … only shown: the sentence it refers to is not evidence the refusal model weighs
    assert all("Белорусская компания" not in c.text for c in found.chosen)


def test_lexical_retrieval_over_an_encoder_index_answers_with_the_model_fitted_without_similarity(
    answerer: Answerer,
) -> None:
    # RETRIEVAL_MODE=bm25 loads no encoder, so no sentence similarity: the encoder's refusal model would
    # read that as «nothing alike» and refuse every question
    index = answerer.retriever.index
    settings = answerer.settings.model_copy(update={"retrieval_mode": "bm25"})
    lexical = Answerer(Retriever(index, answerer.retriever.embedder, mode="bm25"), None, settings)
    answered = lexical.answer("Сколько автобусов МАЗ Беларусь поставит в Удмуртию?")
    assert not answered.refused and "120" in answered.answer, answered.answer
    assert lexical.answer("Какая погода будет в Минске в эти выходные?").refused


def test_quotes_are_verbatim_substrings_of_the_file(answerer: Answerer) -> None:
    answer = answerer.answer("По каким самолетам помогают 558-й и 407-й авиаремонтные заводы?")
    source = " ".join((SEEDS / f"{ULYANOVSK}.txt").read_text(encoding="utf-8").split())
    assert answer.citations and all(c.quote in source for c in answer.citations)
    assert "558‑й" in answer.citations[0].quote  # the non-breaking hyphen of the file, not a plain one


def test_questions_about_the_documents_are_answered_from_metadata(answerer: Answerer) -> None:
    published = answerer.answer("Когда опубликована статья об Ульяновской области и Белоруссии?")
    assert not published.refused and "7 октября (год не указан)" in published.answer
    assert published.citations[0].doc_id == ULYANOVSK
    dated = answerer.answer("Какая дата у статьи про Удмуртию?")
    assert "2 октября 2025" in dated.answer and dated.citations[0].doc_id == UDMURTIA
    agency = answerer.answer("Какое агентство сообщило о расширении кооперации Ульяновской области и Белоруссии?")
    assert "ТАСС" in agency.answer and agency.citations[0].doc_id == ULYANOVSK


def test_dates_in_the_question_filter_the_documents(answerer: Answerer) -> None:
    day = answerer.answer("Что обсуждали 7 октября?")
    assert not day.refused and {c.doc_id for c in day.citations} == {ULYANOVSK}
    none = answerer.answer("Что писали о Белоруссии в ноябре 2025 года?")
    assert none.refused and "Документов за эти даты нет; ближайшие: 7 октября" in none.answer
    impossible = answerer.answer("Какие новости были 32 октября?")
    assert impossible.refused and "не существует" in impossible.answer
    # relative dates count from `today`: 2025-10-20 → last week is 13-19 October, nothing dated then
    assert answerer.answer("Что писали на прошлой неделе?").refused
    # explicit bounds (CLI --since/--until) narrow the same way
    bounded = answerer.answer("На сколько вырос товарооборот?", since=date(2025, 10, 1), until=date(2025, 10, 3))
    assert {c.doc_id for c in bounded.citations} == {UDMURTIA}


def test_follow_ups_use_the_history_only_when_they_refer_back(answerer: Answerer) -> None:
    switched = answerer.answer("Кто председатель Минского горисполкома?", ["Кто министр экономики Удмуртии?"])
    assert "Кухарев" in switched.answer and switched.search_query is None
    followed = answerer.answer("А что он сказал про автомобильный завод?", ["Кто председатель Минского горисполкома?"])
    assert "автокомпонент" in followed.answer and followed.search_query


def test_an_english_question_gets_the_russian_answer_through_the_multilingual_encoder(answerer: Answerer) -> None:
    answer = answerer.answer("Until what year has the bus renewal programme in Udmurtia been extended?")
    assert not answer.refused and "2030" in answer.answer and answer.citations[0].doc_id == UDMURTIA


def test_off_topic_and_unknown_things_are_refused(answerer: Answerer) -> None:
    for question in ("Какая погода будет в Минске в эти выходные?", "Как приготовить драники?"):
        answer = answerer.answer(question)
        assert answer.refused and answer.answer == REFUSAL, (question, answer.answer)


@pytest.mark.parametrize(
    "question",
    [
        "Сколько жителей в Ижевске?",  # the documents give years and units of other things, not people
        "Какая зарплата у министра экономики Удмуртии?",  # no amount of money next to the minister
        "Сколько стоит один автобус МАЗ?",  # a count of buses is not a price
        "Кто директор Могилевского лифтового завода?",  # the plant is named, its director is not
        # «… у компании из Витебска» names no company; «Олег Златин, директор …» beside it is a person
        "Как называется витебская компания, у которой ижевский завод закупает комплектующие?",
    ],
)
def test_same_topic_questions_the_documents_do_not_answer_are_refused(answerer: Answerer, question: str) -> None:
    answer = answerer.answer(question)
    assert answer.refused and answer.answer == REFUSAL, (question, answer.answer)


def test_a_reason_that_shares_no_word_with_the_question_comes_with_the_sentence_it_explains(
    answerer: Answerer,
) -> None:
    question = "Почему в столице Удмуртии нельзя выйти в интернет через сотовую сеть?"
    found = answerer.extraction(question, answerer.retriever.search(question))
    assert found is not None and "безопасности" in found.answer and "мобильный интернет" in found.answer
    assert found.coverage > 0  # so the «no word of the question in the answer» rule does not refuse it


def test_the_model_load_is_reported_apart_from_retrieval(tmp_path: Path, answerer: Answerer) -> None:
    settings = make_settings(tmp_path, embedding_model="e5-small")
    lazy = Answerer(Retriever(answerer.retriever.index, lambda: load_embedder(settings)), None, settings)
    first, second = lazy.answer("Сколько автобусов МАЗ поставят в Удмуртию?"), lazy.answer("Кто такой Кухарев?")
    assert "load_model" in first.timings_ms and "load_model" not in second.timings_ms


def test_question_analysis() -> None:
    assert answer_type("Сколько автобусов?") == "number" and answer_type("Когда откроют дом?") == "date"
    assert answer_type("Как долго они работают?") == "duration" and answer_type("Почему закрыто?") == "reason"
    assert answer_type("Кто министр?") == "person" and answer_type("Где завод?") == "place"
    assert answer_type("Что обсуждали?") is None
    for question in ("С какого по какой год строили мост?", "В какие годы строили мост?", "Какого века собор?",
                     "В каком веке построен собор?", "В каком месяце замерзает озеро?"):  # fmt: skip
        assert answer_type(question) == "date", question
    assert answer_type("Из-за чего закрыли комбинат?") == "reason" == answer_type("С какой целью строили канал?")
    assert answer_type("Как звали первого ректора?") == "person"
    # after «Какой …», a question word behind a comma opens a relative clause; alone, it is the question
    assert answer_type("Какая рыба водится в озере, где живёт нерпа?") is None
    assert answer_type("Скажите, где находится завод?") == "place"
    assert answer_type("Когда открыли метро в городе, где родился изобретатель?") == "date"
    assert names_people_only("Олег Златин, директор завода, сказал это.")
    assert not names_people_only("Договор подписал Олег Златин с компанией «Вектор».")
    assert answer_type("Чьим именем назван университет?") == "person" == answer_type("Whose plant is it?")
    assert answer_type("Из какой страны приехал учёный?") == "place" == answer_type("На каком острове монастырь?")
    assert "date" in sentence_evidence("Собор построен в XVI веке.") and "date" not in sentence_evidence("Собор большой.")
    assert quoted_names('Кто написал «Войну и мир» и "Анну Каренину"?') == ["Войну и мир", "Анну Каренину"]
    # the question word that comes first decides; a later «когда» opens a clause
    assert answer_type("Сколько книг было издано, когда он работал в Париже?") == "number"
    assert answer_type("Кто и когда открыл остров?") == "person" and answer_type("Сколько лет длилась война?") == "duration"
    assert leans_on_history("А что он сказал?") and leans_on_history("А у Ульяновской области?")
    assert not leans_on_history("Кто председатель Минского горисполкома?")
    assert {"number", "duration"} <= sentence_evidence("Мы с ними работаем 18 лет уже.")
    assert "reason" in sentence_evidence("Все ради безопасности.")
    # a numeral in words is a number, whether pymorphy3 tags it one or it is a number noun
    assert "number" in sentence_evidence("В зале сидели шестьдесят зрителей.")
    assert "number" in sentence_evidence("Торговлю нарастят до полумиллиарда рублей.")
    assert "number" not in sentence_evidence("В зале сидели зрители.")
    assert "person" in sentence_evidence("Об этом сообщил Владимир Кухарев.")
    # a word that is first of all a common noun is a name only beside another name or an initial
    assert "person" not in sentence_evidence("Игры в программу Олимпиад так и не вошли.")
    assert "person" in sentence_evidence("Здесь учился Лев Толстой.")
    # a quoted term is a name (for «как называют …»), not someone who acts; a quoted capitalised name may be
    assert sentence_evidence("Его часто называют «малым футболом».") == {"name"}
    assert {"name", "person"} <= sentence_evidence("Заказ выполнил завод «Северный край».")
    assert cyrillic_reading("Izhevsk") == "ижевск" and cyrillic_reading("Kukharev") == "кухарев"
    # a zero-width space inside a word is not a word break; a long question is cut at a word with a notice
    assert clean_question("Удмур\u200bтии?", 100) == ("Удмуртии?", None)
    text, notice = clean_question("слово " * 300, 1000)
    assert len(text) <= 1000 and not text.endswith(" ") and "1000" in (notice or "")


def test_the_refusal_model_is_fitted_data_and_refuses_thin_evidence() -> None:
    model = model_for("e5-small")
    strong = Evidence(coverage=1.0, own_coverage=1.0, similarity=0.9, type_ok=1.0, passage_coverage=1.0,
                      unknown=0.0, russian=1.0)  # fmt: skip
    thin = Evidence(coverage=0.1, own_coverage=0.1, similarity=0.8, type_ok=0.0, passage_coverage=0.2,
                    unknown=0.7, russian=1.0)  # fmt: skip
    assert model.answers(strong) and not model.answers(thin)
    assert model_for("some/unknown-model").features == model_for("lexical").features  # no encoder feature
    assert not model.answers(Evidence(0.0, 0.5, 0.99, 1.0, 0.5, 0.0, 1.0))  # nothing of the question: refused
    # rules refuse whatever the model says: another thing's attribute, a plan for a past event, no «the most»,
    # another month or year, another one of the named thing
    for rule in ("of_other", "not_yet", "not_most", "other_time", "other_kind"):
        assert not model.answers(replace(strong, **{rule: 1.0})), rule
    assert (ROOT / "qa_bot" / "data" / "refusal_model.json").read_text(encoding="utf-8").count("dev") >= 1


def test_the_users_question_reaches_the_llm_as_asked_while_passages_are_fenced(answerer: Answerer) -> None:
    """Only documents are untrusted: a question that reads like an order is the user's own and is not hidden."""
    from qa_bot.llm.ollama_backend import OllamaBackend
    from qa_bot.prompting import answer_messages

    question = "Скажи, что выпускает завод тепловой техники? Ответь только цифрой, не говори о политике."
    hits = answerer.retriever.search(question, 3)
    messages, used = answer_messages(OllamaBackend("http://127.0.0.1:9", "m"), question, hits, 256)
    user = messages[-1]["content"]
    assert question in user and used == 3  # fenced, its orders would read «[фрагмент скрыт…]»


def test_recency_words_prefer_the_newest_documents(answerer: Answerer) -> None:
    # both seeds speak of cooperation with Belarus; the newer one (7 October) comes first only when asked for
    latest = answerer.answer("Последние новости о сотрудничестве с Белоруссией")
    assert latest.passages[0].chunk.doc_id == ULYANOVSK
    dates = [h.document.date for h in latest.passages]
    assert dates.index("--10-07") < dates.index("2025-10-02")



def test_the_sentence_going_on_about_the_same_thing_comes_when_it_tells_the_rest(tmp_path: Path, e5: Embedder) -> None:
    # invented: the target for the year is in the sentence after the growth, which refers back with «его»; in
    # the other document «к концу года» is common, so those words alone would not bring the sentence in
    trade = small_collection(tmp_path, embedder=e5, files={
        "tver.txt": "Тверская область и Беларусь подписали план\n\nТВЕРЬ, 3 марта. Несколько предприятий Тверской "
        "области приняли участие в выставке в Гомеле.\n\nТверская область заметно нарастила торговлю с Беларусью. "
        "За первые полгода товарооборот вырос на 12 %. К концу года его рассчитывают довести до 90 млн долларов. "
        "В регионе развиты деревообработка и пищевая промышленность.\n",
        "smolensk.txt": "Смоленская область и Беларусь обсудили поставки\n\nСМОЛЕНСК, 5 марта. К концу года "
        "Смоленская область получит из Беларуси 30 автобусов. В прошлом году поставки выросли, а в конце года "
        "откроют новый склад. До конца года регион планирует подписать еще два соглашения.\n",
    })  # fmt: skip
    answer = trade.answer("Какой товарооборот Тверской области с Беларусью хотят получить к концу года?")
    assert not answer.refused and said(answer.answer, "90 млн долларов"), answer.answer
    assert "деревообработка" not in answer.answer  # the sentence after that is about something else
