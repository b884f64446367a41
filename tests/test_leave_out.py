"""Questions about a document the collection does not hold (qa_bot/evaluation/leave_out.py): over two
invented look-alike documents, each one's questions are refused once it is left out, and answered while
it is in."""

from __future__ import annotations

from pathlib import Path

from support import make_settings

from qa_bot.evaluation.gold import GoldItem
from qa_bot.evaluation.leave_out import left_out
from qa_bot.evaluation.runner import evaluate

# Invented for this test: two ports, the same vocabulary, different places, people and figures.
NORTH = (
    "Северный порт расширяет причалы\n\n"
    "Северный морской порт в Архангельске расширяет причалы и закупает новые краны. "
    "Директор порта Иван Соколов сообщил, что грузооборот за год вырос на 12 процентов.\n"
)
SOUTH = (
    "Южный порт закупил краны\n\n"
    "Южный морской порт в Новороссийске закупил четыре портальных крана. "
    "Главным грузом порта директор Пётр Волков назвал зерно, которое идет на экспорт.\n"
)


def _item(n: str, question: str, source: str, fact: str) -> GoldItem:
    return GoldItem(n, question, True, (source,), (fact,), "", split="dev")


def test_questions_about_a_document_left_out_are_refused(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "north.txt").write_text(NORTH, encoding="utf-8")
    (docs / "south.txt").write_text(SOUTH, encoding="utf-8")
    items = [
        _item("n1", "Кто директор порта в Архангельске?", "north", "Соколов"),
        _item("n2", "На сколько вырос грузооборот архангельского порта?", "north", "12 процентов"),
        _item("s1", "Сколько кранов закупил порт в Новороссийске?", "south", "четыре"),
    ]
    settings = make_settings(tmp_path, embedding_model="e5-small")
    [whole] = evaluate(settings, items, [docs])
    assert not any(it["refused"] for it in whole.items), [it["answer"] for it in whole.items]
    results = left_out(settings, items, [docs])
    assert [(doc, it["id"]) for doc, it in results] == [("north", "n1"), ("north", "n2"), ("south", "s1")]
    assert all(it["refused"] for _, it in results), [it["answer"] for _, it in results]
