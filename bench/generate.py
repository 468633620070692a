"""Generate a synthetic research library of N studies, shaped like the curated data, for benchmarks.

    python bench/generate.py --studies 10000 -o bench/out/10000
    python bench/generate.py --check          # generate 200 studies and validate them with the shapes

Every study is modelled as data/studies/*.ttl models one, and points at the real indications of
data/library.ttl and the real concepts of data/vocabulary.ttl; only its own nodes are new, minted under
study/synthetic-NNNNNN and person/synthetic-NNNNNN so they never collide with curated IRIs. Every fact
names <https://example.org/synthetic-source> as its source, never a real record.

Output is deterministic: study i depends only on the seed and i (not on N), so the first 1000 studies
of a 10k library are the 1k library.
"""

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The real files the synthetic studies point into; validation and the benchmarks load them too.
BASE_FILES = [ROOT / "ontology" / "msc.ttl"] + [ROOT / "data" / name
                                                for name in ("vocabulary.ttl", "library.ttl", "sources.ttl")]
STUDIES_PER_FILE = 1000
SOURCE = "https://example.org/synthetic-source"
SECTION = "library/crohns-disease"

PREFIXES = """@base <https://w3id.org/msc-kg/> .
@prefix msc:     <https://w3id.org/msc-kg/ontology#> .
@prefix rdfs:    <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:     <http://www.w3.org/2001/XMLSchema#> .
@prefix schema:  <https://schema.org/> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix prov:    <http://www.w3.org/ns/prov#> .
@prefix fabio:   <http://purl.org/spar/fabio/> .
@prefix prism:   <http://prismstandard.org/namespaces/basic/2.0/> .
@prefix qudt:    <http://qudt.org/schema/qudt/> .
@prefix unit:    <http://qudt.org/vocab/unit/> .
"""

# (slug in data/library.ttl, how a title names it, weight)
INDICATIONS = [
    ("inflammatory-bowel-disease", "inflammatory bowel disease", 1),
    ("crohns-disease", "Crohn's disease", 4),
    ("medically-refractory-crohns-disease", "medically refractory Crohn's disease", 2),
    ("luminal-crohns-disease-refractory-to-biologics", "luminal Crohn's disease refractory to biologics", 2),
    ("crohns-disease-strictures", "strictures in Crohn's disease", 1),
    ("perianal-fistulas-in-crohns-disease", "perianal fistulas in Crohn's disease", 3),
    ("complex-perianal-fistulas-in-crohns-disease", "complex perianal fistulas in Crohn's disease", 2),
    ("peripouch-fistulas-in-crohns-disease-of-the-pouch", "peripouch fistulas in Crohn's disease", 1),
]
PHASES = [("1", "phase 1", 3), ("1-2", "phase 1/2", 3), ("1b-2a", "phase 1b/2a", 1), ("2", "phase 2", 3),
          ("3", "phase 3", 1)]
DESIGNS = ["randomized", "open-label", "single-arm", "dose-escalation", "controlled", "double-blind"]
# (cell source slug or None, cell type slug, words for titles and labels); None: the source does not say.
CELLS = [
    ("bone-marrow", "bone-marrow-mesenchymal-stem-cell", "bone marrow-derived"),
    ("adipose-tissue", "adipose-mesenchymal-stem-cell", "adipose-derived"),
    ("umbilical-cord", "umbilical-cord-mesenchymal-stem-cell", "umbilical cord"),
    (None, "mesenchymal-stem-cell", ""),
]
CELL_WEIGHTS = [4, 3, 2, 1]
# (measure slug, unit, unit of analysis, sentence template, low, high, the indications it fits: a word
# of their slug, "" for all); {v} is the value, {when} the time.
MEASURES = [
    ("clinical-response", "unit:PERCENT", "patients", "{v}% of patients had a clinical response{when}.",
     20, 90, ""),
    ("clinical-remission", "unit:PERCENT", "patients", "{v}% of patients were in clinical remission{when}.",
     10, 80, ""),
    ("endoscopic-improvement", "unit:PERCENT", "patients",
     "{v}% of patients showed endoscopic improvement{when}.", 10, 70, ""),
    ("fistula-closure", "unit:PERCENT", "fistulas", "{v}% of the treated fistulas were closed{when}.", 20, 95,
     "fistulas"),
    ("fistula-healing", "unit:PERCENT", "fistulas",
     "{v}% of fistulas showed complete clinical and radiographic healing{when}.", 15, 85, "fistulas"),
    ("complete-stricture-resolution", "unit:PERCENT", "strictures",
     "{v}% of strictures resolved completely{when}.", 5, 60, "strictures"),
    ("cdai-score", "msc:ScorePoint", "patients", "The mean CDAI score was {v}{when}.", 90, 380, ""),
    ("serious-adverse-events", "unit:NUM", "events", "Serious adverse events reported{when}: {v}.", 0, 6, ""),
    ("treatment-related-serious-adverse-events", "unit:NUM", "events",
     "Serious adverse events possibly related to the cells{when}: {v}.", 0, 2, ""),
    ("hospitalisation", "unit:NUM", "events", "Hospitalisations recorded{when}: {v}.", 0, 8, ""),
]
# (xsd:duration, words); weeks are written as days (docs/decisions/0002-durations.md). None: not stated.
TIMEPOINTS = [("P42D", "at day 42"), ("P84D", "at week 12"), ("P168D", "at week 24"), ("P336D", "at week 48"),
              ("P6M", "at 6 months"), ("P1Y", "at 1 year"), ("P2Y", "at 2 years"), ("P4Y", "at 4 years"),
              (None, ""), (None, "")]
JOURNALS = ["J Crohns Colitis", "Gastroenterology", "Gut", "Stem Cells Transl Med", "Inflamm Bowel Dis",
            "Dis Colon Rectum", "Cytotherapy", "Stem Cell Res Ther", "Clin Gastroenterol Hepatol",
            "Aliment Pharmacol Ther"]
FIRST_NAMES = ["Anna", "Bram", "Carla", "Daniel", "Elena", "Farid", "Greta", "Hiroshi", "Ines", "Jonas",
               "Katja", "Luis", "Mei", "Nils", "Olga", "Pablo", "Qing", "Rosa", "Sven", "Tanja",
               "Umar", "Vera", "Wim", "Xenia", "Yusuf", "Zofia", "Amir", "Britt", "Chen", "Dora"]
SURNAMES = ["Andersson", "Bakker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ito",
            "Jansen", "Kowalski", "Lindqvist", "Moreau", "Nowak", "Okafor", "Petrov", "Quinn", "Rossi",
            "Schmidt", "Tanaka", "Urban", "Visser", "Weber", "Xu", "Yilmaz", "Zimmermann", "Alvarez",
            "Berg", "Cohen", "Dahl", "Evans", "Ferrari", "Gomez", "Horvath", "Ivanova", "Jensen", "Kim",
            "Larsen", "Meyer", "Novak", "Olsen", "Park", "Ramos", "Silva", "Torres", "Ueda", "Vargas",
            "Wagner", "Yang", "Zhou"]
INITIALS = "ABCDEFGHJKLMNPRSTW"
NAME_COUNT = len(FIRST_NAMES) * len(INITIALS) * len(SURNAMES)


def person_name(index):
    """A distinct name for each of the first NAME_COUNT people; a coprime stride spreads neighbours apart."""
    code = (index * 7919) % NAME_COUNT
    first, rest = code % len(FIRST_NAMES), code // len(FIRST_NAMES)
    initial, surname = rest % len(INITIALS), rest // len(INITIALS)
    return f"{FIRST_NAMES[first]} {INITIALS[initial]} {SURNAMES[surname]}"


def text(value, lang=None):
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"@{lang}' if lang else f'"{escaped}"'


def node(subject, pairs):
    """A Turtle block for subject and its (predicate, object) pairs, and its number of triples.

    An object that is itself a list of pairs is written as a blank node [ ... ].
    """
    lines, count = [], 0
    for predicate, value in pairs:
        if isinstance(value, list):
            inner = " ;\n        ".join(f"{p} {o}" for p, o in value)
            value, count = f"[ {inner} ]", count + len(value)
        lines.append(f"    {predicate} {value}")
        count += 1
    return f"{subject}\n" + " ;\n".join(lines) + " .\n", count


def study(seed, i):
    """The Turtle of synthetic study i (from 1), its triple count and the index of its first author."""
    rng = random.Random(f"{seed}:{i}")
    slug = f"study/synthetic-{i:06d}"
    indication, indication_words, _ = rng.choices(INDICATIONS, weights=[w for *_, w in INDICATIONS])[0]
    phase, phase_words, _ = rng.choices(PHASES, weights=[w for *_, w in PHASES])[0]
    designs = rng.sample(DESIGNS, rng.choices([1, 2], weights=[8, 2])[0])
    source, cell_type, cell_words = rng.choices(CELLS, weights=CELL_WEIGHTS)[0]
    donor = rng.choices(["allogeneic", "autologous"], weights=[3, 2])[0]
    # Prolific authors are few: early people are eligible for every later study.
    author = rng.randrange(i // 3 + 20)
    therapy = " ".join(w for w in (donor, cell_words, "mesenchymal stem cells") if w)
    # The number keeps titles unique, which StudyShape requires.
    title = (f"A {phase_words} {' '.join(designs)} study of {therapy} for {indication_words} "
             f"(synthetic {i:06d})")

    outcomes, sentences, blocks, total = [], [], [], 0
    fitting = [m for m in MEASURES if m[-1] in indication]
    for measure, unit, counted, template, low, high, _ in rng.sample(
            fitting, rng.choices([2, 3, 4, 5], weights=[16, 2, 1, 1])[0]):
        value = rng.randint(low, high)
        duration, when = rng.choice(TIMEPOINTS)
        sentence = template.format(v=value, when=f" {when}" if when else "")
        sentence = sentence[0].upper() + sentence[1:]
        label = measure.replace("-", " ").capitalize() + (f" {when}" if when else "")
        iri = f"<{slug}/outcome/{measure}>"
        timing = (("msc:timepoint", f'"{duration}"^^xsd:duration') if duration
                  else ("msc:timepointStated", "false"))
        block, count = node(iri, [
            ("a", "msc:Outcome"), ("rdfs:label", text(label, "en")), ("msc:measure", f"<measure/{measure}>"),
            ("msc:unitOfAnalysis", f"<unit-of-analysis/{counted}>"),
            ("qudt:numericValue", f'"{value}"^^xsd:decimal'), ("qudt:unit", unit), timing,
            ("msc:sourceText", text(sentence)), ("prov:wasDerivedFrom", f"<{SOURCE}>"),
        ])
        outcomes.append(iri)
        sentences.append(sentence)
        blocks.append(block)
        total += count

    person = f"<person/synthetic-{author:06d}>"
    block, count = node(f"<{slug}>", [
        ("a", "msc:Study"), ("dcterms:title", text(title, "en")),
        # The summary is the outcome sentences, as on the library page, so each sourceText is found in it.
        ("msc:summary", text(" ".join(sentences), "en")),
        ("msc:firstAuthor", person), ("schema:author", person),
        ("msc:listedIn", f"<{SECTION}>"), ("schema:position", str(i)),
        ("msc:indication", f"<indication/{indication}>"), ("msc:phase", f"<phase/{phase}>"),
        *[("msc:designFeature", f"<design/{d}>") for d in designs],
        ("msc:intervention", f"<{slug}/intervention>"), ("msc:publication", f"<{slug}/publication>"),
        *[("msc:outcome", o) for o in outcomes],
        ("prov:wasDerivedFrom", f"<{SOURCE}>"),
    ])
    blocks.insert(0, block)
    total += count

    cells = [("msc:cellType", f"<cell-type/{cell_type}>")]
    cells += [("msc:cellSource", f"<cell-source/{source}>")] if source else []
    block, count = node(f"<{slug}/intervention>", [
        ("a", "msc:Intervention"), ("rdfs:label", text(therapy.capitalize(), "en")), *cells,
        ("msc:donorRelation", f"<donor-relation/{donor}>"),
    ])
    blocks.insert(1, block)
    total += count

    block, count = node(f"<{slug}/publication>", [
        ("a", "msc:Publication"), ("prism:publicationName", text(rng.choice(JOURNALS))),
        ("fabio:hasPublicationYear", f'"{rng.randint(2005, 2025)}"^^xsd:gYear'),
        # 10.5555 is Crossref's prefix for test DOIs: it resolves to nothing real.
        ("prism:doi", text(f"10.5555/msc-synthetic.{i:06d}")),
        ("msc:attribution", [
            ("a", "msc:SourceAttribution"),
            ("msc:attributedProperty", "prism:publicationName"),
            ("msc:attributedProperty", "fabio:hasPublicationYear"), ("msc:attributedProperty", "prism:doi"),
            ("dcterms:source", f"<{SOURCE}>"),
        ]),
    ])
    blocks.insert(2, block)
    total += count
    return "\n".join(blocks), total, author


def people_and_source(authors):
    """The synthetic source record and every person some study names."""
    block, total = node(f"<{SOURCE}>", [
        ("a", "prov:Entity"), ("rdfs:label", text("Synthetic benchmark source (not a real record)", "en")),
        ("rdfs:comment", text("Synthetic data made by bench/generate.py for benchmarks; every fact citing "
                              "this source is invented and describes no real study or person.", "en")),
    ])
    blocks = [block]
    for index in sorted(authors):
        block, count = node(f"<person/synthetic-{index:06d}>", [
            ("a", "schema:Person"), ("schema:name", text(person_name(index))),
            ("prov:wasDerivedFrom", f"<{SOURCE}>"),
        ])
        blocks.append(block)
        total += count
    return "\n".join(blocks), total


def write_atomically(path, content):
    """Write via a temporary file in the same directory, so a reader never sees half a file. A file
    that already holds content is left alone: its unchanged modification time lets an on-disk store
    loaded from it open as it is (minutes at 100k studies) and the validation cache trust it."""
    try:
        if path.read_text(encoding="utf-8") == content:
            return
    except (OSError, UnicodeDecodeError):
        pass  # missing or unreadable: written below
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(content)
    os.chmod(temporary, 0o644)  # mkstemp makes it private; the data is for anyone to read
    os.replace(temporary, path)


def generate(count, directory, seed=1, per_file=STUDIES_PER_FILE):
    """Write count studies into directory, per_file studies a file; returns (files, triples).

    per_file=1 lays the library out as data/studies/ does, one file per study (what incremental
    validation works by)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    header = (f"# SYNTHETIC benchmark data from bench/generate.py (seed {seed}): invented studies, "
              "not curated.\n" + PREFIXES + "\n")
    files, triples, authors = [], 0, set()
    for first in range(1, count + 1, per_file):
        last = min(first + per_file - 1, count)
        blocks = []
        for i in range(first, last + 1):
            block, n, author = study(seed, i)
            blocks.append(block)
            triples += n
            authors.add(author)
        number = (first - 1) // per_file + 1
        path = directory / f"synthetic-studies-{number:0{6 if per_file < 10 else 4}d}.ttl"
        write_atomically(path, header + "\n".join(blocks))
        files.append(path)
    # A smaller library written over a larger one would otherwise keep the larger one's last files.
    for stale in set(directory.glob("synthetic-studies-*.ttl")) - set(files):
        stale.unlink()
    content, n = people_and_source(authors)
    path = directory / "synthetic-people.ttl"
    write_atomically(path, header + content)
    return [*files, path], triples + n


def check(count=200, seed=1):
    """Generate count studies twice (they must match byte for byte) and validate them with the shapes."""
    from kg.validation import validate  # pyshacl is slow to import, and only the check needs it

    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        files, triples = generate(count, one, seed)
        again, _ = generate(count, two, seed)
        same = all(a.read_bytes() == b.read_bytes() for a, b in zip(files, again, strict=True))
        print(f"{count} studies, {triples} triples ({triples / count:.1f} per study), "
              f"deterministic: {'yes' if same else 'NO'}")
        started = time.perf_counter()
        report = validate(BASE_FILES + files)
        seconds = time.perf_counter() - started
    counts = report.counts()
    print(f"validated with {len(BASE_FILES)} real files in {seconds:.1f} s: "
          f"{counts['violations']} violations, {counts['warnings']} warnings, {counts['infos']} infos")
    kinds = Counter((result.severity, result.message) for result in report.results)
    for (severity, message), n in sorted(kinds.items()):
        print(f"  {n:5d} x {severity}: {message[:150]}")
    return 0 if report.conforms and same else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, help="how many studies (default 1000, or 200 with --check)")
    parser.add_argument("-o", "--output", type=Path, help="directory to write the Turtle files into")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-file", type=int, default=STUDIES_PER_FILE,
                        help=f"studies a Turtle file (default {STUDIES_PER_FILE}; 1 as in data/studies/)")
    parser.add_argument("--check", action="store_true",
                        help="generate 200 studies (or --studies if given) and validate them; "
                             "exit 1 on violations")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.studies or 200, args.seed)
    if args.output is None:
        parser.error("-o DIR is required (or --check)")
    count = args.studies or 1000
    started = time.perf_counter()
    files, triples = generate(count, args.output, args.seed, args.per_file)
    print(f"{count} studies, {triples} triples ({triples / count:.1f} per study) "
          f"in {len(files)} files under {args.output}, {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
