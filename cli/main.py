"""The `kb` command line: thin commands over the kb / ingest / server APIs.

Results go to stdout (a table, or JSON with `--json`), progress and diagnostics to stderr.
"""

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from contextlib import nullcontext
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli.literal import literal
from kb.errors import KBError
from kb.settings import Settings
from kb.types import SearchMode

if TYPE_CHECKING:
    from ingest.progress import IngestProgress
    from ingest.report import IngestReport

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fails_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Expected failures print one line and exit 1; tracebacks are for bugs."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KBError as error:
            err.print(Text.assemble(("Error:", "bold red"), " ", literal(error)))
            sys.exit(1)

    return wrapper


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group()
@click.version_option(package_name="kb")
def cli() -> None:
    """kb: ask questions of a folder of documents, offline.

    \b
    Quick start:
        kb ingest data/docs
        kb search "how do I change the embedding model"
        kb serve
    """


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path), default=Path("data/docs"))
@click.option("--rebuild", is_flag=True, help="Start from an empty index (re-embeds from cache).")
@click.option("--no-delete", is_flag=True, help="Keep documents whose files disappeared.")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option(
    "--collection",
    default="default",
    show_default=True,
    help="Put the folder's documents in this collection (re-ingesting moves them).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@fails_cleanly
def ingest(
    directory: Path, rebuild: bool, no_delete: bool, dry_run: bool, collection: str, as_json: bool
) -> None:
    """Index (or re-sync) the documents in DIRECTORY.

    Reads Markdown, text, reStructuredText, HTML, PDF (scans through OCR), Word,
    PowerPoint, Excel, OpenDocument, CSV/TSV, EPUB, e-mail (.eml, .mbox), Jupyter
    notebooks and images (OCR) recursively. New files are added, changed ones
    re-indexed, unchanged ones skipped, vanished ones removed.
    Exit status: 0 all indexed or skipped, 2 some files failed, 1 fatal error.

    \b
    Example:
        kb ingest ~/hr-policies --collection hr
    """
    from cli.progress import IngestProgressBar
    from kb.collections import check_collection

    options = {
        "delete": not no_delete,
        "rebuild": rebuild,
        "dry_run": dry_run,
        "collection": check_collection(collection),
    }
    with IngestProgressBar(err, enabled=err.is_terminal and not as_json) as progress:
        report = _run_ingest(Settings(), directory, options, progress)
    if as_json:
        print_json(report.to_json())
    else:
        _print_ingest_report(report)
    sys.exit(report.exit_code)


def _run_ingest(
    settings: Settings, directory: Path, options: dict[str, Any], progress: "IngestProgress"
) -> "IngestReport":
    """In the `kb serve` that owns the data dir, if one runs; else here."""
    from cli.remote import ingest_in_server, server_for

    server = server_for(settings)
    if server is not None:
        return ingest_in_server(server, settings, directory, options, progress, _notice)
    from ingest.pipeline import ingest

    return ingest(settings, directory, **options, progress=progress)


def _notice(line: str) -> None:
    err.print(literal(line, style="dim"))


def _print_ingest_report(report: "IngestReport") -> None:
    title = ("Dry run: " if report.dry_run else "") + f"Ingest of {report.root}"
    table = Table(title=literal(title))
    for name in [*report.counts(), "seconds"]:
        table.add_column(name, justify="right")
    table.add_row(*map(str, report.counts().values()), f"{report.seconds:.1f}")
    out.print(table)
    for failure in report.failures:
        out.print(
            Text.assemble(("failed", "red"), "  ", literal(f"{failure.path}: {failure.error}"))
        )
    for skip in report.skips:
        out.print(Text.assemble(("skipped", "dim"), " ", literal(f"{skip.path}: {skip.reason}")))
    ocr = next((s.reason for s in report.skips if s.reason.startswith("OCR unavailable")), None)
    if ocr:  # scans and images wait for it; the first ingest after installing it reads them
        err.print(Text(ocr, style="yellow"))


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--collection", default="default", show_default=True, help="Collection to add to.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per sync.")
@fails_cleanly
def watch(directory: Path, collection: str, as_json: bool) -> None:
    """Keep DIRECTORY in sync: index it now, then again within seconds of each change.

    A burst of changes (a folder copied in, a branch checked out) is one sync. Runs in
    the `kb serve` that owns the data dir when one runs. Stop with Ctrl+C.

    \b
    Example:
        kb watch ~/notes --json
    """
    import threading

    from cli.watch import FolderWatch
    from kb.collections import check_collection
    from kb.watch import watched_path

    def on_sync(report: "IngestReport | None", error: str | None) -> None:
        if as_json:
            click.echo(json.dumps({"folder": str(folder), **_sync_json(report, error)}))
        elif report is None:
            err.print(Text.assemble(("sync failed:", "bold red"), " ", literal(error or "")))
        else:
            _print_ingest_report(report)

    folder = watched_path(directory)
    check_collection(collection)
    err.print(literal(f"kb: watching {folder} (Ctrl+C to stop)", style="dim"))
    FolderWatch(Settings(), folder, collection, on_sync).run(threading.Event())


def _sync_json(report: "IngestReport | None", error: str | None) -> dict[str, Any]:
    return {"error": error} if report is None else {**report.to_json(), "error": None}


@cli.command()
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, help="Number of results.")
@click.option(
    "--mode",
    type=click.Choice([mode.value for mode in SearchMode]),
    default="hybrid",
    show_default=True,
)
@click.option("--source", help="Only documents whose path matches this glob, e.g. '*AAPL*'.")
@click.option(
    "--collection", "collections", multiple=True, help="Only this collection (repeat for more)."
)
@click.option("--as", "as_user", help="Search as this user sees (through `kb serve`).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits.")
@fails_cleanly
def search(
    query: str,
    k: int,
    mode: str,
    source: str | None,
    collections: tuple[str, ...],
    as_user: str | None,
    as_json: bool,
) -> None:
    """Search the knowledge base.

    \b
    Example:
        kb search "total net sales" --source "*AAPL*" -k 3
        kb search "parental leave" --as alice
    """
    from cli.remote import server_for
    from kb.collections import check_collection

    settings = Settings()
    server = server_for(settings)
    within = frozenset(check_collection(name) for name in collections) or None
    if server is not None:
        hits = server.search(query, k, mode, source, within, as_user)
    elif as_user is not None:
        raise KBError("--as needs `kb serve` running: it knows the accounts and grants")
    else:
        from cli.service import open_searcher

        with open_searcher(settings) as searcher:
            hits = searcher.search(query, k, mode, source, within)  # type: ignore[arg-type]
    if as_json:
        print_json([hit.to_json() for hit in hits])
        return
    if not hits:
        out.print("No results.")
    for rank, hit in enumerate(hits, start=1):
        where = hit.source + (f"  {hit.locator.label}" if hit.locator else "")
        out.print(
            Text.assemble(literal(f"{rank}. {where}", "bold"), (f"  score {hit.score:.4f}", "dim"))
        )
        if hit.heading:
            out.print(Text.assemble("   ", literal(hit.heading, "cyan")))
        snippet = " ".join(hit.text.split())
        out.print(
            Text.assemble("   ", literal(snippet[:300]), "…" if len(snippet) > 300 else "", "\n")
        )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@fails_cleanly
def status(as_json: bool) -> None:
    """Show what the knowledge base holds."""
    from cli.remote import server_for
    from kb.status import IndexStatus

    settings = Settings()
    server = server_for(settings)
    if server is not None:
        found = IndexStatus.from_json(server.status())
    else:
        from cli.service import index_status

        found = index_status(settings)
    info = dataclasses.asdict(found)
    if as_json:
        print_json(info)
        return
    table = Table(show_header=False)
    for key, value in info.items():
        table.add_row(key.replace("_", " "), literal(value))
    out.print(table)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@fails_cleanly
def collections(as_json: bool) -> None:
    """List the collections with their documents and chunks."""
    from cli.remote import server_for

    settings = Settings()
    server = server_for(settings)
    if server is not None:
        found = server.collections()
    else:
        from cli.service import list_collections

        found = [dataclasses.asdict(row) for row in list_collections(settings)]
    if as_json:
        print_json(found)
        return
    table = Table("collection", "documents", "chunks")
    for row in found:
        table.add_row(literal(row["name"]), str(row["documents"]), str(row["chunks"]))
    out.print(table if found else "No collections: run `kb ingest DIR --collection NAME`.")


@cli.command()
@click.option("--host", help="Address to listen on (default KB_HOST, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default KB_PORT, 8000).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes on the port; above 1 needs the index and the chat database on "
    "servers (KB_INDEX_URL, KB_CHROMA_URL, a PostgreSQL KB_DATABASE_URL).",
)
@fails_cleanly
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the chat UI and the ChatKit API.

    \b
    Examples:
        kb serve --port 8080
        kb serve --workers 4     # a team's servers: any worker continues any thread
    """
    import logging

    import uvicorn

    from kb.index import KnowledgeIndex
    from kb.watch import parse_watch
    from kb.writer import running_server, writer_lock
    from server.app import FACTORY, check_workers, create_app
    from server.identity import check_settings
    from server.models import create_model

    settings = Settings()
    host, port = host or settings.host, port or settings.port
    settings = settings.model_copy(update={"host": host, "port": port})  # --host is allowed
    # Fail here with a clear message, not later inside uvicorn's start-up traceback.
    if workers > 1:
        check_workers(settings)
    if running := running_server(settings.data_dir):
        raise KBError(f"kb serve (pid {running.pid}) already serves this data dir: {running.url}")
    with nullcontext() if settings.index_url else writer_lock(settings.data_dir, "kb serve"):
        KnowledgeIndex.open(settings).close()
    create_model(settings)
    check_settings(settings)  # a bad identity setting fails here, with its name
    parse_watch(settings.watch)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    err.print(f"kb: serving http://{host}:{port}/ with {workers} worker(s) (Ctrl+C to stop)")
    if workers > 1:  # each worker process builds the app from the environment
        os.environ.update(KB_HOST=host, KB_PORT=str(port))
        uvicorn.run(
            FACTORY, factory=True, host=host, port=port, workers=workers, log_level="warning"
        )
        return
    app = create_app(settings, url=_loopback_url(host, port))
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _loopback_url(host: str, port: int) -> str:
    """Where CLI commands on this machine reach a server listening on `host`."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@cli.command()
@click.option("-n", "limit", default=20, show_default=True, help="How many recent calls.")
@click.option("--thread", "thread", help="Only calls made in this thread.")
@click.option("--user", "user", help="Only calls made by this user.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new calls as they happen.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@fails_cleanly
def logs(limit: int, thread: str | None, user: str | None, follow: bool, as_json: bool) -> None:
    """Show recent tool calls: every worker's from a PostgreSQL chat database
    (KB_DATABASE_URL), else data/logs/tool_calls.jsonl.

    \b
    Example:
        kb logs --thread thr_123 --json
    """
    from cli.logsources import LogFilter, open_source
    from cli.logview import follow_records, print_records

    only = LogFilter(thread, user)
    with open_source(Settings()) as source:
        print_records(out, source, only, limit, as_json)
        if follow:
            follow_records(out, source, only, as_json)


@cli.command(name="eval")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default="test", show_default=True, help="BEIR qrels split.")
@click.option("--answers", is_flag=True, help="Also run every SEC question through the agent.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@fails_cleanly
def evaluate(dataset: Path, split: str, answers: bool, as_json: bool) -> None:
    """Measure retrieval on DATASET: dense, lexical and hybrid side by side.

    DATASET is a BEIR folder (corpus.jsonl, queries.jsonl, qrels/), the SEC 10-Q
    folder (docs/, qna_data.csv), an image-only copy of some filings made by
    `python -m evaluation.scanned` (also originals/): OCR word recall, and search on
    the scans next to the text originals; or a question set with the facts each answer
    must state (questions.json, e.g. evaluation/sample-docs): fact recall of the chat
    model's answers. The corpus is indexed into a throwaway data dir; embeddings and OCR
    text come from the cache, so reruns are fast.

    \b
    Example:
        kb eval ../shared/eval/scifact --split train
        kb eval evaluation/sample-docs
    """
    from cli.progress import IngestProgressBar
    from evaluation.beir import evaluate_beir, is_beir
    from evaluation.facts import evaluate_facts, is_fact_set
    from evaluation.report import answers_table, fact_misses, facts_table, result_table
    from evaluation.scanned import evaluate_scanned, is_scanned
    from evaluation.sec import evaluate_sec, is_sec

    settings = Settings()
    with IngestProgressBar(err, enabled=err.is_terminal) as progress:
        if is_fact_set(dataset):
            result = evaluate_facts(dataset, settings, progress=progress)
        elif is_beir(dataset):
            result = evaluate_beir(dataset, split, settings, progress=progress)
        elif is_scanned(dataset):
            result = evaluate_scanned(dataset, settings, progress=progress)
        elif is_sec(dataset):
            result = evaluate_sec(dataset, settings, progress=progress, answers=answers)
        else:
            raise KBError(
                f"{dataset} is neither a BEIR folder, the SEC 10-Q layout nor a question set"
            )
    if as_json:
        print_json(result)
        return
    if "fact_recall" in result:
        out.print(facts_table(result))
        for line in fact_misses(result):
            out.print(Text(line, style="dim"))
        return
    out.print(result_table(result))
    if "word_recall" in result:
        out.print(f"OCR word recall: {result['word_recall']:.4f} over {result['pages']} pages")
    if "answers" in result:
        out.print(answers_table(result["answers"]))


@cli.command()
@click.option("--quick", is_flag=True, help="A small subset in under a minute (CI smoke test).")
@click.option("--soak", is_flag=True, help="Chats while the folder is re-ingested (5 min).")
@click.option(
    "--synthetic",
    type=click.IntRange(min=1000),
    multiple=True,
    metavar="CHUNKS",
    help="Only search latency on a synthetic index of CHUNKS chunks (repeatable).",
)
@click.option(
    "--corpus",
    "only_corpora",
    type=click.Choice(["sec_10q", "scifact"]),
    multiple=True,
    help="Only the ingest and search figures of this corpus (repeatable).",
)
@click.option(
    "--backends",
    default="embedded",
    show_default=True,
    metavar="LIST",
    help="Index backends to measure, comma-separated: embedded, servers (PostgreSQL and a "
    "Chroma server the bench starts; with them a full run adds the --team figures).",
)
@click.option(
    "--team",
    is_flag=True,
    help="Only ingest into servers next to embedded, and chat from 2 workers on servers.",
)
@click.option(
    "--postgres",
    metavar="URL",
    help="The PostgreSQL server where --backends servers creates (and drops) its databases "
    "(default: postgres@127.0.0.1:5432, as `make team`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@fails_cleanly
def bench(
    quick: bool,
    soak: bool,
    synthetic: tuple[int, ...],
    only_corpora: tuple[str, ...],
    backends: str,
    team: bool,
    postgres: str | None,
    as_json: bool,
) -> None:
    """Measure ingest, search and chat on this machine, side by side.

    The full run ingests the SEC 10-Q PDFs and SciFact (../shared/eval) cold, warm and
    with one file changed, next to the floor (parsing and embedding alone); times search
    on those indexes and on 100,000 and 1,000,000 synthetic chunks (the lexical side of
    hybrid search also as the previous release computed it); and streams chat answers
    from a real `kb serve`, 1 and 16 at a time. Building the synthetic indexes takes
    most of the run (Chroma inserts the vectors); `--synthetic 100000` times search
    alone on a synthetic index of that size; `--corpus sec_10q` the ingest and search of
    that corpus alone. `--quick` uses the sample docs. `--soak` instead runs 8 chats for
    5 minutes against `kb serve` while the sample docs change and are re-ingested every
    30 s (every fourth time rebuilt), and counts failed searches and changes not visible
    when `kb ingest` returned (`--quick`: 40 s).
    `--backends embedded,servers` also measures the index on servers (fresh PostgreSQL
    databases on --postgres, a Chroma server the bench starts): synthetic search at the
    sizes given (a full run: 100,000 chunks), `kb ingest` of SciFact into each backend from
    one warm embedding cache, and chat from `kb serve --workers 2`, 16 streams at once;
    `--team` runs those last two alone. The JSON is also written to
    <KB_DATA_DIR>/bench/<UTC timestamp>.json.

    \b
    Example:
        kb bench --quick --json
        kb bench --soak
        kb bench --synthetic 100000 --synthetic 1000000
        kb bench --corpus sec_10q
        kb bench --synthetic 10000 --synthetic 100000 --backends embedded,servers
        kb bench --team
    """
    from benchmarks.backends import BACKENDS
    from benchmarks.report import bench_tables, soak_tables
    from benchmarks.runner import Options, run_bench, save_result
    from benchmarks.soak import run_soak

    def log(line: str) -> None:
        err.print(f"bench: {line}", highlight=False)

    chosen = tuple(name.strip() for name in backends.split(",") if name.strip())
    if not chosen or set(chosen) - set(BACKENDS):
        raise KBError(f"--backends takes {', '.join(BACKENDS)} (comma-separated), not {backends!r}")
    options = Options(quick, synthetic, chosen, team, postgres, only_corpora)
    settings = Settings()
    result = run_soak(quick, log) if soak else run_bench(settings, options, log)
    path = save_result(result, settings.data_dir)
    err.print(f"bench: done in {result['duration_s']} s; wrote {path}", highlight=False)
    if as_json:
        print_json(result)
        return
    for table in (soak_tables if soak else bench_tables)(result):
        out.print(table)


def main() -> None:
    cli()


# Commands defined in their own modules register themselves on `cli`.
from cli import accounts  # noqa: E402, F401
