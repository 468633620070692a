"""Content negotiation as RFC 9110 §12.5.1 says: media ranges, q-values, the most specific range wins.

One function, `choose`, picks what to send from what the server offers; every route uses it.
"""

import re
from dataclasses import dataclass

from kg.errors import KGError

MAX_HEADER = 4096
MAX_RANGES = 64
TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
RANGE = re.compile(rf"\s*({TOKEN})\s*/\s*({TOKEN})\s*$")
PARAM = re.compile(rf"\s*({TOKEN})\s*=\s*({TOKEN}|\"(?:[^\"\\]|\\.)*\")\s*$")
# RFC 9110 weight is 0, 1 or a decimal with up to three digits; ".5" is not allowed by the
# grammar but old Java clients send it, so it is accepted as 0.5.
WEIGHT = re.compile(r"(?:0?(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")


class AcceptError(KGError):
    """The Accept header cannot be read; the request is answered 400, not guessed at."""


@dataclass(frozen=True)
class MediaRange:
    type: str
    subtype: str
    params: tuple
    q: float

    def matches(self, media_type):
        kind, _, rest = media_type.partition("/")
        subtype, _, offer_params = rest.partition(";")
        if self.type != "*" and self.type != kind.lower():
            return False
        if self.subtype != "*" and self.subtype != subtype.strip().lower():
            return False
        offered = set(_params(offer_params))
        return all(p in offered for p in self.params)

    @property
    def specificity(self):
        return (self.type != "*") + (self.subtype != "*") + bool(self.params)


def _params(text):
    for part in filter(None, (p.strip() for p in _split(text, ";"))):
        match = PARAM.match(part)
        if not match:
            raise AcceptError(f"Malformed media type parameter {part!r} in the Accept header.")
        yield match.group(1).lower(), match.group(2).strip('"')


def _split(text, sep):
    """Split on sep outside quoted strings (a quoted parameter value may hold a comma)."""
    parts, current, quoted, escaped = [], [], False, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def parse_accept(header):
    """The media ranges of an Accept header; a missing or empty header accepts anything."""
    if header is None or not header.strip():
        return [MediaRange("*", "*", (), 1.0)]
    if len(header) > MAX_HEADER:
        raise AcceptError(f"The Accept header is longer than {MAX_HEADER} characters.")
    elements = [e for e in _split(header, ",") if e.strip()]
    if len(elements) > MAX_RANGES:
        raise AcceptError(f"The Accept header lists more than {MAX_RANGES} media ranges.")
    ranges = []
    for element in elements:
        head, _, tail = element.partition(";")
        if head.strip() == "*":
            head = "*/*"
        match = RANGE.match(head)
        if not match:
            raise AcceptError(f"Malformed media range {element.strip()!r} in the Accept header.")
        kind, subtype = match.group(1).lower(), match.group(2).lower()
        if kind == "*" and subtype != "*":
            raise AcceptError(f"Malformed media range {element.strip()!r}: '*/{subtype}' is not allowed.")
        q, params = 1.0, []
        for name, value in _params(tail):
            if name == "q":
                if not WEIGHT.match(value) or value in ("", "."):
                    raise AcceptError(f"Malformed weight q={value} in the Accept header (use 0 to 1).")
                q = float(value)
                break  # parameters after q are accept-extensions, which do not select a type
            # Every answer is UTF-8; a charset in a range must not turn a usable answer into a 406.
            if name != "charset":
                params.append((name, value))
        ranges.append(MediaRange(kind, subtype, tuple(params), q))
    return ranges


def quality(media_type, ranges):
    """The q the client gives a media type: that of the most specific range that matches it."""
    matching = [r for r in ranges if r.matches(media_type)]
    if not matching:
        return 0.0
    return max(matching, key=lambda r: r.specificity).q


def choose(header, offers):
    """The offer the client prefers (ties go to the server's order), or None when none is acceptable.

    Raises AcceptError when the header cannot be read.
    """
    ranges = parse_accept(header)
    best, best_q = None, 0.0
    for offer in offers:
        q = quality(offer, ranges)
        if q > best_q:
            best, best_q = offer, q
    return best
