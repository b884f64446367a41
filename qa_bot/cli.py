"""The `qa-bot` command line: index, remove, ask, chat, sources, eval, bot."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from .answer import Answer
from .errors import QaBotError, UsageError
from .settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
BACKENDS = click.Choice(["auto", "ollama", "llamacpp", "extractive"])
MODES = click.Choice(["bm25", "dense", "hybrid"])


def friendly(func: F) -> F:
    """Turn our errors into a message and an exit code; never a stack trace."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QaBotError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("\nInterrupted. Nothing was changed: the previous index is still in use.", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()]
        raise UsageError("Invalid settings (environment or .env):\n" + "\n".join(lines), "Fix them and retry.") from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder (default: INDEX_DIR or ./index).")
@click.pass_context
@friendly
def cli(ctx: click.Context, verbose: int, index_dir: Path | None) -> None:
    """Ask questions about your documents in Russian; answers cite their sources."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "sentence_transformers", "faiss", "bm25s", "transformers", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    ctx.obj = load_settings(index_dir=index_dir)


def _pipeline(settings: Settings, backend: str | None = None):
    from .pipeline import Pipeline

    return Pipeline(settings, backend=backend)


@cli.command()
@click.option("--docs", "docs", multiple=True, type=click.Path(path_type=Path),
              help="A folder or file to ADD to the collection's sources (repeatable); remembered for later runs.")
@click.option("--rebuild", is_flag=True, help="Re-embed everything (needed after changing the model or chunking).")
@click.option("--prune", is_flag=True, help="Drop indexed documents whose files are gone (asks first).")
@click.option("--yes", "-y", "yes", is_flag=True, help="With --prune: do not ask for confirmation.")
@click.pass_obj
@friendly
def index(settings: Settings, docs: tuple[Path, ...], rebuild: bool, prune: bool, yes: bool) -> None:
    """Index the collection: every remembered source plus --docs; only new or changed documents are embedded.

    Documents are never dropped silently: those whose files are gone are kept until --prune, a
    vanished source folder is reported; `qa-bot remove` drops documents or sources.
    """
    from tqdm import tqdm

    bar: tqdm | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="Embedding", file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()

    def confirm_prune(doc_ids: list[str]) -> bool:
        shown = ", ".join(doc_ids[:10]) + ("…" if len(doc_ids) > 10 else "")
        click.echo(f"{len(doc_ids)} indexed document(s) have no file any more and will be removed: {shown}", err=True)
        return yes or _confirm("Remove them from the index?")

    pipeline = _pipeline(settings)
    try:
        report = pipeline.update(list(docs) or None, rebuild=rebuild, progress=progress,
                                 prune=confirm_prune if prune else False)  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    state = "updated" if report.written else "already up to date"
    click.echo(
        f"Index {state} in {settings.index_dir}: {report.documents} documents, {report.chunks} chunks "
        f"(added {len(report.added)}, changed {len(report.changed)}, removed {len(report.removed)}; "
        f"embedded {report.embedded_chunks} chunks) in {report.seconds:.1f} s."
    )


def _confirm(question: str) -> bool:
    """Ask on the terminal; without an answer on stdin (a script, a pipe at its end) refuse clearly."""
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:
        raise UsageError("Nothing was removed: no confirmation on stdin.", "Add --yes to remove without asking.") from None


@cli.command()
@click.argument("targets", nargs=-1, required=True, metavar="DOC_ID_OR_PATH...")
@click.option("--yes", "-y", "yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
@friendly
def remove(settings: Settings, targets: tuple[str, ...], yes: bool) -> None:
    """Drop documents (by doc id or file path) or whole sources (a folder or file given to --docs)."""
    from .index import plan_removal, remove_documents

    plan = plan_removal(settings, targets)
    if plan.unknown:
        raise UsageError(
            f"Not in the index: {', '.join(plan.unknown)}. Nothing was removed.",
            "See the indexed documents with: qa-bot sources",
        )
    what = f"{len(plan.doc_ids)} document(s), {plan.chunks} chunks"
    if plan.sources:
        what += f", and the source(s) {', '.join(plan.sources)}"
    click.echo(f"Will remove {what}: {', '.join(plan.doc_ids[:10])}{'…' if len(plan.doc_ids) > 10 else ''}", err=True)
    if not yes and not _confirm("Remove them from the index?"):
        click.echo("Nothing was removed.")
        return
    report = remove_documents(settings, plan)
    click.echo(f"Removed {len(report.removed)} document(s) from {settings.index_dir}; {report.documents} remain.")


def format_answer(answer: Answer) -> str:
    """The answer for a terminal: text, then the numbered sources with their quotes."""
    from .ingest import format_date

    lines = [answer.answer]
    if answer.citations:
        lines += ["", "Источники:"]
        for c in answer.citations:
            lines.append(f"[{c.n}] {c.title} — {format_date(c.date)} ({c.doc_id})")
            lines.append(f"    «{c.quote}»")
    footer = f"— ответ: {answer.backend}"
    if answer.notice:
        footer += f"; {answer.notice}"
    lines += ["", footer]
    if answer.detail:
        lines.append(f"  ({answer.detail})")
    return "\n".join(lines)


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the structured result (fixed JSON contract).")
@click.option("-k", "k", type=click.IntRange(1, 50), help="Passages to retrieve (default: TOP_K).")
@click.option("--mode", type=MODES, help="Retrieval mode (default: RETRIEVAL_MODE).")
@click.option("--backend", type=BACKENDS, help="Answer backend (default: LLM_BACKEND).")
@click.option("--history", multiple=True, help="An earlier question of the conversation (repeatable, oldest first).")
@click.pass_obj
@friendly
def ask(settings: Settings, question: str, as_json: bool, k: int | None, mode: str | None,
        backend: str | None, history: tuple[str, ...]) -> None:  # fmt: skip
    """Answer one QUESTION from the indexed documents."""
    pipeline = _pipeline(settings, backend)
    answer = pipeline.ask(question, list(history), k=k, mode=mode)
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_answer(answer))


@cli.command()
@click.option("--backend", type=BACKENDS, help="Answer backend (default: LLM_BACKEND).")
@click.option("-k", "k", type=click.IntRange(1, 50), help="Passages to retrieve (default: TOP_K).")
@click.pass_obj
@friendly
def chat(settings: Settings, backend: str | None, k: int | None) -> None:
    """Ask several questions in a row; follow-ups use the earlier ones. /new forgets, /exit quits."""
    pipeline = _pipeline(settings, backend)
    click.echo("Загружаю индекс и модели…", err=True)
    pipeline.warm_up()
    names = ", ".join(d.title[:60] for d in pipeline.index.documents.values())
    click.echo(f"Готово. Документов: {len(pipeline.index.documents)} ({names}). /new — новый разговор, /exit — выход.")
    history: list[str] = []
    while True:
        try:
            question = input("\nВопрос> ").strip()
        except EOFError:
            click.echo()
            return
        if question in ("/exit", "/quit", "выход"):
            return
        if question == "/new":
            history.clear()
            click.echo("Контекст разговора очищен.")
            continue
        if not question:
            continue
        streamed: list[str] = []

        def show(delta: str) -> None:
            streamed.append(delta)
            click.echo(delta, nl=False)

        try:
            answer = pipeline.ask(question, history, k=k, on_delta=show)
        except UsageError as exc:
            click.echo(str(exc))
            continue
        click.echo()
        text = format_answer(answer)
        # the streamed text was the answer: print only sources and footer after it
        click.echo(text.split("\n", 1)[1] if answer.streamed or streamed == [answer.answer] else "\n" + text)
        history.append(question)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
@friendly
def sources(settings: Settings, as_json: bool) -> None:
    """List the indexed documents with title, date and chunk count."""
    from .index import Index

    index = Index.load(settings.index_dir)
    docs = list(index.documents.values())
    if as_json:
        rows = [{"doc_id": d.doc_id, "title": d.title, "date": d.date, "chunks": d.chunks} for d in docs]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for d in docs:
        click.echo(f"{d.doc_id}  {d.date_display:<26} {d.chunks:>3} chunks  {d.title}")
    click.echo(f"{len(docs)} documents, {len(index.chunks)} chunks, embeddings: {index.embedding_model}")


@cli.command("eval")
@click.option("--gold", type=click.Path(path_type=Path), default=Path("eval/gold.jsonl"), show_default=True)
@click.option("--docs", "docs", multiple=True, type=click.Path(path_type=Path),
              help="Documents folder (repeatable; default: DOCS_DIR), e.g. --docs seeds --docs eval/distractors.")
@click.option("--backend", "backends", multiple=True, type=BACKENDS, help="Answer backend (repeatable).")
@click.option("--mode", type=click.Choice(["bm25", "dense", "hybrid", "all"]), default="hybrid", show_default=True)
@click.option("--baseline/--no-baseline", default=None, help="Add the plain LangChain-style row (default: with --mode all).")
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write metrics and every item as JSON.")
@click.option("--report", "report", type=click.Path(path_type=Path), help="Write a Markdown report (+ PNG chart).")
@click.pass_obj
@friendly
def evaluate_cmd(settings: Settings, gold: Path, docs: tuple[Path, ...], backends: tuple[str, ...], mode: str,
                 baseline: bool | None, json_out: Path | None, report: Path | None) -> None:  # fmt: skip
    """Score the pipeline against gold answers on a temporary index (the user's index is not touched)."""
    from tqdm import tqdm

    from .evaluation.gold import load_gold
    from .evaluation.report import metrics_table, write_report
    from .evaluation.runner import MODES, PRIMARY, evaluate

    items = load_gold(gold)
    modes = list(MODES) if mode == "all" else [mode]
    bar = tqdm(total=0, unit="q", desc="Evaluating", file=sys.stderr, leave=False)

    def on_total(total: int) -> None:
        bar.total = total
        bar.refresh()

    try:
        results = evaluate(
            settings, items, list(docs) or [settings.docs_dir], modes=modes,
            backends=list(backends) or ["extractive"], baseline=mode == "all" if baseline is None else baseline,
            progress=bar.update, on_total=on_total,
        )  # fmt: skip
    finally:
        bar.close()
    click.echo(metrics_table(results))
    click.echo(f"\nPrimary metric {PRIMARY}: " + ", ".join(f"{r.name} {r.metrics[PRIMARY]:.3f}" for r in results))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "gold": str(gold), "docs": [str(d) for d in (docs or [settings.docs_dir])],
            "primary_metric": PRIMARY, "metrics": results[0].metrics, "items": results[0].items,
            "runs": [{"name": r.name, "mode": r.mode, "backend": r.backend, "metrics": r.metrics, "items": r.items}
                     for r in results],
        }  # fmt: skip
        json_out.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
        click.echo(f"JSON written to {json_out}")
    if report:
        docs_text = ", ".join(str(d) for d in (docs or [settings.docs_dir]))
        chart = write_report(results, items, report, header=f"Documents: {docs_text}. Gold: {gold}.")
        click.echo(f"Report written to {report} (chart {chart})")


@cli.command()
@click.option("--webhook", metavar="URL", help="Receive updates at this public HTTPS URL instead of long polling.")
@click.option("--listen", default="0.0.0.0", show_default=True, help="Webhook mode: address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8443, show_default=True, help="Webhook mode: port.")
@click.pass_obj
@friendly
def bot(settings: Settings, webhook: str | None, listen: str, port: int) -> None:
    """Run the Telegram bot (TELEGRAM_BOT_TOKEN in .env); Ctrl-C stops it."""
    from .telegram import check_token, run_bot

    check_token(settings)
    click.echo("Starting the Telegram bot: loading the index and models…", err=True)
    run_bot(settings, webhook=webhook, listen=listen, port=port)


def main() -> None:
    cli(prog_name="qa-bot")


if __name__ == "__main__":
    main()
