"""The figures a study summary states: each number with its sentence, unit and nearby timepoints.

kg ingest turns them into msc:Outcome drafts. A number counts as a figure when it is a percentage or
counts something ("12 patients"); numbers that name things (phase 2, cohort 1, NCT codes) do not.
"""

import re

WORDS = {w: n for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90})
NUMBER = r"\d+(?:\.\d+)?|" + "|".join(sorted(WORDS, key=len, reverse=True))
# A figure stands alone: not part of a code such as Cx601 or NCT01541579, nor of "twenty-five".
FIGURE = re.compile(rf"(?<![\w.\-])(?:{NUMBER})(?![\w\-]|\.\d)", re.IGNORECASE)
PERCENT_AFTER = re.compile(r"\s?%")
# Numbers that name things rather than count them: phase 2, cohort 1, [n = 4], "from 370 to 203" (scores).
NOT_A_COUNT = re.compile(r"\b(?:phase|cohort|group|n\s*=|from|to|grade|type)\s*$", re.IGNORECASE)
COUNTED_NOUN = re.compile(r" (?!(?:to|and|or|out|than|times|x)\b)[A-Za-z]")
UNITS = {"day": "D", "week": "W", "month": "M", "year": "Y"}
TIMEPOINTS = (
    re.compile(r"\bW(?P<n>\d+)\b"),  # W12: week 12
    re.compile(r"\b(?P<unit>day|week|month|year)\s+(?P<n>\d+)\b", re.IGNORECASE),  # day 42
    # 6 months, 104-week
    re.compile(rf"(?<![\w.\-])(?P<n>{NUMBER})[\s-](?P<unit>day|week|month|year)s?\b", re.IGNORECASE),
)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\[(])")


def figures(summary):
    """(sentence number, sentence, figure as written, value, unit, timepoints) for every figure."""
    found = []
    for number, sentence in enumerate(SENTENCE_END.split(summary), start=1):
        times = [(m.start(), m.end(), _duration(m)) for p in TIMEPOINTS for m in p.finditer(sentence)]
        for match in FIGURE.finditer(sentence):
            start, end = match.span()
            if any(s <= start < e for s, e, _ in times):
                continue  # the number of a timepoint
            percent = PERCENT_AFTER.match(sentence, end)
            if percent:
                unit, shown = "unit:PERCENT", sentence[start:percent.end()]
            elif COUNTED_NOUN.match(sentence, end) and not NOT_A_COUNT.search(sentence[:start]):
                unit, shown = "unit:NUM", match[0]
            else:
                continue
            value = WORDS.get(match[0].lower(), match[0])
            near = sorted(times, key=lambda t: min(abs(t[0] - end), abs(t[1] - start)))
            found.append((number, sentence, shown, str(value), unit, [t[2] for t in near]))
    return found


def _duration(match):
    """xsd:duration has no weeks (decision 0002): weeks become days, W12 -> P84D."""
    n = match["n"]
    n = WORDS[n.lower()] if n.lower() in WORDS else int(n)
    unit = UNITS[match["unit"].lower()] if "unit" in match.groupdict() else "W"
    return f"P{n * 7}D" if unit == "W" else f"P{n}{unit}"
