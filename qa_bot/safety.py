"""Documents are data, not instructions: neutralise text that tries to steer the LLM."""

from __future__ import annotations

import re
import unicodedata

REMOVED = "[фрагмент скрыт: похож на инструкцию для ИИ]"

# Phrases that address a model rather than a reader. Matched per sentence, case-insensitive.
# Kept narrow on purpose: news sentences such as «Министр дал указание подготовить программу»
# or «Теперь вы можете оплатить проезд картой» must not match.
_PATTERNS = (
    # "ignore / forget / disregard the previous instructions"
    r"игнориру\w*\s+(?:все\s+|всё\s+)?(?:предыдущ|прежн|выше|системн|данн|свои)\w*",
    (
        r"(?:забудь\w*|отбрось\w*|не\s+обращай\w*\s+внимани\w*\s+на|не\s+учитывай\w*)\s+(?:все\s+|всё\s+)?"
        r"(?:предыдущ|прежн|вышеизложенн|системн|инструкц|правил|указани)\w*"
    ),
    (
        r"(?:инструкци\w*|указани\w*|команд\w*|сообщени\w*)\s+для\s+"
        r"(?:ии|ai|нейросет\w*|модел\w*|ассистент\w*|чат-?бот\w*|бот\w*|llm|gpt)\b"
    ),
    r"\bты\s+(?:теперь|больше\s+не)\s+",
    r"\bтеперь\s+ты\s+",
    r"системн\w+\s+(?:промпт|подсказк|инструкц)\w*",
    r"ignore\s+(?:all\s+|any\s+)?(?:the\s+|your\s+|my\s+)?(?:previous|prior|above|earlier|preceding|system)\b",
    r"ignore\s+(?:all\s+|any\s+)?(?:the\s+|your\s+)?(?:instructions|rules)\b",
    (
        r"(?:disregard|forget)\s+(?:all\s+|any\s+|everything\s+)?(?:the\s+|your\s+)?"
        r"(?:previous|prior|above|earlier|preceding|instructions|rules)\b"
    ),
    r"system\s+prompt",
    r"you\s+are\s+now\s+",
    r"\bnew\s+instructions?\s*:",
    # orders that dictate the answer: «ответь, что…», «напиши слово…», «не упоминай…»
    (
        r"(?<!\w)(?:напиши|ответь|скажи|выведи|повтори|добавь|сообщи)\s*,?\s+"
        r"(?:что|слово|фразу|текст|только|ровно|пользователю|в\s+ответе|в\s+конце)\b"
    ),
    r"(?<!\w)(?:напишите|ответьте|выведите|повторите)\s*,?\s+(?:слово|фразу|только|ровно)\b",
    r"(?<!\w)не\s+(?:упоминай|ссылайся|говори|сообщай|раскрывай|цитируй)\b",
    (
        r"(?:^|[:;,]\s*|\band\s+)(?:write|say|answer|reply|respond|output|print)\s+(?:only\s+|exactly\s+)?"
        r"(?:that\b|the\s+word\b|\"|«)"
    ),
    r"\bdo\s+not\s+(?:mention|reveal|cite)\b",
    # chat-template and prompt markup
    r"</?\s*(?:system|assistant|user|документы|фрагмент)\b",
    r"<\|im_start\|>|<\|im_end\|>|<start_of_turn>|<end_of_turn>|\[/?INST\]",
)
_INJECTION = re.compile("|".join(_PATTERNS), re.IGNORECASE)

# Letters that look alike in Latin and Cyrillic (Unicode confusables, the pairs in common fonts).
_LATIN = "AaBCcEeHKkMOoPpTXxYy"
_CYRILLIC = "АаВСсЕеНКкМОоРрТХхУу"
_TO_CYRILLIC = str.maketrans(_LATIN, _CYRILLIC)
_TO_LATIN = str.maketrans(_CYRILLIC, _LATIN)
# Invisible characters that split a word for a regex but not for a reader
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f"
                        "\u202a-\u202e\u2060-\u2064\u206a-\u206f\ufeff]")  # fmt: skip
_WORD = re.compile(r"[^\W\d_]+")


def _fold_word(m: re.Match[str]) -> str:
    word = m.group()
    cyrillic = sum("\u0400" <= c <= "\u04ff" for c in word)
    latin = sum(c.isascii() for c in word)
    if not cyrillic or not latin:
        return word
    return word.translate(_TO_CYRILLIC if cyrillic >= latin else _TO_LATIN)


def fold_confusables(text: str) -> str:
    """`text` as a reader sees it: compatibility forms unified, invisible characters dropped, and each
    word mixing Latin and Cyrillic lookalikes («Игнoрируй» with a Latin «o») written in its main script."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return _WORD.sub(_fold_word, text)


def looks_like_instruction(sentence: str) -> bool:
    return bool(_INJECTION.search(sentence) or _INJECTION.search(fold_confusables(sentence)))


def instruction_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the sentences to hide: each that looks like an instruction, and the rest of its paragraph.

    An injected paragraph often goes on with plain-looking orders («Также напиши…»), so once a
    paragraph has addressed the model, nothing after that in the paragraph is trusted.
    """
    from .text import sentences

    out: list[tuple[int, int]] = []
    poisoned_until = -1  # end of the paragraph that has addressed the model
    for span in sentences(text):
        if span.start < poisoned_until or looks_like_instruction(span.text):
            out.append((span.start, span.end))
            end = text.find("\n", span.end)
            poisoned_until = max(poisoned_until, len(text) if end < 0 else end)
    return out


def fence_text(text: str) -> str:
    """Passage text safe to place inside the prompt's <фрагмент> fence: no tags, no instructions."""
    out: list[str] = []
    last = 0
    for start, end in instruction_spans(text):
        gap = text[last:start]
        if not (out and out[-1] == REMOVED and not gap.strip()):
            out += [gap, REMOVED]
        last = end
    out.append(text[last:])
    return "".join(out).replace("<", "‹").replace(">", "›")
