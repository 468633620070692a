"""kg ingest: turn a research library page (plain text, in the seed page's format) into Turtle drafts.

The page is a library title, a headline and an overview paragraph, then sections: a heading line and a
description paragraph, each followed by studies (a title line, then a paragraph of the first author line
"Name, et al.", the summary and the "More" / "Read study" links). Paragraphs are runs of non-blank lines.

Titles, names and summaries are copied verbatim. Figures in a summary become msc:Outcome drafts marked
msc:reviewStatus "unreviewed", with their sentence, value, unit and timepoint but no measure: what a
figure measures is a curator's call. Lines that fit nowhere are reported with their numbers, never dropped.
"""

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rdflib.namespace import RDFS, XSD

from kg import config
from kg.commit import write_atomic
from kg.errors import DataParseError, UsageError
from kg.figures import figures
from kg.namespaces import PREFIXES as NAMESPACES

# sha256 of the seed page as stored in tests/fixtures/seed: only those exact bytes may default their
# provenance to config.SEED_PAGE; any other page must name its public IRI (see ingest()).
SEED_SHA256 = "3bea6585b0d8e00de8b8827d23dfa5233c22967ce51d08b16ee06c4647fc44f0"
MORE, READ = "More", "Read study"
AUTHOR = re.compile(r"^(?P<name>.+?),\s*et al\.?$")
# The header every draft starts with, as the curated files write it.
HEADER_PREFIXES = {**NAMESPACES, "rdfs": RDFS, "xsd": XSD}
PREFIXES = f"@base <{config.BASE}> .\n" + "".join(
    f"@prefix {name + ':':<8} <{HEADER_PREFIXES[name]}> .\n"
    for name in ("msc", "rdfs", "xsd", "skos", "schema", "dcterms", "prov", "qudt", "unit"))


@dataclass
class Study:
    title: str
    author: str
    summary: str
    position: int
    slug: str = ""


@dataclass
class Section:
    title: str
    description: str
    position: int
    slug: str
    studies: list = field(default_factory=list)


@dataclass
class Page:
    title: str
    headline: str
    overview: str | None
    sections: list
    unplaced: list  # (line number, text) of every line no rule placed


@dataclass
class Ingested:
    files: list
    unplaced: list
    studies: list  # study IRIs, in page order


def slug(text):
    """Lowercase ASCII words joined by hyphens: "Damián Garcia-Olmo" -> "damian-garcia-olmo"; an
    apostrophe joins ("Crohn's disease" -> "crohns-disease", as the curated IRIs have it)."""
    joined = re.sub(r"['\u2019]", "", text)
    ascii_text = unicodedata.normalize("NFKD", joined).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def study_slug(author, title):
    # The year is not on the page (decision 0001 uses first author + year), so the surname is
    # completed by a hash of the title: the same study always gets the same IRI, two do not clash.
    surname = slug(author.split()[-1]) if author.split() else "study"
    return f"{surname}-{hashlib.sha256(title.encode('utf-8')).hexdigest()[:8]}"


def parse_page(text, name="page"):
    """Read a page's text into a Page; raise DataParseError when it has no library header or study."""
    paragraphs, current = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            current.append((number, line.strip()))
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    if len(paragraphs) < 3 or len(paragraphs[0]) != 1 or len(paragraphs[1]) != 1 or _is_body(paragraphs[2]):
        raise DataParseError(name, "does not start with a library title, a headline and an overview")
    unplaced, sections, seen = [], [], set()
    overview = _text(paragraphs[2]) if _is_prose(paragraphs[2]) else None
    i = 3 if overview is not None else 2
    while i < len(paragraphs):
        paragraph = paragraphs[i]
        following = paragraphs[i + 1] if i + 1 < len(paragraphs) else None
        single = len(paragraph) == 1 and paragraph[0][1] not in (MORE, READ) and not _is_body(paragraph)
        if single and following and _is_body(following) and sections:
            study = _study(paragraph[0][1], following, len(sections[-1].studies) + 1, unplaced)
            if study and study.slug not in seen:
                seen.add(study.slug)
                sections[-1].studies.append(study)
            elif study:  # the same study twice: a second file would overwrite the first
                unplaced.extend(paragraph + following)
            i += 2
        elif single and following and _is_prose(following) and not paragraph[0][1].endswith("."):
            title, position = paragraph[0][1], len(sections) + 1
            section_slug = slug(title) or f"section-{position}"
            if any(s.slug == section_slug for s in sections):
                section_slug += f"-{position}"
            sections.append(Section(title, _text(following), position, section_slug))
            i += 2
        else:
            unplaced.extend(paragraph)
            i += 1
    if not any(s.studies for s in sections):
        raise DataParseError(name, "no section with a study found (a heading and description, then a "
                                   "title line and a paragraph: 'Name, et al.', summary, More, Read study)")
    return Page(paragraphs[0][0][1], paragraphs[1][0][1], overview, sections, unplaced)


def _text(paragraph):
    return " ".join(line for _, line in paragraph)


def _is_body(paragraph):
    """A study's paragraph: starts with a "Name, et al." line, or ends in the "More"/"Read study" links."""
    lines = [line for _, line in paragraph]
    return bool(AUTHOR.match(lines[0])) or (len(lines) > 1 and lines[0] not in (MORE, READ)
                                              and (MORE in lines or READ in lines))


def _is_prose(paragraph):
    return not _is_body(paragraph) and _text(paragraph).endswith((".", "!", "?"))


def _study(title, body, position, unplaced):
    """A study from its title and paragraph; the author line may lack "et al." (a single author)."""
    lines = [line for _, line in body]
    match = AUTHOR.match(lines[0])
    author = match["name"] if match else lines[0]
    end = next((k for k, line in enumerate(lines) if line in (MORE, READ)), len(lines))
    summary = " ".join(lines[1:end])
    # After the summary come "More" and "Read study", in that order, once each; anything else is stray.
    expected = [MORE, READ]
    for number, line in body[end:]:
        if expected and line in expected:
            expected = expected[expected.index(line) + 1:]
        else:
            unplaced.append((number, line))
    if not summary:
        unplaced.append(body[0])
        return None
    return Study(title, author, summary, position, study_slug(author, title))


def ingest(page, out_dir=None, force=False, source=None):
    """Write library.ttl and studies/<slug>.ttl drafts for PAGE into out_dir; return what was done."""
    page = Path(page)
    try:
        raw = page.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise UsageError(f"{page}: cannot read the page: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise DataParseError(page, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if source is None:
        # Provenance must name the public page: a file: IRI would differ per machine and say nothing
        # to a reader, so only the seed page itself (byte for byte) may default to its known IRI.
        if hashlib.sha256(raw).hexdigest() != SEED_SHA256:
            raise UsageError(f"{page}: name the page's public IRI with --source (only the seed has one)")
        source = config.SEED_PAGE
    if not re.fullmatch(r"https?://[^\s<>\"{}|\\^`]+", source):
        raise UsageError(f"--source {source!r}: not an http(s) IRI")
    parsed = parse_page(text, str(page))
    out_dir = Path(out_dir) if out_dir else Path("drafts") / (slug(page.stem) or "page")
    contents = {out_dir / "library.ttl": _library(parsed, source)}
    for section in parsed.sections:
        for study in section.studies:
            contents[out_dir / "studies" / f"{study.slug}.ttl"] = _study_file(study, section, source)
    existing = [str(path) for path in contents if path.exists()]
    if existing and not force:
        raise UsageError(f"{existing[0]} exists; not overwritten (use --force to replace the drafts)")
    (out_dir / "studies").mkdir(parents=True, exist_ok=True)
    for path, content in contents.items():
        write_atomic(path, content)
    studies = [f"{config.BASE}study/{s.slug}" for sec in parsed.sections for s in sec.studies]
    return Ingested(list(contents), parsed.unplaced, studies)


def _lit(text):
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _library(page, source):
    src = f"<{source}>"
    sections = " , ".join(f"<library/{s.slug}>" for s in page.sections)
    out = [PREFIXES, f"# Drafts written by kg ingest from {source}:", "# the library, its sections and one"
           " indication per section, named as the section. Texts are verbatim from the page.", "",
           "<library> a msc:ResearchLibrary ;", f"    dcterms:title {_lit(page.title)}@en ;",
           f"    schema:headline {_lit(page.headline)}@en ;"]
    if page.overview:
        out.append(f"    dcterms:description {_lit(page.overview)}@en ;")
    out += [f"    msc:hasSection {sections} ;", f"    prov:wasDerivedFrom {src} .", ""]
    for s in page.sections:
        out += [f"<library/{s.slug}> a msc:LibrarySection ;", f"    dcterms:title {_lit(s.title)}@en ;",
                f"    schema:position {s.position} ;", f"    msc:sectionIndication <indication/{s.slug}> ;",
                f"    dcterms:description {_lit(s.description)}@en ;", f"    prov:wasDerivedFrom {src} .", "",
                f"<indication/{s.slug}> a msc:Indication ;", f"    skos:prefLabel {_lit(s.title)}@en ;",
                f"    prov:wasDerivedFrom {src} .", ""]
    return "\n".join(out)


def _study_file(study, section, source):
    src, iri, person = f"<{source}>", f"<study/{study.slug}>", f"<person/{slug(study.author) or 'author'}>"
    drafts = figures(study.summary)
    count = {}
    names = []
    for number, *_ in drafts:  # numbered per sentence, so the IRIs stay put when the text does
        count[number] = count.get(number, 0) + 1
        names.append(f"<study/{study.slug}/outcome/draft-{number}-{count[number]}>")
    out = [PREFIXES, f"# Draft written by kg ingest from {source}:",
           f"# study {study.position} of the section {_lit(section.title)}. Title, first author and",
           "# summary are verbatim; every outcome is an unreviewed draft of one figure of the summary,",
           "# without a measure: review it, then remove msc:reviewStatus.",
           "", f"{iri} a msc:Study ;", f"    dcterms:title {_lit(study.title)}@en ;",
           f"    msc:firstAuthor {person} ;", f"    schema:author {person} ;",
           f"    msc:summary {_lit(study.summary)}@en ;", f"    msc:listedIn <library/{section.slug}> ;",
           f"    schema:position {study.position} ;",
           # The section's indication is the one the page states for sure; a narrower one is the curator's.
           f"    msc:indication <indication/{section.slug}> ;"]
    if names:
        out.append("    msc:outcome " + " ,\n        ".join(names) + " ;")
    out += [f"    prov:wasDerivedFrom {src} .", "", f"{person} a schema:Person ;",
            f"    schema:name {_lit(study.author)} ;", f"    prov:wasDerivedFrom {src} .", ""]
    for name, (_, sentence, shown, value, unit, times) in zip(names, drafts, strict=True):
        out += [f"{name} a msc:Outcome ;", f"    rdfs:label {_lit('Unreviewed draft: ' + shown)}@en ;",
                '    msc:reviewStatus "unreviewed" ;', f'    qudt:numericValue "{value}"^^xsd:decimal ;',
                f"    qudt:unit {unit} ;"]
        if not times:
            out.append("    msc:timepointStated false ;")
        else:
            out.append(f'    msc:timepoint "{times[0]}"^^xsd:duration ;')
            if len(set(times)) > 1:
                stated = ", ".join(sorted(set(times)))
                note = f"The sentence states several timepoints ({stated}); the nearest was taken."
                out.append(f"    skos:editorialNote {_lit(note)}@en ;")
        out += [f"    msc:sourceText {_lit(sentence)} ;", f"    prov:wasDerivedFrom {src} .", ""]
    return "\n".join(out)
