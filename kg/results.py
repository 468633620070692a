"""A query's answer on its way out of a query worker: cut to its first rows and written as bytes.

Store.results gives one of two kinds with one interface (kind, len, first(count), serialize(name)):
TermResults writes a store.Result, in rdflib terms, with kg.sparql; OxigraphResults writes what
pyoxigraph answered with pyoxigraph's own writers and never builds an rdflib term (at 10k studies,
building them cost about 40 µs a row, most of a large answer's time).
"""

import json
from itertools import islice

import pyoxigraph as ox

from kg import formats, sparql
from kg.store import ASK, GRAPH, KNOWN_PREFIXES, SELECT, Result

TSV = ox.QueryResultsFormat.TSV


class TermResults:
    """A store.Result, written by kg.sparql: the path every store can take."""

    def __init__(self, result):
        self.result = result
        self.kind = result.kind

    def __len__(self):
        return len(self.result)

    def first(self, count):
        result = self.result
        if result.kind == GRAPH:
            return TermResults(Result(GRAPH, triples=result.triples[:count]))
        return TermResults(Result(result.kind, variables=result.variables, rows=result.rows[:count],
                                  boolean=result.boolean))

    def serialize(self, name):
        """The answer as bytes in the format called name (kg.formats), UTF-8."""
        if name == "json" and self.kind != GRAPH:
            return json.dumps(sparql.results_json(self.result), ensure_ascii=False).encode("utf-8")
        return sparql.serialize(self.result, name).encode("utf-8")


class OxigraphResults:
    """A SELECT answer held as lines of SPARQL results TSV (header first), or a graph answer as
    pyoxigraph Triples; written by pyoxigraph in any format."""

    def __init__(self, kind, header=b"", rows=(), triples=()):
        self.kind, self.header, self.rows, self.triples = kind, header, rows, triples

    def __len__(self):
        return len(self.triples) if self.kind == GRAPH else len(self.rows)

    def first(self, count):
        return OxigraphResults(self.kind, self.header, self.rows[:count], self.triples[:count])

    def serialize(self, name):
        if self.kind == GRAPH:
            return _graph(self.triples, formats.by_name(name))
        tsv = b"\n".join((self.header, *self.rows, b""))
        if name == "tsv":
            return tsv
        # Read back and written again, natively: TSV keeps every term as it was (IRIs, blank node
        # labels, literals with their datatype or language, escaped), so nothing is lost between.
        return ox.parse_query_results(tsv, format=TSV).serialize(format=formats.by_name(name).oxigraph)


def native(answer, order, most):
    """A pyoxigraph query answer as results, reading at most `most` rows or triples (all if None);
    order: the positions of the SELECT variables as the columns are to be written."""
    if isinstance(answer, ox.QueryBoolean):
        return TermResults(Result(ASK, boolean=bool(answer)))  # no terms to convert
    if isinstance(answer, ox.QueryTriples):
        return OxigraphResults(GRAPH, triples=tuple(islice(answer, most)))
    # TSV writes one solution a line (it escapes newlines and tabs inside literals): the sink stops
    # the writer once it has the header and `most` rows, which bounds the rows read as islice would
    # (up to one buffer of output more).
    sink = _Lines(None if most is None else most + 1)
    try:
        answer.serialize(sink, format=TSV)
    except _Enough:
        pass
    header, *rows = b"".join(sink.chunks).split(b"\n")
    rows = rows[:-1]  # what follows the last newline: nothing, or a row the sink cut
    if most is not None:
        rows = rows[:most]
    if order != sorted(order):
        header = _reorder(header, order)
        rows = [_reorder(row, order) for row in rows]
    return OxigraphResults(SELECT, header, rows)


def _reorder(line, order):
    fields = line.split(b"\t")  # a tab inside a term is written \t
    return b"\t".join(fields[i] for i in order)


def _graph(triples, fmt):
    ntriples = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
    if fmt.name == "ntriples":
        return ntriples
    # Oxigraph declares every prefix it is given, used or not: only those the IRIs use, as kg.sparql.
    used = {prefix: ns for prefix, ns in KNOWN_PREFIXES.items() if b"<" + ns.encode() in ntriples}
    return ox.serialize(triples, format=fmt.oxigraph, prefixes=used)


class _Enough(Exception):
    """Raised by _Lines.write to stop a pyoxigraph writer, which passes it on unchanged."""


class _Lines:
    """A binary file for pyoxigraph's writers that keeps what they write and stops them after a
    number of lines (None: never)."""

    def __init__(self, most):
        self.chunks, self.lines, self.most = [], 0, most

    def write(self, chunk):
        self.chunks.append(chunk)
        self.lines += chunk.count(b"\n")
        if self.most is not None and self.lines >= self.most:
            raise _Enough
        return len(chunk)

    def flush(self):
        """Nothing to flush: the chunks are kept in memory."""
