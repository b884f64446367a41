"""Questions about a document the collection does not hold: each answerable gold question with one source,
asked of the collection without that document, must be refused.

    python -m qa_bot.evaluation.leave_out --gold eval/gold_encyclopedia.jsonl --docs eval/encyclopedia
    python -m qa_bot.evaluation.leave_out --docs seeds --docs eval/distractors

Held-back question sets ask of articles left out of the collection; a gold file has few such questions,
but every question about one document becomes one when that document is left out. For each document
with such questions, the others are indexed into a temporary folder (the user's index is not touched)
and the questions are answered extractively; the refused share is printed per document and in all, with
the questions that were answered. Dev split by default: this measures the rules, it does not tune them.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from ..ingest import SUPPORTED_SUFFIXES
from ..settings import Settings
from .gold import GoldItem, load_gold, select_split
from .runner import evaluate


def documents(folders: list[Path]) -> list[Path]:
    return sorted(p for d in folders for p in d.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)


def left_out(settings: Settings, items: list[GoldItem], folders: list[Path]) -> list[tuple[str, dict]]:
    """(left-out document id, run item) for every single-source, standalone answerable question."""
    asked = [g for g in items if g.answerable and len(g.sources) == 1 and not g.history]
    files = documents(folders)
    out: list[tuple[str, dict]] = []
    for doc in files:
        about = [replace(g, answerable=False, sources=(), key_facts=()) for g in asked if g.sources[0] in (doc.name, doc.stem)]
        if not about:
            continue
        with tempfile.TemporaryDirectory(prefix="qa-bot-leave-out-") as tmp:
            rest = Path(tmp) / "docs"
            rest.mkdir()
            for other in files:
                if other != doc:
                    shutil.copy(other, rest / other.name)
            [run] = evaluate(settings, about, [rest])
        out += [(doc.stem, it) for it in run.items]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, default=Path("eval/gold.jsonl"))
    parser.add_argument("--docs", type=Path, action="append", required=True, help="documents folder (repeatable)")
    parser.add_argument("--split", choices=["dev", "test", "all"], default="dev")
    args = parser.parse_args(argv)
    results = left_out(Settings(), select_split(load_gold(args.gold), args.split), args.docs)
    for doc in dict.fromkeys(d for d, _ in results):
        mine = [it for d, it in results if d == doc]
        print(f"{doc}: refused {sum(it['refused'] for it in mine)}/{len(mine)}")
    refused = sum(it["refused"] for _, it in results)
    print(f"all: refused {refused}/{len(results)} = {refused / max(len(results), 1):.3f}")
    for doc, it in results:
        if not it["refused"]:
            print(f"  answered without {doc}: {it['question']} -> {it['answer'][:120]}")


if __name__ == "__main__":
    main()
