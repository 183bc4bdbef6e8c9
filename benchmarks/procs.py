"""Child processes the bench runs (`kb ingest`, the floor, `kb serve`) and their memory."""

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POLL_S = 0.1


@dataclass(frozen=True)
class Finished:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def python_command(module: str, *args: str) -> list[str]:
    """Run `module`'s `main()` with this interpreter (the repo is on PYTHONPATH)."""
    return [sys.executable, "-c", f"from {module} import main; main()", *args]


def kb_command(*args: str) -> list[str]:
    return python_command("cli.main", *args)


def previous_release_command(*args: str) -> list[str]:
    """`kb ARGS` reading PDFs as the previous release did (benchmarks/previous_release.py)."""
    return [sys.executable, "-m", "benchmarks.previous_release", *args]


def child_env(data_dir: Path, **settings: object) -> dict[str, str]:
    """This environment without any KB_ setting or API key, plus the given settings.

    Children run in a scratch working directory, so no `.env` file is read either.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.pop("OPENAI_API_KEY", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["KB_DATA_DIR"] = str(data_dir)
    env["KB_CACHE_DIR"] = str(data_dir / "cache")
    env.update({f"KB_{name.upper()}": str(value) for name, value in settings.items()})
    return env


def run_measured(command: list[str], env: dict[str, str], cwd: Path) -> Finished:
    """Run to completion; wall time and the peak RSS of the process tree (polled)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=errors)
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss(process.pid))
            time.sleep(POLL_S)
        seconds = time.perf_counter() - started
        out.seek(0)
        errors.seek(0)
        return Finished(seconds, peak / 2**20, process.returncode, out.read(), errors.read())


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            parent = _parent(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += _rss(current)
        stack.extend(children.get(current, []))
    return total


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _rss(pid: int) -> int:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")
