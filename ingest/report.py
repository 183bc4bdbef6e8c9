"""What an ingest did: the summary `kb ingest` prints, locally or from the server."""

from dataclasses import asdict, dataclass, field
from typing import Any

from ingest.scan import Failure, Skip


@dataclass
class IngestReport:
    root: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        return 2 if self.failures else 0

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "deleted": len(self.deleted),
            "skipped": len(self.skips),
            "failed": len(self.failures),
            "chunks": self.chunks,
        }

    def to_json(self) -> dict[str, Any]:
        """What `kb ingest --json` prints."""
        return {
            **self.counts(),
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
            "failures": [{"path": f.path, "error": f.error} for f in self.failures],
            "skips": [{"path": s.path, "reason": s.reason} for s in self.skips],
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, for the server to hand the report to the CLI whole."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "IngestReport":
        return cls(
            **{
                **data,
                "failures": [Failure(**f) for f in data["failures"]],
                "skips": [Skip(**s) for s in data["skips"]],
            }
        )
