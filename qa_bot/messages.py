"""Every Russian sentence the answering pipeline says to a user, in one place."""

from __future__ import annotations

EMPTY_QUESTION = "Вопрос пуст: напишите, что вы хотите узнать из документов."

NOT_RUSSIAN = "Без языковой модели вопрос не переводится, а документы на русском: задайте его по-русски."

LLM_UNGROUNDED = "Ответ модели не опирался на источники, поэтому показан ответ из цитат документов."


def question_cut(length: int, limit: int) -> str:
    return f"Вопрос слишком длинный ({length} символов при пределе {limit}): он сокращён до последнего целого слова."


def not_mentioned(names: list[str]) -> str:
    return "В документах не упоминается: " + ", ".join(dict.fromkeys(names)) + "."


def llm_fallback(why: str) -> str:
    """why: "timeout", "missing", "unavailable" or "error"."""
    reason = {
        "timeout": "языковая модель не ответила вовремя",
        "missing": "языковая модель не установлена",
        "unavailable": "языковая модель недоступна",
    }.get(why, "языковая модель ответила с ошибкой")
    return f"{reason.capitalize()}, поэтому ответ составлен из цитат документов."


def no_documents_for_dates(nearest: list[str]) -> str:
    text = "Документов за эти даты нет"
    return text + (f"; ближайшие: {', '.join(nearest)}." if nearest else ".")


def published(title: str, date: str) -> str:
    return f"Документ «{title}» датирован: {date}."


def reported_by(title: str, source: str) -> str:
    return f"Документ «{title}» — сообщение {source}."


def no_source(title: str) -> str:
    return f"В документе «{title}» источник не указан."


MENTIONED_IN = "Упоминается в документах:"
