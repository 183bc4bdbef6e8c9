"""How search results are shown to the model, and read back by the offline model."""

import re
from dataclasses import dataclass

from kb.types import Hit

HEADER = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Passage:
    number: int
    where: str  # what describe() wrote: source, locator, heading path
    text: str


def describe(hit: Hit) -> str:
    """`guide.md, page 3 — Install > Linux`, `plan.xlsx, Budget!A2:D40 — Budget`: what a
    reader needs to find the passage."""
    where = hit.source + (f", {hit.locator.label}" if hit.locator else "")
    return f"{where} — {hit.heading}" if hit.heading else where


def format_passages(hits: list[Hit], first_number: int = 1) -> str:
    if not hits:
        return "No passages found in the knowledge base for this query."
    blocks = [
        f"[{number}] {describe(hit)}\n{hit.passage.strip()}"
        for number, hit in enumerate(hits, start=first_number)
    ]
    return "\n\n".join(blocks)


def parse_passages(text: str) -> list[Passage]:
    headers = list(HEADER.finditer(text))
    passages: list[Passage] = []
    ends = [following.start() for following in headers[1:]] + [len(text)]
    for current, end in zip(headers, ends, strict=False):
        body = text[current.end() : end].strip()
        passages.append(Passage(int(current.group(1)), current.group(2), body))
    return passages
