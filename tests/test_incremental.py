"""Incremental validation: the same results as a full validation, re-validating only what changed."""

import json
import re
import shutil
from dataclasses import asdict

import pytest

from kg import cli, config, dataset, incremental, validation
from kg.incremental import Progress, validate_changed

DUPLICATE = """@base <https://w3id.org/msc-kg/> .
@prefix msc: <https://w3id.org/msc-kg/ontology#> .
@prefix dcterms: <http://purl.org/dc/terms/> .

<study/copy-of-a-study> a msc:Study ;
    dcterms:title "{title}"@en .
"""


def copy_library(root):
    """A copy of the curated files under root."""
    files = []
    for path in dataset.default_files():
        copy = root / "repo" / path.relative_to(config.ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        files.append(copy)
    return files


@pytest.fixture
def library(tmp_path):
    """A copy of the curated files that a test may change."""
    return copy_library(tmp_path)


def comparable(report):
    # Blank node labels are each parse's own.
    return sorted(tuple(re.sub(r"_:\w+", "_:", str(v)) for v in asdict(r).values()) for r in report.results)


def study_files(files):
    return [f for f in files if f.parent.name == "studies"]


def run(files, cache):
    progress = Progress()
    report = validate_changed(files, cache_dir=cache, progress=progress)
    return report, progress


def add_duplicate(files):
    """A new study file whose study has the title of the first study, in capitals."""
    first = study_files(files)[0]
    title = str(next(dataset.parse_file(first).objects(None, validation.DCTERMS.title)))
    path = first.parent / "copy-of-a-study.ttl"
    path.write_text(DUPLICATE.format(title=title.upper().replace('"', '\\"')), encoding="utf-8")
    return [*files, path]


def test_a_second_run_validates_nothing_again(library, tmp_path):
    first, progress = run(library, tmp_path / "cache")
    assert progress.validated == study_files(library) and progress.cached == []
    second, progress = run(library, tmp_path / "cache")
    assert progress.validated == [] and progress.cached == study_files(library)
    assert progress.passes == []
    assert comparable(second) == comparable(first)


def test_a_changed_study_file_alone_is_validated_again(library, tmp_path):
    run(library, tmp_path / "cache")
    changed = study_files(library)[1]
    text = changed.read_text(encoding="utf-8")
    # Drop the study's summary: a violation that only this file's validation can find.
    changed.write_text(re.sub(r"\n    msc:summary [^\n]*;", "", text, count=1), encoding="utf-8")
    report, progress = run(library, tmp_path / "cache")
    assert progress.validated == [changed]
    assert any(r.file == dataset.display_path(changed) and r.path == "msc:summary" for r in report.violations)
    assert comparable(report) == comparable(validation.validate(library))


def test_a_changed_shared_file_validates_every_study_again(library, tmp_path):
    run(library, tmp_path / "cache")
    vocabulary = next(f for f in library if f.name == "vocabulary.ttl")
    vocabulary.write_text(vocabulary.read_text(encoding="utf-8") + "\n# touched\n", encoding="utf-8")
    _, progress = run(library, tmp_path / "cache")
    assert progress.validated == study_files(library)


def test_a_title_shared_across_two_files_is_caught(library, tmp_path):
    run(library, tmp_path / "cache")
    files = add_duplicate(library)
    report, progress = run(files, tmp_path / "cache")
    assert progress.validated == [files[-1]]
    shared = [r for r in report.violations if r.shape == str(validation.SHAPES.StudyTitleShape)]
    original = study_files(library)[0]
    assert {r.file for r in shared} == {dataset.display_path(files[-1]), dataset.display_path(original)}
    assert comparable(report) == comparable(validation.validate(files))


@pytest.mark.parametrize("change", ["none", "duplicate", "unknown term", "unlinked person"])
def test_results_equal_a_full_validation(library, tmp_path, change):
    files = library
    if change == "duplicate":
        files = add_duplicate(library)
    elif change == "unknown term":
        target = study_files(library)[2]
        text = target.read_text(encoding="utf-8")
        target.write_text(text.replace("msc:phase", "msc:phaze", 1), encoding="utf-8")
    elif change == "unlinked person":
        # A person no study names: a warning on a node whose file is the study file, decided by the
        # links of every file.
        target = study_files(library)[3]
        target.write_text(target.read_text(encoding="utf-8") + '\n<person/nobody-at-all> a schema:Person ;\n'
                          '    schema:name "Nobody At All" ;\n'
                          '    prov:wasDerivedFrom <https://example.org/nowhere> .\n', encoding="utf-8")
    full = validation.validate(files)
    cold, _ = run(files, tmp_path / "cache")
    warm, _ = run(files, tmp_path / "cache")
    assert comparable(cold) == comparable(full)
    assert comparable(warm) == comparable(full)
    # Each change shows in the results, so the comparison covers it.
    expected = {"none": None, "duplicate": "StudyTitleShape", "unknown term": "DefinedTermShape",
                "unlinked person": "PersonShape"}[change]
    if expected:
        assert str(validation.SHAPES[expected]) in {r.shape for r in full.results}, full.to_text()


def test_kg_validate_changed_prints_what_a_full_validation_prints(library, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(incremental, "CACHE_DIR", tmp_path / "cache")
    files = [str(f) for f in add_duplicate(library)]
    assert cli.main(["validate", *files]) == 1
    full = capsys.readouterr().out
    for _ in range(2):  # cold, then from the cache
        assert cli.main(["validate", "--changed", *files]) == 1
        assert re.sub(r"_:\w+", "_:", capsys.readouterr().out) == re.sub(r"_:\w+", "_:", full)
    assert list((tmp_path / "cache").glob("validate-*.json"))
    assert cli.main(["validate", "--changed", "--format", "turtle", *files]) == 2
    assert "--changed" in capsys.readouterr().err


def cache_files(cache):
    return sorted(cache.glob("validate-*.json"))


@pytest.mark.parametrize("damage", ["not JSON", "another version", "wrong types", "results of another kind"])
def test_a_damaged_cache_is_ignored_and_rebuilt(library, tmp_path, damage):
    cache = tmp_path / "cache"
    first, _ = run(library, cache)
    assert len(cache_files(cache)) == 2  # the per-file results, and the last run's outcome
    for path in cache_files(cache):
        content = json.loads(path.read_text(encoding="utf-8"))
        if damage == "not JSON":
            text = path.read_text(encoding="utf-8")[:-40]
        elif damage == "another version":
            text = json.dumps({**content, "version": "0"})
        elif damage == "wrong types":
            text = json.dumps({**content, "files": {k: {"hash": 1} for k in content.get("files", {})},
                               "passes": [], "violations": "none", "conforms": "yes"})
        else:  # well-formed JSON whose results are not results
            text = json.dumps({**content, "files": {k: {**v, "results": [{"severity": "Fatal"}]}
                                                    for k, v in content.get("files", {}).items()},
                               "passes": {k: {**v, "results": [{}]}
                                          for k, v in content.get("passes", {}).items()},
                               "violations": [{"focus": "x"}]})
        path.write_text(text, encoding="utf-8")
    assert incremental.last_outcome(library, cache) is None
    report, progress = run(library, cache)
    assert progress.validated == study_files(library)
    assert comparable(report) == comparable(first)
    _, progress = run(library, cache)  # rebuilt: nothing to validate again
    assert progress.validated == [] and progress.passes == []
    assert incremental.last_outcome(library, cache) == incremental.Outcome.of(report)


def test_a_cache_that_cannot_be_written_is_reported_and_the_results_stand(library, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    said = []
    progress = Progress()
    report = validate_changed(library, cache_dir=blocker / "cache", progress=progress, warn=said.append)
    assert comparable(report) == comparable(validation.validate(library))
    assert said and all("cannot write the validation cache" in m and str(blocker) in m for m in said), said
    assert incremental.last_outcome(library, blocker / "cache") is None


def test_the_last_outcome_stands_for_exactly_the_same_bytes(library, tmp_path):
    cache = tmp_path / "cache"
    assert incremental.last_outcome(library, cache) is None
    report, _ = run(library, cache)
    outcome = incremental.last_outcome(library, cache)
    assert outcome == incremental.Outcome.of(report) and outcome.conforms
    assert outcome.summary == report.summary()
    target = study_files(library)[0]
    original = target.read_text(encoding="utf-8")
    target.write_text(original + "\n", encoding="utf-8")
    assert incremental.last_outcome(library, cache) is None
    assert incremental.last_outcome(library[:-1], cache) is None  # one file fewer
    target.write_text(original, encoding="utf-8")
    assert incremental.last_outcome(library, cache) == outcome


def test_a_file_broken_after_a_conforming_run_is_found(library, tmp_path):
    cache = tmp_path / "cache"
    run(library, cache)
    target = study_files(library)[1]
    target.write_text(re.sub(r"\n    dcterms:title [^\n]*;", "", target.read_text(encoding="utf-8"), count=1),
                      encoding="utf-8")
    assert incremental.last_outcome(library, cache) is None
    report, progress = run(library, cache)
    assert progress.validated == [target] and not report.conforms
    assert incremental.last_outcome(library, cache) == incremental.Outcome.of(report)
    assert not incremental.last_outcome(library, cache).conforms


def test_kg_validate_changed_says_when_the_cache_cannot_be_written(library, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setattr(incremental, "CACHE_DIR", blocker / "cache")
    assert cli.main(["validate", "--changed", *map(str, library)]) == 0
    captured = capsys.readouterr()
    assert "Conforms" in captured.out and "cannot write the validation cache" in captured.err
