"""Start the msc-kg server: python serve.py [--host H] [--port P] [--store oxigraph|memory] ..."""

import argparse
import sys

from kg.web.server import add_arguments, run


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve the msc-kg knowledge graph and its SPARQL endpoint.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
