"""The evaluation report: Markdown tables, the failed items, and a PNG chart of the main metrics."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .gold import GoldItem
from .metrics import has_key_fact
from .runner import RunResult

CHART_METRICS = (
    "retrieval.recall@1", "retrieval.recall@5", "retrieval.mrr@10", "answer.key_fact_recall",
    "answer.token_f1", "citations.precision", "refusal.accuracy", "refusal.false_rate",
)  # fmt: skip


def metrics_table(results: Sequence[RunResult]) -> str:
    keys = list(results[0].metrics)
    lines = ["| metric | " + " | ".join(r.name for r in results) + " |", "|---" * (len(results) + 1) + "|"]
    for key in keys:
        row = [f"{r.metrics[key]:.0f}" if key.startswith("latency") else f"{r.metrics[key]:.3f}" for r in results]
        lines.append(f"| `{key}` | " + " | ".join(row) + " |")
    return "\n".join(lines)


def failures(result: RunResult, gold: Sequence[GoldItem]) -> list[str]:
    """One Markdown bullet per failed item: what was expected, retrieved and answered."""
    by_id = {g.id: g for g in gold}
    out = []
    for it in result.items:
        g = by_id[it["id"]]
        if g.answerable:
            problems = []
            if it["refused"]:
                problems.append("refused")
            elif not has_key_fact(it["answer"], g.key_facts):
                problems.append("key fact missing")
            if not set(it["retrieved"][:1]) & set(g.sources):
                problems.append("wrong first passage")
        else:
            problems = [] if it["refused"] else ["answered an unanswerable question"]
        if not problems:
            continue
        answer = it["answer"].replace("\n", " ")
        out.append(
            f"- **{g.id}** ({g.type or '?'}; {', '.join(problems)}): {g.question}\n"
            f"  - expected: {', '.join(g.key_facts) or 'refusal'} from {', '.join(g.sources) or '—'}\n"
            f"  - retrieved: {', '.join(d[:3] for d in it['retrieved'][:5])}\n"
            f"  - answered: {answer[:300]}"
        )
    return out


def write_chart(results: Sequence[RunResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(CHART_METRICS))
    width = 0.8 / max(1, len(results))
    fig, ax = plt.subplots(figsize=(12, 4.5))
    for i, r in enumerate(results):
        ax.bar(x + i * width, [r.metrics[k] for k in CHART_METRICS], width, label=r.name)
    ax.set_xticks(x + width * (len(results) - 1) / 2, CHART_METRICS, rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title("qa-bot evaluation")
    ax.legend(fontsize=7, ncol=min(4, len(results)))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(results: Sequence[RunResult], gold: Sequence[GoldItem], path: Path, header: str = "") -> Path:
    """Write the Markdown report and its chart (`<report>.png`); returns the chart's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    chart = path.with_suffix(".png")
    write_chart(results, chart)
    answerable = sum(g.answerable for g in gold)
    parts = [
        "# qa-bot evaluation",
        header,
        f"{len(gold)} gold questions ({answerable} answerable, {len(gold) - answerable} unanswerable). "
        "Primary metric: `answer.key_fact_recall`.",
        "",
        metrics_table(results),
        "",
        f"![main metrics]({chart.name})",
    ]
    for r in results:
        failed = failures(r, gold)
        parts += ["", f"## Failed items: {r.name} ({len(failed)})", ""]
        parts += failed or ["None."]
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return chart
