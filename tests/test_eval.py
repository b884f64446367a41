"""The evaluation suite: gold file checks, metric definitions, the CLI, and the CI quality gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import DISTRACTORS, ROOT, SEEDS, make_settings

from qa_bot.cli import cli
from qa_bot.errors import GoldFileError
from qa_bot.evaluation import metrics as m
from qa_bot.evaluation.gold import load_gold, select_split
from qa_bot.evaluation.runner import evaluate, score

GOLD = ROOT / "eval" / "gold.jsonl"
THRESHOLDS = ROOT / "eval" / "thresholds.json"


def test_gold_file_is_well_formed() -> None:
    items = load_gold(GOLD)
    assert len(items) >= 60
    assert sum(not i.answerable for i in items) >= 12
    assert any(i.history for i in items) and any(len(i.sources) == 2 for i in items)
    documents = {p.stem for folder in (SEEDS, DISTRACTORS) for p in folder.glob("*.txt")}  # the collection asked of
    assert all(set(i.sources) <= documents for i in items)
    assert sum(set(i.sources) <= {p.stem for p in SEEDS.glob("*.txt")} for i in items if i.answerable) >= 40
    assert sum(i.split == "test" for i in items) >= 40 and sum(not i.answerable and i.split == "test" for i in items) >= 15


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ('{"id": "x"}', "line 2: missing key 'question'"),
        ('{"id": "x", "question": "q", "answerable": "yes", "sources": [], "key_facts": [], "answer": ""}',
         "'answerable' must be a bool"),
        ('{"id": "x", "question": "q", "answerable": true, "sources": [], "key_facts": [], "answer": "a"}',
         "needs non-empty 'sources'"),
        ('{"id": "q1", "question": "q", "answerable": false, "sources": [], "key_facts": [], "answer": "a"}',
         "duplicate id 'q1'"),
    ],
)  # fmt: skip
def test_malformed_gold_lines_are_named(tmp_path: Path, line: str, message: str) -> None:
    good = '{"id": "q1", "question": "q", "answerable": false, "sources": [], "key_facts": [], "answer": "a"}'
    path = tmp_path / "gold.jsonl"
    path.write_text(good + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(GoldFileError, match=message.replace("(", r"\(")):
        load_gold(path)


def test_a_short_gold_line_takes_defaults_and_file_names_as_sources(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    lines = [
        '{"question": "Сколько рыбы в озере?", "answerable": false}',
        '{"question": "Какова глубина озера?", "answerable": true, "sources": ["docs/lake.txt"], "key_facts": ["12"]}',
        '{"question": "Где озеро?", "answerable": true, "sources": ["v1.2"], "key_facts": ["там"]}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    absent, depth, dotted = load_gold(path)
    assert (absent.id, absent.sources, absent.key_facts, absent.answer) == ("line1", (), (), "")
    assert depth.id == "line2" and depth.sources == ("lake",)  # the index names a document by its file's stem
    assert dotted.sources == ("v1.2",)  # not a document extension: kept


def test_metric_definitions() -> None:
    assert m.has_key_fact("Товарооборот вырос на 65 % [1].", ["65"])
    assert m.has_key_fact("Завод КАЛАШНИКОВА [2]", ["калашников"])
    assert m.has_key_fact("всё ещё", ["еще"])  # ё → е
    assert not m.has_key_fact("Вырос на 25 %", ["65"])
    assert m.token_f1("Председатель — Роман Ефимов [1].", "Председатель правительства Удмуртии — Роман Ефимов.") == (
        pytest.approx(2 * 1.0 * 0.6 / 1.6)
    )
    assert m.chrf("abc", "abc") == pytest.approx(1.0) and m.chrf("abc", "xyz") == 0.0
    assert m.recall_at(["b", "a"], {"a"}, 1) == 0 and m.recall_at(["b", "a"], {"a"}, 3) == 1
    assert m.mrr_at(["b", "b", "a"], {"a"}, 10) == pytest.approx(1 / 3)
    assert m.ndcg_at(["a", "a", "b"], {"a", "b"}, 10) == pytest.approx((1 + 1 / 2) / (1 + 1 / m.math.log2(3)))
    assert m.percentile([1, 2, 3, 4], 50) == 2 and m.percentile([1, 2, 3, 4], 95) == 4


def test_scores_are_recomputable_from_items() -> None:
    gold = [g for g in load_gold(GOLD) if g.id in ("q02", "q64")]
    items = [
        {"id": "q02", "question": "", "answer": "Поставит 120 автобусов [1].", "refused": False,
         "citations": [{"doc_id": "000_efd8a1e6da840478", "chunk_id": "x", "quote": ""}],
         "retrieved": ["002_493d4d9cbc64722c", "000_efd8a1e6da840478"], "latency_ms": 10},
        {"id": "q64", "question": "", "answer": "нет", "refused": True, "citations": [], "retrieved": [],
         "latency_ms": 30},
    ]  # fmt: skip
    metrics = score(items, gold)
    assert metrics["retrieval.recall@1"] == 0 and metrics["retrieval.recall@3"] == 1
    assert metrics["retrieval.mrr@10"] == 0.5
    assert metrics["answer.key_fact_recall"] == 1 and metrics["citations.precision"] == 1
    assert metrics["refusal.accuracy"] == 1 and metrics["refusal.false_rate"] == 0
    assert metrics["latency.p95_ms"] == 30


GATES = json.loads(THRESHOLDS.read_text(encoding="utf-8"))["gates"]


@pytest.fixture(scope="module")
def gate_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[dict], list]]:
    """One evaluation a collection (the gates that share documents, model and run share it): items by gate."""
    groups: dict[tuple[str, str, tuple[str, ...]], list[dict]] = {}
    for gate in GATES:
        groups.setdefault((gate["run"], gate["embedding_model"], tuple(gate["docs"])), []).append(gate)
    out: dict[str, tuple[list[dict], list]] = {}
    for (run, model, docs), gates in groups.items():
        mode, backend = run.split("/")
        golds = {g["name"]: select_split(load_gold(ROOT / g["gold"]), g["split"]) for g in gates}
        settings = make_settings(tmp_path_factory.mktemp("gates"), embedding_model=model)
        everything = [item for items in golds.values() for item in items]
        (result,) = evaluate(settings, everything, [ROOT / d for d in docs], modes=[mode], backends=[backend])
        for name, items in golds.items():
            ids = {g.id for g in items}
            out[name] = ([it for it in result.items if it["id"] in ids], items)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("gate", GATES, ids=[g["name"] for g in GATES])
def test_quality_gate_on_offline_defaults(gate_runs: dict, gate: dict) -> None:
    """CI fails when the offline defaults fall below the committed thresholds on the TEST split (tuning uses dev)."""
    items, gold = gate_runs[gate["name"]]
    metrics = score(items, gold)
    low = {k: (metrics[k], v) for k, v in gate["min"].items() if metrics[k] < v}
    high = {k: (metrics[k], v) for k, v in gate["max"].items() if metrics[k] > v}
    assert not low and not high, f"below thresholds: {low}; above: {high}; all: {metrics}"


def test_gold_has_a_dev_and_a_test_split() -> None:
    for gold in (GOLD, ROOT / "eval" / "gold_dates.jsonl"):
        items = load_gold(gold)
        splits = {i.split for i in items}
        assert splits == {"dev", "test"}, gold
        for kind in {i.type for i in items}:  # every kind of question is tuned on and reported on
            of_kind = [i for i in items if i.type == kind]
            assert len(of_kind) < 2 or {i.split for i in of_kind} == {"dev", "test"}, kind
    assert {g["split"] for g in GATES} == {"test"}


def test_eval_command_side_by_side(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    user_index = tmp_path / "user-index"
    out, report = tmp_path / "out.json", tmp_path / "report" / "eval.md"
    result = CliRunner().invoke(
        cli,
        ["eval", "--gold", str(GOLD), "--docs", str(SEEDS), "--docs", str(DISTRACTORS), "--mode", "all", "--split", "test",
         "--json", str(out), "--report", str(report)],
        env={"INDEX_DIR": str(user_index), "LLM_BACKEND": "extractive"},
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not user_index.exists()  # the user's index is never touched
    data = json.loads(out.read_text(encoding="utf-8"))
    names = [r["name"] for r in data["runs"]]
    assert names == ["bm25/extractive", "dense/extractive", "hybrid/extractive", "baseline/extractive"]
    expected = {
        "retrieval.recall@1", "retrieval.recall@3", "retrieval.recall@5", "retrieval.mrr@10", "retrieval.ndcg@10",
        "answer.key_fact_recall", "answer.token_f1", "answer.chrf", "citations.precision", "citations.recall",
        "refusal.accuracy", "refusal.false_rate", "latency.p50_ms", "latency.p95_ms",
    }  # fmt: skip
    assert set(data["metrics"]) == expected
    item = data["items"][0]
    assert {"id", "question", "answer", "refused", "citations", "retrieved", "latency_ms"} <= set(item)
    # the items alone give back the metrics
    assert score(data["runs"][2]["items"], select_split(load_gold(GOLD), "test")) == data["runs"][2]["metrics"]
    # hybrid beats the plain LangChain-style baseline, measured in the same run
    runs = {r["name"]: r["metrics"] for r in data["runs"]}
    assert runs["hybrid/extractive"]["retrieval.recall@1"] > runs["baseline/extractive"]["retrieval.recall@1"]
    text = report.read_text(encoding="utf-8")
    assert "| `answer.key_fact_recall` |" in text and "## Failed items: hybrid/extractive" in text
    assert "![main metrics](eval.png)" in text and (report.parent / "eval.png").stat().st_size > 10_000


def test_malformed_gold_via_cli(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", "--gold", str(bad)])
    assert result.exit_code == 2 and "bad.jsonl, line 1" in result.output
