"""The bench result as rich tables, one per section (figures as rows, so they fit)."""

from rich.table import Table

INGEST_ROWS = [
    ("cold_s", "cold s (empty index and cache)"),
    ("previous_cold_s", "cold s, previous release (torch fp32, pypdf)"),
    ("cold_vs_previous", "cold / previous release's"),
    ("floor_s", "floor s (parse + embed alone)"),
    ("ratio_to_floor", "cold / floor"),
    ("warm_s", "warm s (nothing changed)"),
    ("warm_fraction", "warm / cold"),
    ("one_changed_s", "one file changed s"),
    ("chunks", "chunks"),
    ("chunks_per_s", "chunks / s (cold)"),
    ("peak_rss_mb", "peak RSS MB (cold)"),
]
CHAT_ROWS = [
    ("first_delta_p50_ms", "first delta p50 ms"),
    ("first_delta_p95_ms", "first delta p95 ms"),
    ("total_p50_ms", "total p50 ms"),
    ("total_p95_ms", "total p95 ms"),
    ("requests_per_s", "requests / s"),
    ("requests", "requests"),
    ("errors", "errors"),
]
TEAM_INGEST_ROWS = [
    ("embedded_s", "embedded s"),
    ("servers_s", "servers s"),
    ("servers_vs_embedded", "servers / embedded"),
    ("chunks", "chunks"),
    ("embedded_chunks_per_s", "embedded chunks / s"),
    ("servers_chunks_per_s", "servers chunks / s"),
]
OCR_ROWS = [
    ("pages", "pages"),
    ("dpi", "dpi"),
    ("workers", "Tesseract processes at once"),
    ("seconds", "seconds"),
    ("pages_per_s", "pages / s"),
]


def bench_tables(result: dict) -> list[Table]:
    """The sections the run measured (`--synthetic`: search alone)."""
    sections = [("ingest", _ingest), ("search", _search), ("indexes", _builds)]
    sections += [("indexes", _lexical_side)]
    sections += [("chat", _chat), ("ocr", _ocr), ("team", _team_ingest), ("team", _team_chat)]
    return [_machine(result), *(table(result) for key, table in sections if key in result)]


def _ocr(result: dict) -> Table:
    return _by_rows("OCR (Tesseract, no cache)", {result["ocr"]["source"]: result["ocr"]}, OCR_ROWS)


def _machine(result: dict) -> Table:
    kind = "quick" if result["quick"] else "full"
    table = Table(title=f"kb bench ({kind} run, {result['duration_s']} s)", show_header=False)
    for key, value in result["machine"].items():
        table.add_row(key.replace("_", " "), str(value))
    return table


def _ingest(result: dict) -> Table:
    return _by_rows("Ingest", result["ingest"], INGEST_ROWS)


def _chat(result: dict) -> Table:
    columns = {
        f"{name} ({stats.get('concurrency', 1)} at once)": stats
        for name, stats in result["chat"].items()
    }
    return _by_rows("Chat over HTTP (offline model)", columns, CHAT_ROWS)


def _team_ingest(result: dict) -> Table:
    columns = {name: _ingest_pair(figures) for name, figures in result["team"]["ingest"].items()}
    return _by_rows("kb ingest, servers vs embedded (embeddings cached)", columns, TEAM_INGEST_ROWS)


def _ingest_pair(figures: dict) -> dict:
    embedded, servers = figures["embedded"], figures["servers"]
    return {
        "embedded_s": embedded["ingest_s"],
        "servers_s": servers["ingest_s"],
        "servers_vs_embedded": figures["servers_vs_embedded"],
        "chunks": embedded["chunks"],
        "embedded_chunks_per_s": embedded["chunks_per_s"],
        "servers_chunks_per_s": servers["chunks_per_s"],
    }


def _team_chat(result: dict) -> Table:
    stats = result["team"]["chat"]
    columns = {
        f"{name} ({figures.get('concurrency', 1)} at once)": figures
        for name, figures in stats.items()
    }
    return _by_rows("Chat, kb serve --workers 2, index on servers", columns, CHAT_ROWS)


def _by_rows(title: str, columns: dict[str, dict], rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title)
    table.add_column("")
    for name in columns:
        table.add_column(name, justify="right")
    for key, label in rows:
        table.add_row(label, *(str(figures[key]) for figures in columns.values()))
    return table


LATENCY = ("p50_ms", "p95_ms", "p99_ms", "cpu_p50_ms", "cpu_p95_ms")
LATENCY_COLUMNS = ("p50 ms", "p95 ms", "p99 ms", "CPU p50 ms", "CPU p95 ms")


def _search(result: dict) -> Table:
    return _latencies("Search latency (k=5)", ("index", "mode"), result["search"])


def _builds(result: dict) -> Table:
    table = Table(title="Synthetic indexes built (KnowledgeIndex.write_documents)")
    for name in ("index", "backend", "chunks", "build s", "chunks / s"):
        table.add_column(name, justify="left" if name in ("index", "backend") else "right")
    for name, index in result["indexes"].items():
        figures = (index["chunks"], index["build_s"], index["chunks_per_s"])
        table.add_row(name, index["backend"], *map(str, figures))
    return table


def _lexical_side(result: dict) -> Table:
    sides = {
        name: index["hybrid_lexical_side"]
        for name, index in result["indexes"].items()
        if "hybrid_lexical_side" in index  # embedded only
    }
    title = "Lexical side of a hybrid search (depth 100): previous release vs now"
    return _latencies(title, ("index", "algorithm"), sides)


def _latencies(title: str, keys: tuple[str, str], rows: dict[str, dict[str, dict]]) -> Table:
    table = Table(title=title)
    for name in (*keys, *LATENCY_COLUMNS):
        table.add_column(name, justify="left" if name in keys else "right")
    for index, kinds in rows.items():
        for kind, stats in kinds.items():
            table.add_row(index, kind, *(str(stats[key]) for key in LATENCY))
    return table


def soak_tables(result: dict) -> list[Table]:
    plan = result["plan"]
    title = (
        f"Soak: {plan['chats']} chats for {plan['seconds']:.0f} s, an ingest every "
        f"{plan['interval_s']:.0f} s (every {plan['rebuild_every']}th a rebuild)"
    )
    summary = Table(title=title, show_header=False)
    searches, chat = result["searches"], result["chat"]
    for label, value in [
        ("searches (agent tool calls)", searches["count"]),
        ("failed searches", searches["failed"]),
        (
            "search p50 / p95 / max ms",
            f"{searches['p50_ms']} / {searches['p95_ms']} / {searches['max_ms']}",
        ),
        ("chat requests", chat["requests"]),
        ("chat errors", chat["errors"]),
        ("chat answer p50 / p95 ms", f"{chat['total_p50_ms']} / {chat['total_p95_ms']}"),
        (
            "ingests with every change visible at once",
            f"{result['ingests_visible_at_once']} of {result['ingests']}",
        ),
        ("ingest p50 / max s", f"{result['ingest_p50_s']} / {result['ingest_max_s']}"),
    ]:
        summary.add_row(label, str(value))
    rounds = Table(title="Soak rounds")
    for name in ("round", "kind", "ingest s", "added", "updated", "deleted", "not visible"):
        rounds.add_column(name, justify="right")
    for r in result["rounds"]:
        kind = "rebuild" if r["rebuild"] else "sync"
        counts = (r["ingest_s"], r["added"], r["updated"], r["deleted"])
        rounds.add_row(str(r["round"]), kind, *map(str, counts), "; ".join(r["not_visible"]) or "-")
    return [summary, rounds]
