"""Documents are data, not instructions: neutralise text that tries to steer the LLM."""

from __future__ import annotations

import re

REMOVED = "[фрагмент скрыт: похож на инструкцию для ИИ]"

# Phrases that address a model rather than a reader. Matched per sentence, case-insensitive.
_INJECTION = re.compile(
    r"|".join(
        [
            r"игнориру\w*\s+(?:все\s+)?(?:предыдущ|прежн|выше|системн)\w*",
            r"забудь\w*\s+(?:все\s+)?(?:предыдущ|прежн|инструкц|правил)\w*",
            r"(?:инструкци\w*|указани\w*|команд\w*)\s+для\s+(?:ии|ai|нейросет\w*|модел\w*|ассистент\w*|бот\w*)",
            r"(?:ты|вы)\s+(?:теперь|больше не)\s+",
            r"системн\w+\s+(?:промпт|подсказк|инструкц)\w*",
            r"ignore\s+(?:all\s+)?(?:the\s+)?(?:previous|prior|above)\s+instructions",
            r"disregard\s+(?:all\s+)?(?:previous|prior|above)",
            r"system\s+prompt",
            r"you\s+are\s+now\s+",
            r"</?\s*(?:system|assistant|user|документы|фрагмент)\b",
            r"<\|im_start\|>|<start_of_turn>|\[/?INST\]",
        ]
    ),
    re.IGNORECASE,
)


def looks_like_instruction(sentence: str) -> bool:
    return bool(_INJECTION.search(sentence))


def fence_text(text: str) -> str:
    """Passage text safe to place inside the prompt's <фрагмент> fence: no tags, no instructions."""
    from .text import sentences

    out: list[str] = []
    last = 0
    for span in sentences(text):
        if looks_like_instruction(span.text):
            gap = text[last : span.start]
            if not (out and out[-1] == REMOVED and not gap.strip()):
                out += [gap, REMOVED]
            last = span.end
    out.append(text[last:])
    return "".join(out).replace("<", "‹").replace(">", "›")

