"""Ingest figures for one corpus: cold, floor, warm and one file changed, side by side;
and cold as the previous release ran it (torch fp32, pypdf, one parsing process), in the
same run."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.corpora import Corpus, change_one_file
from benchmarks.procs import (
    Finished,
    child_env,
    kb_command,
    previous_release_command,
    python_command,
    run_measured,
)
from kb.embedder import LocalEmbedder
from kb.errors import KBError
from kb.settings import TORCH, Settings


@dataclass(frozen=True)
class Workdir:
    docs: Path
    data: Path
    scratch: Path


def bench_ingest(
    corpus: Corpus, work: Workdir, settings: Settings, log: Callable[[str], None]
) -> dict:
    """Fills `work.docs` and leaves the ingested index in `work.data`."""
    work.docs.mkdir(parents=True)
    corpus.fill(work.docs)
    _warm_page_cache(work.docs)
    env = ingest_env(work.data, settings, settings.embedding_runtime)
    log(f"{corpus.name}: cold ingest, previous release (torch fp32, pypdf)")
    previous_env = ingest_env(work.data.with_name("previous"), settings, TORCH, parse_workers=1)
    previous, _ = _ingest(work, previous_env, previous_release_command)
    log(f"{corpus.name}: cold ingest ({settings.local_runtime})")
    cold, cold_report = _ingest(work, env)
    log(f"{corpus.name}: floor (parse + embed alone)")
    floor, parts = _floor(work, env, settings)
    log(f"{corpus.name}: warm ingest, nothing changed")
    warm, _ = _ingest(work, env)
    changed = change_one_file(work.docs)
    log(f"{corpus.name}: ingest with {changed.name} changed")
    one, one_report = _ingest(work, env)
    if one_report["updated"] != 1:
        raise KBError(f"expected one updated file after changing {changed.name}: {one_report}")
    chunks = cold_report["chunks"]
    return {
        "cold_s": round(cold.seconds, 2),
        "previous_cold_s": round(previous.seconds, 2),
        "cold_vs_previous": round(cold.seconds / previous.seconds, 3),
        "floor_s": round(floor.seconds, 2),
        "ratio_to_floor": round(cold.seconds / floor.seconds, 3),
        "warm_s": round(warm.seconds, 2),
        "warm_fraction": round(warm.seconds / cold.seconds, 4),
        "one_changed_s": round(one.seconds, 2),
        "chunks": chunks,
        "chunks_per_s": round(chunks / cold.seconds, 1),
        "peak_rss_mb": round(cold.peak_rss_mb, 1),
        "files": cold_report["added"],
        "failed": cold_report["failed"],
        "floor_parse_s": round(parts["parse_s"], 2),
        "floor_embed_s": round(parts["embed_s"], 2),
        "changed_file": changed.name,
    }


def ingest_env(data: Path, settings: Settings, runtime: str, **more: object) -> dict[str, str]:
    """The environment of a `kb ingest` into `data` with the bench's settings (and `more`)."""
    return child_env(
        data,
        embedding_runtime=runtime,
        embedding_batch_size=settings.embedding_batch_size,
        chunk_tokens=settings.chunk_tokens,
        max_file_mb=settings.max_file_mb,
        sentence_windows=settings.sentence_windows,
        **more,
    )


def _ingest(
    work: Workdir, env: dict[str, str], kb: Callable[..., list[str]] = kb_command
) -> tuple[Finished, dict]:
    finished = run_measured(kb("ingest", str(work.docs), "--json"), env, work.scratch)
    return finished, json_result(finished, "kb ingest")


def _floor(work: Workdir, env: dict[str, str], settings: Settings) -> tuple[Finished, dict]:
    command = python_command(
        "benchmarks.floor",
        str(work.docs),
        f"--batch-size={settings.embedding_batch_size}",
        f"--max-tokens={min(settings.chunk_tokens, LocalEmbedder.max_tokens)}",
        f"--max-bytes={int(settings.max_file_mb * 2**20)}",
        *([] if settings.sentence_windows else ["--whole-chunks"]),
    )
    finished = run_measured(command, env, work.scratch)
    return finished, json_result(finished, "the floor")


def json_result(finished: Finished, what: str) -> dict:
    if finished.returncode not in (0, 2):  # 2: some files failed, reported in the JSON
        raise KBError(f"{what} exited {finished.returncode}: {finished.stderr[-2000:]}")
    try:
        return json.loads(finished.stdout)
    except json.JSONDecodeError as error:
        raise KBError(f"{what} printed no JSON ({error}): {finished.stderr[-2000:]}") from None


def _warm_page_cache(folder: Path) -> None:
    """Read every file once, so neither cold nor floor pays for the disk."""
    for path in folder.rglob("*"):
        if path.is_file():
            path.read_bytes()
