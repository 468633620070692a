"""The "memory" store: an rdflib Dataset, the reference the tests hold the oxigraph store to.

rdflib accepts, fails on or answers differently some queries (docs/decisions/0005-engine.md); the
workarounds that make it refuse and answer like oxigraph are here.
"""

import re
from itertools import islice

import pyoxigraph as ox
from rdflib import Variable
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.parserutils import CompValue

from kg import config, dataset
from kg.errors import QueryError
from kg.queries import walk
from kg.store import ASK, GRAPH, KNOWN_PREFIXES, SELECT, OxigraphStore, Result, Store, _oxigraph_query


class MemoryStore(Store):
    kind = "memory"

    def __init__(self, files):
        self._files = files
        self._dataset = dataset.load_dataset(files)

    def graph_sizes(self):
        graphs = self._dataset.graphs()
        return {g.identifier: len(g) for g in graphs if g.identifier != DATASET_DEFAULT_GRAPH_ID}

    def dump(self, name, merged=False):
        # rdflib's Turtle and TriG writers respell literals ("7"^^xsd:decimal becomes 7.0); oxigraph's
        # write them as the data does, and reading the files again takes milliseconds.
        return OxigraphStore(self._files).dump(name, merged)

    def _run(self, query, most):
        # rdflib accepts some queries SPARQL forbids (an ungrouped variable beside COUNT); let oxigraph's
        # stricter parser, on an empty store, decide so both backends refuse the same queries.
        _oxigraph_query(ox.Store(), query.text)
        # A fresh parse: translateQuery rewrites the tree it is given, and query.tree is cached.
        prepared = translateQuery(parseQuery(query.text), base=config.BASE, initNs=KNOWN_PREFIXES)
        if prepared.algebra.name == "ConstructQuery" and prepared.algebra.template is None:
            # rdflib leaves CONSTRUCT WHERE { ... } without a template and then fails on it; the short
            # form's template is its one basic graph pattern.
            bgp = next(n for n in walk(prepared.algebra) if isinstance(n, CompValue) and n.name == "BGP")
            prepared.algebra["template"] = list(bgp.triples)
        if query.default_graphs or query.named_graphs:
            prepared.algebra["datasetClause"] = (
                [CompValue("DatasetClause", default=g) for g in query.default_graphs]
                + [CompValue("DatasetClause", named=g) for g in query.named_graphs]
            )
        try:
            return self._evaluate(prepared, query, most)
        except (re.error, ValueError, TypeError, AttributeError, SyntaxError) as exc:
            # rdflib lets a bad REGEX pattern, language tag or IRI escape as these; they are the
            # query's fault, and must not take a query worker down.
            raise QueryError(f"the query could not be evaluated: {exc}") from None

    def _evaluate(self, prepared, query, most):
        answer = self._dataset.query(prepared, initBindings={Variable(n): t for n, t in query.bindings})
        if answer.type == "ASK":
            return Result(ASK, boolean=bool(answer.askAnswer))
        if answer.type in ("CONSTRUCT", "DESCRIBE"):
            return Result(GRAPH, triples=tuple(islice(answer.graph, most)))
        return Result(SELECT, variables=tuple(str(v) for v in answer.vars),
                      rows=tuple(tuple(row) for row in islice(answer, most)))
