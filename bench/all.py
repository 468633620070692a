"""Every benchmark of the query mix for the sizes given, in one run: in-process (bench/engines.py:
load time, peak memory, median and p99 per query, for each store) and then over HTTP
(bench/http_servers.py: our servers beside `oxigraph serve` and rdflib-endpoint).

    python bench/all.py --sizes 1000,10000 [--write] [http_servers.py options, e.g. --warmup 30]
"""

import argparse
import sys

import engines
import http_servers


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="studies per library, comma-separated")
    parser.add_argument("--write", action="store_true", help="replace both scripts' sections in RESULTS.md")
    args, http_options = parser.parse_known_args(argv)
    common = ["--sizes", args.sizes] + (["--write"] if args.write else [])
    return engines.main(common) or http_servers.main(common + http_options)


if __name__ == "__main__":
    sys.exit(main())
