"""`kb bench --quick --json`: every figure present and sane, and the JSON file written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

KB = [sys.executable, "-c", "from cli.main import main; main()"]

INGEST_FIGURES = {
    "cold_s",
    "previous_cold_s",
    "cold_vs_previous",
    "floor_s",
    "ratio_to_floor",
    "warm_s",
    "warm_fraction",
    "one_changed_s",
    "chunks",
    "chunks_per_s",
    "peak_rss_mb",
}
CHAT_FIGURES = {
    "first_delta_p50_ms",
    "first_delta_p95_ms",
    "total_p50_ms",
    "total_p95_ms",
    "requests_per_s",
    "errors",
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    data_dir = tmp_path_factory.mktemp("bench") / "data"
    env = {**_environment(), "KB_DATA_DIR": str(data_dir)}
    finished = subprocess.run(
        [sys.executable, "-c", "from cli.main import main; main()", "bench", "--quick", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(finished.stdout), data_dir


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KB_")}


@pytest.mark.slow
def test_quick_bench_writes_the_json_it_prints(quick_run):
    result, data_dir = quick_run
    written = list((data_dir / "bench").glob("*.json"))
    assert len(written) == 1
    assert json.loads(written[0].read_text()) == result
    assert result["quick"] is True
    assert result["duration_s"] > 0  # speed is for make bench, not a timed test
    machine = result["machine"]
    assert machine["cores"] >= 1 and machine["memory_gb"] > 0 and machine["torch"]


@pytest.mark.slow
def test_quick_bench_ingest_figures(quick_run):
    figures = quick_run[0]["ingest"]["sample_docs"]
    assert figures.keys() >= INGEST_FIGURES
    assert figures["chunks"] > 0 and figures["chunks_per_s"] > 0
    for key in ("cold_s", "floor_s", "warm_s", "one_changed_s", "peak_rss_mb"):
        assert figures[key] > 0, key
    assert figures["ratio_to_floor"] == pytest.approx(
        figures["cold_s"] / figures["floor_s"], rel=0.01
    )
    assert figures["cold_vs_previous"] == pytest.approx(
        figures["cold_s"] / figures["previous_cold_s"], rel=0.01
    )
    assert 0 < figures["warm_fraction"] < 1
    assert figures["warm_s"] < figures["cold_s"]


@pytest.mark.slow
def test_quick_bench_search_latencies(quick_run):
    search = quick_run[0]["search"]
    assert set(search) == {"sample_docs", "synthetic_10k"}
    for modes in search.values():
        assert set(modes) == {"hybrid", "dense", "lexical"}
        for stats in modes.values():
            assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"]
            assert 0 < stats["cpu_p50_ms"] <= stats["cpu_p95_ms"]
    synthetic = quick_run[0]["indexes"]["synthetic_10k"]
    assert synthetic["chunks"] == 10_000
    assert set(synthetic["hybrid_lexical_side"]) == {"previous", "now"}


@pytest.mark.slow
def test_quick_bench_ocr_pages_per_second(quick_run):
    ocr = quick_run[0]["ocr"]
    assert ocr["pages"] == 2 and ocr["characters"] > 100
    assert ocr["pages_per_s"] == pytest.approx(ocr["pages"] / ocr["seconds"], rel=0.05)


@pytest.mark.slow
def test_quick_bench_chat_has_no_errors(quick_run):
    chat = quick_run[0]["chat"]
    assert set(chat) == {"streams_1", "streams_16"}
    for stats in chat.values():
        assert stats.keys() >= CHAT_FIGURES
        assert stats["errors"] == 0
        assert 0 < stats["first_delta_p50_ms"] <= stats["first_delta_p95_ms"]
        assert 0 < stats["total_p50_ms"] <= stats["total_p95_ms"]
        assert stats["first_delta_p50_ms"] <= stats["total_p50_ms"]
        assert stats["requests_per_s"] > 0
    assert chat["streams_16"]["concurrency"] > 1


@pytest.mark.slow
def test_quick_soak_fails_no_search_and_shows_every_change(tmp_path: Path) -> None:
    env = {**_environment(), "KB_DATA_DIR": str(tmp_path / "data")}
    finished = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cli.main import main; main()",
            "bench",
            "--soak",
            "--quick",
            "--json",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    result = json.loads(finished.stdout)
    searches = result["searches"]
    assert searches["count"] > 0 and searches["failed"] == 0, searches["first_error"]
    assert result["chat"]["requests"] > 0 and result["chat"]["errors"] == 0
    assert [r["rebuild"] for r in result["rounds"]] == [False, False, True]
    assert result["ingests_visible_at_once"] == result["ingests"] == 3


def test_bench_refuses_an_unknown_backend() -> None:
    finished = subprocess.run(
        [*KB, "bench", "--synthetic", "1000", "--backends", "embedded,cloud"],
        cwd=REPO,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode != 0
    assert "--backends takes embedded, servers" in finished.stderr


@pytest.mark.slow
def test_synthetic_search_on_servers(index_server_url: str, tmp_path: Path) -> None:
    """The smallest synthetic index written to PostgreSQL and a Chroma server the bench
    starts, and searched there in every mode."""
    env = {**_environment(), "KB_DATA_DIR": str(tmp_path / "data")}
    command = ["bench", "--synthetic", "1000", "--backends", "servers", "--json"]
    finished = subprocess.run(
        [*KB, *command, "--postgres", index_server_url],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    result = json.loads(finished.stdout)
    assert set(result["search"]) == {"synthetic_1k_servers"}
    for stats in result["search"]["synthetic_1k_servers"].values():
        assert 0 < stats["p50_ms"] <= stats["p95_ms"]
    index = result["indexes"]["synthetic_1k_servers"]
    assert index["backend"] == "servers" and index["chunks"] == 1000
