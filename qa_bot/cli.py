"""The `qa-bot` command line: index, remove, ask, chat, sources, eval, bot."""

from __future__ import annotations

import functools
import json
import logging
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .errors import IndexCorruptError, IndexMismatchError, IndexMissingError, QaBotError, UsageError
from .terminal import Progress, shorten

if TYPE_CHECKING:  # the modules behind the commands are imported by the commands: `--help` stays instant
    from .answer import Answer
    from .settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
BACKENDS = click.Choice(["auto", "ollama", "openai", "llamacpp", "extractive"])
MODES = click.Choice(["bm25", "dense", "hybrid"])


# What Ctrl-C prints, by command (the others just say "Interrupted.")
INTERRUPTED = {"index": "Interrupted. Nothing was changed: the previous index is still in use."}
INDEX_ERRORS = (IndexMissingError, IndexCorruptError, IndexMismatchError)


def error_text(exc: QaBotError) -> str:
    """The message of `exc`; commands it suggests repeat the --index-dir the user gave."""
    text = str(exc)
    ctx = click.get_current_context(silent=True)
    index_dir = ctx.find_root().meta.get("qa_bot.index_dir") if ctx else None
    if index_dir is not None and isinstance(exc, INDEX_ERRORS):
        text = text.replace("qa-bot ", f"qa-bot --index-dir {shlex.quote(str(index_dir))} ")
    return text


def friendly(func: F) -> F:
    """Turn our errors into a message and an exit code; never a stack trace."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QaBotError as exc:
            click.echo(f"Error: {error_text(exc)}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("\n" + INTERRUPTED.get(func.__name__, "Interrupted."), err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def load_settings(**overrides: Any) -> Settings:
    from pydantic import ValidationError

    from .settings import Settings

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
    ctx.meta["qa_bot.index_dir"] = index_dir
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
    bar = Progress("Embedding", "chunk", "Embedded {n} chunks in {seconds:.1f} s")

    def confirm_prune(doc_ids: list[str]) -> bool:
        shown = ", ".join(doc_ids[:10]) + ("…" if len(doc_ids) > 10 else "")
        click.echo(f"{len(doc_ids)} indexed document(s) have no file any more and will be removed: {shown}", err=True)
        return yes or _confirm("Remove them from the index?")

    pipeline = _pipeline(settings)
    # the report lists every warning below; ingestion also logs them, which would print each one twice
    loggers = [logging.getLogger(name) for name in ("qa_bot.ingest", "qa_bot.collection")]

    def quiet(record: logging.LogRecord) -> bool:
        return record.levelno < logging.WARNING

    for logger in loggers:
        logger.addFilter(quiet)
    try:
        report = pipeline.update(list(docs) or None, rebuild=rebuild, progress=bar.update,
                                 prune=confirm_prune if prune else False)  # fmt: skip
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)
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
    return "\n".join(lines)


def echo_detail(answer: Answer) -> None:
    """The technical reason behind a notice (e.g. why the LLM was not used) goes to stderr, once."""
    if answer.detail:
        click.echo(f"({answer.detail})", err=True)


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the structured result (fixed JSON contract).")
@click.option("-k", "k", type=click.IntRange(1, 50), help="Passages to retrieve (default: TOP_K).")
@click.option("--mode", type=MODES, help="Retrieval mode (default: RETRIEVAL_MODE).")
@click.option("--backend", type=BACKENDS, help="Answer backend (default: LLM_BACKEND).")
@click.option("--history", multiple=True, help="An earlier question of the conversation (repeatable, oldest first).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only documents dated on or after this day (YYYY-MM-DD).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Only documents dated on or before this day.")
@click.pass_obj
@friendly
def ask(settings: Settings, question: str, as_json: bool, k: int | None, mode: str | None,
        backend: str | None, history: tuple[str, ...], since: datetime | None, until: datetime | None) -> None:  # fmt: skip
    """Answer one QUESTION from the indexed documents."""
    pipeline = _pipeline(settings, backend)
    answer = pipeline.ask(
        question, list(history), k=k, mode=mode, since=since.date() if since else None,
        until=until.date() if until else None,
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_answer(answer))
        echo_detail(answer)


@cli.command()
@click.option("--backend", type=BACKENDS, help="Answer backend (default: LLM_BACKEND).")
@click.option("-k", "k", type=click.IntRange(1, 50), help="Passages to retrieve (default: TOP_K).")
@click.pass_obj
@friendly
def chat(settings: Settings, backend: str | None, k: int | None) -> None:
    """Ask several questions in a row; follow-ups use the earlier ones. /new forgets, /help, /exit quits."""
    try:
        _chat(settings, backend, k)
    except KeyboardInterrupt:  # Ctrl-C: the user is leaving, nothing was being written
        click.echo("\nДо свидания!")


CHAT_HELP = """Команды:
  /new   — новый разговор (забыть предыдущие вопросы)
  /help  — эта справка
  /exit  — выход (или Ctrl-D, Ctrl-C)
Любой другой текст — вопрос к документам; уточняющие вопросы учитывают предыдущие."""


def _chat(settings: Settings, backend: str | None, k: int | None) -> None:
    pipeline = _pipeline(settings, backend)
    click.echo("Загружаю индекс и модели…", err=True)
    pipeline.warm_up()
    names = ", ".join(shorten(d.title, 60) for d in pipeline.index.documents.values())
    click.echo(
        f"Готово. Документов: {len(pipeline.index.documents)} ({names}). "
        "/new — новый разговор, /help — справка, /exit — выход."
    )
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
        if question in ("/help", "/?", "/помощь", "/start"):
            click.echo(CHAT_HELP)
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
        echo_detail(answer)
        history.append(question)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only documents dated on or after this day.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Only documents dated on or before this day.")
@click.pass_obj
@friendly
def sources(settings: Settings, as_json: bool, since: datetime | None, until: datetime | None) -> None:
    """List the indexed documents with title, date and chunk count (newest first with --since/--until)."""
    from datetime import date as day

    from .dates import date_in_ranges, period_query
    from .index import Index

    index = Index.load(settings.index_dir, settings)
    docs = list(index.documents.values())
    if since or until:
        period = period_query(since.date() if since else None, until.date() if until else None, day.today())
        if period.invalid:
            raise UsageError(period.invalid)
        docs = sorted((d for d in docs if date_in_ranges(d.date, period)), key=lambda d: d.date or "", reverse=True)
    if as_json:
        rows = [{"doc_id": d.doc_id, "title": d.title, "date": d.date, "chunks": d.chunks} for d in docs]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    rows = [(d.doc_id, d.date_display, f"{d.chunks} chunks", d.title) for d in docs]
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(3)]
    # the title is the last column: on a terminal (or with COLUMNS set) it is cut to fit the line
    fit = sys.stdout.isatty() or "COLUMNS" in os.environ
    room = shutil.get_terminal_size().columns - sum(widths) - 6
    for doc_id, date, chunks, title in rows:
        shown = shorten(title, max(room, 20)) if fit else title
        click.echo(f"{doc_id:<{widths[0]}}  {date:<{widths[1]}}  {chunks:>{widths[2]}}  {shown}")
    click.echo(f"{len(docs)} documents, {index.chunk_count} chunks, embeddings: {index.embedding_model}")


@cli.command("eval")
@click.option("--gold", type=click.Path(path_type=Path), default=Path("eval/gold.jsonl"), show_default=True)
@click.option("--docs", "docs", multiple=True, type=click.Path(path_type=Path),
              help="Documents folder (repeatable; default: DOCS_DIR), e.g. --docs seeds --docs eval/distractors.")
@click.option("--backend", "backends", multiple=True, type=BACKENDS, help="Answer backend (repeatable).")
@click.option("--mode", type=click.Choice(["bm25", "dense", "hybrid", "all"]), default="hybrid", show_default=True)
@click.option("--split", type=click.Choice(["dev", "test", "all"]), default="all", show_default=True,
              help="Gold split: tune on dev, report on test (items without a split are in both).")
@click.option("--baseline/--no-baseline", default=None, help="Add the plain LangChain-style row (default: with --mode all).")
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write metrics and every item as JSON.")
@click.option("--report", "report", type=click.Path(path_type=Path), help="Write a Markdown report (+ PNG chart).")
@click.pass_obj
@friendly
def evaluate_cmd(settings: Settings, gold: Path, docs: tuple[Path, ...], backends: tuple[str, ...], mode: str, split: str,
                 baseline: bool | None, json_out: Path | None, report: Path | None) -> None:  # fmt: skip
    """Score the pipeline against gold answers on a temporary index (the user's index is not touched)."""
    from .evaluation.gold import load_gold, select_split
    from .evaluation.report import metrics_table, write_report
    from .evaluation.runner import MODES, PRIMARY, evaluate

    items = select_split(load_gold(gold), split)
    modes = list(MODES) if mode == "all" else [mode]
    bar = Progress("Evaluating", "q", "Evaluated {n} questions in {seconds:.1f} s")

    def on_total(total: int) -> None:
        bar.update(bar.done, total)

    try:
        results = evaluate(
            settings, items, list(docs) or [settings.docs_dir], modes=modes,
            backends=list(backends) or ["extractive"], baseline=mode == "all" if baseline is None else baseline,
            progress=lambda n=1: bar.update(bar.done + n), on_total=on_total,
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
