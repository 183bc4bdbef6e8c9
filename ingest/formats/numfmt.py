"""Excel number formats applied to cell values, so a cell reads as the user sees it:
"$1,234.50", "12.5%", "2024-03-31", not 1234.5, 0.125 and a datetime.

openpyxl gives the stored value and the format code; it does not render them. This covers
the formats people use (General, fixed decimals, thousands separators, percentages,
currency and literal text, negative sections, scientific, dates and times); anything
else falls back to the General rendering of the value.
"""

import datetime as dt
import re

_QUOTED = re.compile(r'"([^"]*)"')
_BRACKETS = re.compile(r"\[([^\]]*)\]")
_NUMBER_PART = re.compile(r"[0#?][0#?,]*(?:\.[0#?]*)?|\.[0#?]+")
_DATE_TOKENS = re.compile(
    r'"[^"]*"|\\.|yyyy|yy|mmmmm|mmmm|mmm|mm|m|dddd|ddd|dd|d|hh|h|ss|s|am/pm|a/p|\.0+|.',
    re.IGNORECASE,
)
_DATE_CODES = {
    "yyyy": "%Y", "yy": "%y", "mmmm": "%B", "mmm": "%b", "mm": "%m", "dddd": "%A",
    "ddd": "%a", "dd": "%d", "hh": "%H", "ss": "%S",
}  # fmt: skip


def display(value: object, number_format: str | None) -> str:
    """The text a spreadsheet application shows for `value` under `number_format`."""
    code = number_format or "General"
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return _date(value, code)
    if isinstance(value, int | float):
        return _number(float(value), code)
    return str(value)


def general(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}"


def _sections(code: str) -> list[str]:
    """A format's `;`-separated sections (positive; negative; zero; text), quotes respected."""
    parts: list[str] = []
    current, quoted = "", False
    for char in code:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _number(value: float, code: str) -> str:
    sections = _sections(code)
    section, sign = sections[0], "-" if value < 0 else ""
    if value < 0 and len(sections) > 1:
        section, sign = sections[1], ""  # the negative section shows its own sign, "(1,234)"
    elif value == 0 and len(sections) > 2:
        section = sections[2]
    section = _BRACKETS.sub(_bracket, section)  # colours and conditions go, currencies stay
    literal = _QUOTED.sub(lambda m: m.group(1).replace("0", "\0"), section)
    literal = re.sub(r"\\(.)|_.|\*.", lambda m: m.group(1) or "", literal)
    match = _NUMBER_PART.search(literal)
    if section.lower() in ("general", "") or match is None:
        return literal.replace("\0", "0") if match is None and section else general(value)
    if "e+" in section.lower() or "/" in section:  # scientific and fractions: General
        return sign + general(abs(value))
    number = abs(value) * (100 ** literal.count("%"))
    part = match.group()
    decimals = len(part.split(".")[1]) if "." in part else 0
    grouped = "," in part.split(".")[0] and not part.split(".")[0].endswith(",")
    text = f"{number:,.{decimals}f}" if grouped else f"{number:.{decimals}f}"
    rendered = literal[: match.start()] + text + literal[match.end() :]
    return sign + rendered.replace("\0", "0")


def _bracket(match: re.Match[str]) -> str:
    inner = match.group(1)
    return inner[1:].split("-")[0] if inner.startswith("$") else ""  # [$€-407] -> €


def _date(value: dt.datetime | dt.date | dt.time, code: str) -> str:
    code = _BRACKETS.sub("", _sections(code)[0])
    if code.lower() in ("general", "") or not re.search(r"[ymdhs]", code, re.IGNORECASE):
        return _iso(value)
    tokens = _DATE_TOKENS.findall(code)
    twelve_hour = any(t.lower() in ("am/pm", "a/p") for t in tokens)
    out: list[str] = []
    for i, token in enumerate(tokens):
        out.append(_date_token(value, token, tokens, i, twelve_hour))
    return "".join(out)


def _date_token(
    value: dt.datetime | dt.date | dt.time, token: str, tokens: list[str], i: int, twelve: bool
) -> str:
    lower = token.lower()
    if lower in ("m", "mm") and _is_minutes(tokens, i):
        return f"{getattr(value, 'minute', 0):0{len(lower)}d}"
    if lower in ("h", "hh"):
        hour = getattr(value, "hour", 0)
        hour = (hour % 12 or 12) if twelve else hour
        return f"{hour:0{len(lower)}d}"
    if lower in ("am/pm", "a/p"):
        return "AM" if getattr(value, "hour", 0) < 12 else "PM"
    if lower in ("m", "d", "s"):
        attribute = {"m": "month", "d": "day", "s": "second"}[lower]
        return str(getattr(value, attribute, 0))
    if lower in _DATE_CODES:
        return value.strftime(_DATE_CODES[lower])
    if lower == "mmmmm":
        return value.strftime("%B")[:1]
    if token.startswith('"'):
        return token[1:-1]
    if token.startswith("\\"):
        return token[1:]
    if token.startswith("."):  # fractions of a second are not stored to that precision
        return ""
    return token


def _is_minutes(tokens: list[str], i: int) -> bool:
    """In a date format "m" is a month, except right after hours or right before seconds."""
    before = [t.lower() for t in tokens[:i] if t.strip(" :")]
    after = [t.lower() for t in tokens[i + 1 :] if t.strip(" :")]
    return bool(before and before[-1] in ("h", "hh")) or bool(after and after[0] in ("s", "ss"))


def _iso(value: dt.datetime | dt.date | dt.time) -> str:
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
