"""Timepoints, durations, values and changes in plain language, as the pages write them."""

import re

from rdflib import Literal

from kg.namespaces import MSC, UNIT
from kg.sparql import prefixed

DURATION = re.compile(r"P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?"
                      r"(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


def _duration_parts(duration):
    match = DURATION.fullmatch(str(duration).strip())
    if match is None:
        return None
    years, months, days, hours, minutes, seconds = (float(g) if g else 0 for g in match.groups())
    return years, months, days, hours, minutes, seconds


def _plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def timepoint_words(duration, source_text=""):
    """An xsd:duration timepoint in words: baseline, day 42, week 12, 6 months, 4 years.

    Durations have no weeks, so a week is written as 7 days (decision 0002). A day count divisible
    by 7 reads as weeks unless the outcome's own sentence counts in days ("at day 42").
    """
    parts = _duration_parts(duration)
    if parts is None:
        return str(duration)
    years, months, days, hours, minutes, seconds = parts
    if not any(parts):
        return "baseline"
    if hours or minutes or seconds:
        return str(duration)
    if days and not (years or months):
        n = int(days)
        said_days = re.search(rf"\bday\s+{n}\b", source_text or "", re.IGNORECASE)
        if n % 7 == 0 and not said_days:
            return f"week {n // 7}"
        return f"day {n}"
    if years and not (months or days):
        return _plural(int(years), "year")
    if months and not (years or days):
        return _plural(int(months), "month")
    return str(duration)


def duration_words(duration):
    """A length of time in words: 104 weeks, 6 months, 4 years."""
    parts = _duration_parts(duration)
    if parts is None:
        return str(duration)
    years, months, days, hours, minutes, seconds = parts
    if days and not (years or months or hours or minutes or seconds):
        n = int(days)
        return _plural(n // 7, "week") if n % 7 == 0 else _plural(n, "day")
    if years and not (months or days or hours or minutes or seconds):
        return _plural(int(years), "year")
    if months and not (years or days or hours or minutes or seconds):
        return _plural(int(months), "month")
    return str(duration)


def timepoint_days(duration):
    parts = _duration_parts(duration) if duration is not None else None
    if parts is None:
        return float("inf")
    years, months, days, hours, minutes, seconds = parts
    return years * 365.25 + months * 30.44 + days + (hours * 3600 + minutes * 60 + seconds) / 86400


def value_words(value, unit, numerator=None, denominator=None):
    """An outcome's value as a reader says it: 80%, 7, 203 points, 87% (13/15), 13/15."""
    text = None
    if value is not None:
        number = str(value)
        if unit == UNIT.PERCENT:
            text = f"{number}%"
        elif unit is None or unit == UNIT.NUM:
            text = number
        elif unit == MSC.ScorePoint:
            text = f"{number} points"
        else:
            text = f"{number} {prefixed(unit).strip('<>')}"
    fraction = f"{numerator}/{denominator}" if numerator is not None and denominator is not None else None
    if text and fraction:
        return f"{text} ({fraction})"
    return text or fraction or ""


def change_words(direction, significant):
    words = [str(direction)] if direction is not None else []
    if significant is not None:
        flag = significant.toPython() if isinstance(significant, Literal) else significant
        words.append("statistically significant" if flag is True or str(flag).lower() == "true"
                     else "not statistically significant")
    return ", ".join(words)
