"""The README documents every setting and every command (the datasette practice)."""

from pathlib import Path

from cli.main import cli
from kb.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_setting():
    for name, field in Settings.model_fields.items():
        env = "OPENAI_API_KEY" if name == "openai_api_key" else f"KB_{name.upper()}"
        assert f"`{env}`" in README, f"README does not document {env}"
        assert field.description, f"setting {name} has no description"


def test_readme_documents_every_command():
    for command in cli.commands:
        assert f"kb {command}" in README, f"README does not document `kb {command}`"


def test_quick_start_comes_first():
    start = README.index("## Quick start")
    assert start < README.index("make run") < README.index("make test")
    assert start == README.index("## ")
