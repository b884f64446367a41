"""The answer slot of quantity and person questions: a number must count what was asked, a name must hold
the asked role. Sentences here are made up; the word lists are general Russian (data/answer_slots.json)."""

from __future__ import annotations

from qa_bot.questions import answer_type
from qa_bot.slots import (
    Slot,
    asked_attribute,
    asked_events,
    asked_focus,
    asked_named,
    asked_role,
    asked_slot,
    attribute_of_terms,
    event_of_other,
    event_tenses,
    fills,
    fills_role,
    gives_other,
    names_as,
    names_instance,
    same_event,
)


def test_what_a_quantity_question_counts() -> None:
    assert asked_slot("Сколько жителей в городе?") == Slot("count", "житель", True)
    assert asked_slot("Сколько новых станков купили?") == Slot("count", "станок", False)  # adjective skipped
    # a substantivised adjective is the counted thing when no noun follows it; a pronoun («всего») is not
    assert asked_slot("Сколько пострадавших было доставлено в больницу?") == Slot("count", "пострадать", True, True)
    assert asked_slot("Сколько всего было построено?") is None
    # a fraction or a percentage of something is not a count of it
    seals = asked_slot("Сколько тюленей живёт в озере?")
    assert fills(seals, "В озере живут 100 тыс. тюленей.")
    assert not fills(seals, "В озере обитает 2600 видов, и около двух третей из них — эндемики.")
    assert not fills(asked_slot("Сколько жителей в городе?"), "20 % жителей — пенсионеры.")
    # a physical quantity wants a number in its units
    mass, length, heat = Slot("measure", "mass"), Slot("measure", "length"), Slot("measure", "temperature")
    assert asked_slot("Сколько весит слон?") == mass == asked_slot("Какова масса мяча?")
    assert fills(mass, "Взрослый слон весит до 6 т.") and fills(mass, "Масса — 100 килограммов.")
    # a unit asked by name is a measure: any unit of it answers («На сколько километров …?» — «на 1,5 км»)
    assert asked_slot("На сколько километров отошла колонна?") == length
    assert fills(length, "Колонна отошла на 1,5 км.") and not fills(length, "Колонна отошла через 2 часа.")
    assert fills(asked_slot("Сколько раз его выдвигали на премию?"), "Его трижды выдвигали на премию.")
    assert not fills(mass, "В стаде 12 слонов, им 6 лет.")
    assert asked_slot("Какова глубина озера?") == length == asked_slot("Какая длина у моста?")
    assert fills(length, "Глубина озера — 230 м.") and not fills(length, "В озеро впадают 35 рек.")
    assert asked_slot("Какова температура воды?") == heat
    assert fills(heat, "Летом вода прогревается до 20 °C.") and not fills(heat, "Озеро замерзает в декабре 2020 года.")
    assert not fills(asked_slot("Сколько пострадавших доставлено?"), "Авария случилась в 2019 году.")
    assert fills(asked_slot("Сколько пострадавших доставлено?"), "В больницу доставили 14 человек.")
    assert not fills(asked_slot("Сколько пострадавших доставлено?"), "На учения вышли 300 солдат.")  # not «пострадавших»
    assert asked_slot("Какое количество вагонов отправили?") == Slot("count", "вагон", False)
    assert asked_slot("Сколько стоит билет?") == Slot("money")  # «стоит», a verb of price
    assert asked_slot("А сколько он зарабатывает?") == Slot("money")  # a pronoun between
    assert asked_slot("Какая зарплата у директора?") == Slot("money")
    assert asked_slot("Какой доход компании в рублях?") == Slot("money")
    assert asked_slot("Какую долю рынка занимает фирма?") == Slot("share")
    assert asked_slot("На сколько вырос экспорт?") is None  # a growth: any figure may answer
    assert asked_slot("Какой объём добычи?") is None
    assert asked_slot("Кто директор завода?") is None


def test_a_number_answers_only_when_it_counts_the_asked_thing() -> None:
    people = Slot("count", "житель", True)
    assert not fills(people, "Программа продлена до 2030 года и охватывает город.")  # years, not people
    assert fills(people, "В городе живут около 650 тыс. человек.")  # «человек» counts any animate noun
    assert not fills(people, "Завод выпустил 40 тыс. станков.")
    # «N человек» counts people as such, or the asked ones where the sentence names them, not any people noun
    generals = asked_slot("Сколько генералов погибло в битве?")
    assert not fills(generals, "Потери армии составили около 30 тыс. человек.")
    assert fills(generals, "Погибли 12 генералов.") and fills(generals, "Из генералов погибли 12 человек.")
    assert fills(asked_slot("Сколько пострадавших доставлено?"), "В больницу доставлены 35 человек.")
    assert fills(asked_slot("Сколько туристов приезжает в город?"), "Сюда приезжают 3 млн человек в год.")  # a crowd
    # another kind of people is not what was asked: «12 учеников» does not count children
    assert not fills(asked_slot("Сколько детей было у учёного?"), "Его отобрали в числе 12 лучших учеников.")
    assert fills(asked_slot("Сколько детей было у учёного?"), "У него было 6 детей.")
    # a number in a unit measures the unit's complement; a year does not count what follows it
    power = asked_slot("Сколько электроэнергии нужно заводу?")
    assert fills(power, "На тонну уходит 15 тыс. кВт·ч электроэнергии.") and not fills(power, "В 2025 году электроэнергия подорожала.")
    # what is counted one by one is not counted by a figure in a unit of measure beside it; a mass noun is measured
    hills = asked_slot("Сколько холмов в парке?")
    assert hills is not None and hills.plural
    assert not fills(hills, "Площадь парка без холмов — 40 га, а вместе с холмами — около 52 га.")
    assert fills(hills, "В парке около 30 холмов.") and fills(hills, "Холмов — 30.")
    sand = asked_slot("Сколько песка добывают за год?")
    assert sand is not None and not sand.plural and fills(sand, "Добыча песка превышает 5 млн т в год.")
    # a year dates, it does not count years; «лет» and «год» after a count do
    years = asked_slot("Сколько лет живут совы?")
    assert not fills(years, "Первую сову здесь увидели в 1703 году.")
    assert fills(years, "Совы живут до 20 лет.") and fills(years, "Старейшая прожила 21 год.") and fills(years, "За 1000 лет.")
    wagons = Slot("count", "вагон", False)
    assert fills(wagons, "Около 3 тыс. единиц нуждаются в замене.")  # a generic counter
    assert fills(wagons, "Отправлено 120 новых вагонов.")
    assert not fills(wagons, "Белорусские 558-й и 407-й заводы работают по Ил-76.")  # ordinals, model names
    assert fills(Slot("count", "раз", False), "Он дважды выигрывал турнир.")  # a numeral adverb
    population = asked_slot("Какова численность населения города?")
    assert population is not None and fills(population, "Население — 1,2 млн.")  # the noun before the figure
    assert fills(population, "В городе живут 600 тыс. человек.") and not fills(population, "Основан в 1812 году.")
    assert fills(Slot("money"), "Объём торговли довели до полумиллиарда долларов.")
    assert not fills(Slot("money"), "Поставят 120 автобусов.")
    assert fills(Slot("share"), "Завод выпускает 95 % продукции отрасли.")
    assert fills(Slot("share"), "Это станет 100-процентной победой.")
    assert not fills(Slot("share"), "Поставят 120 автобусов.")


def test_a_person_question_names_a_role_the_answer_must_hold() -> None:
    role = asked_role("Кто председатель Тверского облисполкома?")
    assert role is not None and role.head == "председатель"
    assert asked_role("Кто такой Иван Петров?") is None and asked_role("Кто встречался с министром?") is None

    def knows(lemma: str) -> bool:
        return True  # every word known to the collection

    assert not fills_role(role, "Председатель Курского облисполкома Иван Петров сказал …", knows)  # other body
    assert fills_role(role, "Председатель Тверского облисполкома Иван Петров сказал, что …", knows)
    assert not fills_role(role, "Иван Петров, директор завода, сказал, что …", knows)
    # a named body is set apart by another name, not by a common adjective («этого», «нового»); an unnamed one
    # by any other adjective
    assert fills_role(role, "Председателем нового облисполкома стал Иван Петров.", knows)
    district = asked_role("Кто председатель районного совета?")
    assert district is not None
    assert not fills_role(district, "Председатель городского совета Иван Петров сказал …", knows)
    # a head word the collection does not know may be a paraphrase: not held against the sentence
    head = asked_role("Кто является главой правительства области?")
    assert head is not None
    assert fills_role(head, "Иван Петров, председатель правительства области.", lambda t: t != "глава")
    # … or its verb; a specific office no document names is filled by no one
    founder = asked_role("Кто основатель компании?")
    assert founder is not None and fills_role(founder, "Компанию основал Иван Петров.", lambda t: t != "основатель")
    first = asked_role("Кто был первым мэром города?")
    assert first is not None and first.head == "мэр"  # the adjective before the office skipped
    assert not fills_role(first, "Первым профессором стал Иван Петров.", lambda t: t != "мэр")
    rector = asked_role("Кто был первым ректором академии?")
    assert rector is not None and rector.qualifiers == {"первый"}
    assert not fills_role(rector, "Ректором академии был Иван Петров.", knows)  # not said to be the first
    assert fills_role(rector, "Первым ректором академии стал Иван Петров.", knows)


def test_a_misspelt_question_word_still_asks_its_kind() -> None:
    assert answer_type("Сколко вагонов отправили?") == "number"
    assert answer_type("Кагда откроют музей?") == "date"
    assert answer_type("Какие машины ездят?") is None


def test_the_noun_a_which_question_asks_about() -> None:
    assert asked_focus("Какие виды станков выпускает завод?") == "станок"  # «вид» names a kind: its noun is asked
    assert asked_focus("Какой тип двигателя стоит на тракторе?") == "двигатель"
    assert asked_focus("Какие белорусские города упоминаются?") == "город"  # adjectives skipped
    assert asked_focus("На какой выставке показали технику?") == "выставка"
    assert asked_focus("Кто директор завода?") is None
    assert asked_focus("Какой была погода?") is None  # no noun right after the which-word



def test_a_sentence_giving_the_asked_attribute_of_something_else() -> None:
    copper = asked_attribute("Какова плотность меди?")
    assert copper is not None and copper.noun == "плотность" and copper.of == ("медь",)
    assert gives_other(copper, "Плотность железа — 7,9 г/см³.")
    assert not gives_other(copper, "Плотность меди — 8,9 г/см³, больше плотности железа.")  # one mention is of copper
    assert not gives_other(copper, "Железо тяжелее воды.")  # the attribute is not stated at all
    boiling = asked_attribute("Какова температура кипения ртути?")
    assert boiling is not None and boiling.of == ("кипение", "ртуть")
    assert gives_other(boiling, "Температура плавления ртути — минус 39 °C.")
    assert not gives_other(boiling, "Температура кипения ртути — 357 °C.")
    # a mention with no noun of its own is of the article's topic: another thing's, unless the question names it
    copper_melts = asked_attribute("Какова температура плавления меди?")
    melts = "Металл плавится при температуре 420 °C."
    assert copper_melts is not None and gives_other(copper_melts, melts, frozenset({"цинк"}))
    assert not gives_other(copper_melts, melts, frozenset({"медь"})) and not gives_other(copper_melts, melts)
    # a proper name taken up by a common noun is the same thing; another name is not
    onega = asked_attribute("Какова площадь Онеги?")
    assert onega is not None and not gives_other(onega, "Площадь озера — 9700 км².")
    assert gives_other(onega, "Площадь Ладоги — 17 700 км².")
    river = asked_attribute("Какова длина реки Шексны?")
    assert river is not None and gives_other(river, "Главный приток — река Суда длиной 184 км.")
    assert not gives_other(river, "Шексна длиной 139 км впадает в Волгу.")
    assert asked_attribute("Какой завод выпускает краны?") is None  # no noun after the asked one
    # a question in another language: its Russian terms in order, a measure noun first
    melting = attribute_of_terms(["температура", "плавление", "медь"])
    assert melting is not None and melting.noun == "температура" and melting.of == ("плавление", "медь")
    assert attribute_of_terms(["открыть", "титан"]) is None and attribute_of_terms(["глубина"]) is None
    # only a genitive noun is what the attribute belongs to: «Ломоносов» is the subject of «учился»
    assert asked_attribute("У какого учителя Ломоносов учился в Марбурге?") is None


def test_the_event_a_question_asks_about() -> None:
    assert asked_events("Когда закрыли старую верфь?") == ["закрыли"]
    assert asked_events("Кто построил мост через реку?") == ["построил"]
    assert asked_events("Когда был основан монастырь?") == ["основан"]  # a participle tells of an event too
    # linking, existential, naming, modal and reporting verbs tell of none
    assert asked_events("Где находится верфь?") == []
    assert asked_events("Как называется верфь?") == []
    assert asked_events("Что сказал директор верфи?") == []
    assert asked_events("Кто является директором верфи?") == []
    assert asked_events("Когда Бутаков стал директором верфи?") == ["стал"]  # becoming one is an event
    assert asked_events("Кто такой Раман Бутаков?") == []  # a capitalised word is a name, even a misspelt one
    # aspect pairs and derivations are one event; different verbs are not
    assert same_event("обсуждать", "обсудить") and same_event("открыть", "открытый")
    assert same_event("продвигать", "продвижение")
    assert not same_event("закрыть", "закупать") and not same_event("построить", "поставить")


def test_the_tense_a_text_tells_an_event_in() -> None:
    assert event_tenses("Сколько станков уже поставлено?", ["поставить"]) == {"past"}
    assert event_tenses("Завод поставит 40 станков.", ["поставить"]) == {"futr"}
    assert event_tenses("Будет поставлено 40 станков.", ["поставить"]) == {"futr"}
    assert event_tenses("Завод поставляет станки.", ["поставить"]) == {"pres"}
    assert event_tenses("Планируется поставить станки.", ["поставить"]) == set()  # an infinitive tells no tense


def test_a_sentence_names_the_asked_thing_in_common_words_by_apposition_or_a_naming_word() -> None:
    assert names_as("пигмент", "Руда идёт на производство диоксида титана, белого пигмента для красок.")
    assert names_as("пигмент", "Самый распространённый пигмент — диоксид титана.")
    assert names_as("пигмент", "Этот пигмент называют титановыми белилами.")
    assert not names_as("пигмент", "Белый пигмент добавляют в краски и бумагу.")  # no name given
    assert not names_as("пигмент", "Руда идёт на производство красок, бумаги и пластмасс.")  # no pigment


def test_a_sentence_names_one_of_what_a_which_question_asks_about_in_quotes() -> None:
    assert names_instance("выставка", 'Заводы показали на выставке "Экспо-Урал" новые станки.')
    assert names_instance("компания", "Договор подписан с компанией «Росток».")
    assert names_instance("завод", "Станки закупил Северный завод «Вектор».")  # adjectives before the noun
    assert not names_instance("выставка", "На выставке показали новые станки.")  # no name given
    assert not names_instance("выставка", 'Компания "Росток" показала новые станки.')  # a name, not of an exhibition


def test_the_thing_a_name_question_asks_the_name_of() -> None:
    assert asked_named("Как называется столица края?") == "столица"
    assert asked_named("Как называлась крепость у истока реки?") == "крепость"
    assert asked_named("Как называется белый пигмент из руды?") == "пигмент"  # adjectives skipped
    assert asked_named("Какое название у крупнейшего притока?") == "приток"  # the noun after the preposition
    assert asked_named("Кто директор верфи?") is None


def test_an_event_told_only_as_a_participle_of_another_thing_is_not_the_asked_one() -> None:
    founded = ["основать"]
    # the date is the museum's, not the theatre's or the plant's
    assert event_of_other("Когда был основан старый театр?", "На площади стоит музей Усадьба, основанный в 1870 году.", founded)
    assert event_of_other("Когда основали пивной завод?", "Городской музей, основанный в 1804 году, — старейший в крае.", founded)
    # the asked thing itself, a name that may be what the question calls «город», the article's own topic
    assert not event_of_other("Когда основан музей?", "Городской музей, основанный в 1804 году, — старейший.", founded)
    assert not event_of_other("Когда основан город?", "Тверь, основанная в 1135 году, стоит на Волге.", founded)
    assert not event_of_other("Когда его основали?", "Музей, основанный в 1804 году.", founded, frozenset({"музей"}))
    # told as a verb, or not told at all
    assert not event_of_other("Когда основали завод?", "Музей основали в 1804 году.", founded)
    assert event_of_other("Когда основали завод?", "Музей стоит на площади.", founded) is None
