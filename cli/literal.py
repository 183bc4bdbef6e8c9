"""Text from users and documents, ready for rich: never read as markup, and control
characters (or undecodable bytes of a file name) shown as escapes, never obeyed."""

import unicodedata

from rich.text import Text

VISIBLE_CONTROLS = "\n\t"


def literal(value: object, style: str = "") -> Text:
    return Text("".join(map(_visible, str(value))), style=style)


def _visible(char: str) -> str:
    if char in VISIBLE_CONTROLS or unicodedata.category(char) not in ("Cc", "Cs"):
        return char
    return char.encode("unicode_escape").decode("ascii")
