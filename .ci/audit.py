"""Check every installed distribution against PyPI's vulnerability records; stdlib only.

    .venv/bin/python .ci/audit.py [--strict] [--pypi URL]

pip-audit asks PyPI for each release's record (/pypi/NAME/VERSION/json) or asks OSV. Where neither
answers (this workplace reaches the package index, whose per-version records answer 404, and not
OSV), this script reads the project record (/pypi/NAME/json) instead: its "vulnerabilities" are
those of the latest release, so they are the installed release's own when it is the latest. An
older installed release is checked through its own record when that answers, and is otherwise
listed as unchecked (a failure with --strict). A yanked installed release fails, with PyPI's reason.

Exit 0: nothing known against what is installed; 1: a vulnerability, a yanked release, or (with
--strict) an unchecked one; 2: PyPI could not be asked.
"""

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

OURS = {"msc-kg"}
TIMEOUT = 30


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def installed():
    found = {}
    for dist in metadata.distributions():
        name = normalized(dist.metadata["Name"])
        if name not in OURS:
            found.setdefault(name, dist.version)
    return sorted(found.items())


class Unreachable(Exception):
    pass


def fetch(url):
    """The JSON at url, None for a 404; Unreachable for anything else."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise Unreachable(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise Unreachable(f"{url}: {exc}") from None


def check(pypi, name, version):
    """(status, details) for one installed release: status is ok, vulnerable, yanked or unchecked."""
    own = fetch(f"{pypi}/{name}/{version}/json")
    project = fetch(f"{pypi}/{name}/json")
    if project is None and own is None:
        return "unchecked", "not on PyPI"
    files = (project or {}).get("releases", {}).get(version, []) or (own or {}).get("urls", [])
    yanked = [f for f in files if f.get("yanked")]
    if files and len(yanked) == len(files):
        return "yanked", yanked[0].get("yanked_reason") or "no reason given"
    if own is not None:
        vulnerabilities = own.get("vulnerabilities", [])
    elif project["info"]["version"] == version:
        vulnerabilities = project.get("vulnerabilities", [])
    else:
        return "unchecked", f"older than the latest release {project['info']['version']}, " \
                            "and PyPI has no record of its own to ask"
    known = [v for v in vulnerabilities if not v.get("withdrawn")]
    if known:
        return "vulnerable", "; ".join(
            f"{v.get('id')} (fixed in {', '.join(v.get('fixed_in') or ['no release yet'])})" for v in known)
    return "ok", ""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strict", action="store_true", help="fail when a release could not be checked")
    parser.add_argument("--pypi", default="https://pypi.org/pypi", help="PyPI's JSON API (for tests)")
    args = parser.parse_args(argv)
    releases = installed()
    try:
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(lambda r: check(args.pypi.rstrip("/"), *r), releases))
    except Unreachable as exc:
        print(f"audit: cannot ask PyPI: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for (name, version), (status, details) in zip(releases, outcomes, strict=True):
        if status != "ok":
            print(f"audit: {name} {version}: {status}: {details}", file=sys.stderr)
        if status in ("vulnerable", "yanked") or (status == "unchecked" and args.strict):
            failed += 1
    counts = {s: sum(1 for o in outcomes if o[0] == s) for s in ("ok", "vulnerable", "yanked", "unchecked")}
    print(f"audit: {len(releases)} installed releases: " + ", ".join(f"{n} {s}" for s, n in counts.items()),
          file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
