"""Read and check the gold file: one JSON object a line, with line numbers in every error.

Required: "question" and "answerable"; an answerable item also needs "sources" (document ids: file names
without their folder, the extension optional) and "key_facts". "id" defaults to the line number, "answer"
to empty, "sources" and "key_facts" of an unanswerable item to none."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GoldFileError
from ..ingest import SUPPORTED_SUFFIXES

SPLITS = {"", "dev", "test"}
REQUIRED = {"question": str, "answerable": bool}
OPTIONAL = {"id": str, "sources": list, "key_facts": list, "answer": str}


@dataclass(frozen=True)
class GoldItem:
    id: str
    question: str
    answerable: bool
    sources: tuple[str, ...]
    key_facts: tuple[str, ...]
    answer: str
    history: tuple[str, ...] = ()
    type: str = ""
    split: str = ""  # "dev" (tune on it) or "test" (report only); empty in files without a split
    extra: dict = field(default_factory=dict, compare=False)


def load_gold(path: Path) -> list[GoldItem]:
    """The items of a gold file; GoldFileError names the line and what is wrong."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GoldFileError(f"Cannot read the gold file {path}: {exc.strerror}.", "Pass --gold PATH.") from exc
    except UnicodeDecodeError as exc:
        raise GoldFileError(f"The gold file {path} is not UTF-8.", "Save it as UTF-8.") from exc
    items: list[GoldItem] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldFileError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}).") from exc
        if not isinstance(row, dict):
            raise GoldFileError(f"{where}: expected a JSON object, got {type(row).__name__}.")
        for key, kind in REQUIRED.items():
            if key not in row:
                raise GoldFileError(f"{where}: missing key {key!r}.")
        row = {"id": f"line{number}", "sources": [], "key_facts": [], "answer": ""} | row
        for key, kind in (REQUIRED | OPTIONAL).items():
            if not isinstance(row[key], kind):
                raise GoldFileError(f"{where}: {key!r} must be a {kind.__name__}, got {type(row[key]).__name__}.")
        for key in ("sources", "key_facts", "history"):
            if not all(isinstance(v, str) and v.strip() for v in row.get(key, [])):
                raise GoldFileError(f"{where}: {key!r} must be a list of non-empty strings.")
        if not row["question"].strip():
            raise GoldFileError(f"{where}: the question is empty.")
        if row["answerable"] and not (row["sources"] and row["key_facts"]):
            raise GoldFileError(f"{where}: an answerable item needs non-empty 'sources' and 'key_facts'.")
        if not row["answerable"] and (row["sources"] or row["key_facts"]):
            raise GoldFileError(f"{where}: an unanswerable item must have empty 'sources' and 'key_facts'.")
        if row["id"] in seen:
            raise GoldFileError(f"{where}: duplicate id {row['id']!r}.")
        seen.add(row["id"])
        if row.get("split", "") not in SPLITS:
            raise GoldFileError(f"{where}: 'split' must be one of {', '.join(sorted(SPLITS - {''}))}.")
        known = set(REQUIRED) | set(OPTIONAL) | {"history", "type", "split"}
        items.append(
            GoldItem(
                id=row["id"],
                question=row["question"],
                answerable=row["answerable"],
                sources=tuple(_doc_id(s) for s in row["sources"]),
                key_facts=tuple(row["key_facts"]),
                answer=row["answer"],
                history=tuple(row.get("history", [])),
                type=str(row.get("type", "")),
                split=str(row.get("split", "")),
                extra={k: v for k, v in row.items() if k not in known},
            )
        )
    if not items:
        raise GoldFileError(f"The gold file {path} has no items.")
    return items


def _doc_id(source: str) -> str:
    """«lake.txt» and «docs/lake.txt» name the document «lake», as the index does (its file name's stem)."""
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = name.rpartition(".")
    return stem if dot and f".{suffix.lower()}" in SUPPORTED_SUFFIXES else name


def select_split(items: list[GoldItem], split: str) -> list[GoldItem]:
    """The items of one split ("dev", "test"), or all of them ("all"); items without a split are in every one."""
    if split == "all":
        return items
    chosen = [i for i in items if i.split in (split, "")]
    if not chosen:
        raise GoldFileError(f"The gold file has no items in split {split!r}.", "Use --split all.")
    return chosen
