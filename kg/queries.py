"""What a query may be: parsed once, refused when it would write or reach outside the dataset.

Both engines run the text `prepare` returns, so they see the same characters and the same refusals.
"""

from dataclasses import dataclass
from functools import lru_cache

import rdflib.plugins.sparql
from pyparsing import ParseException, ParseResults
from rdflib.plugins.sparql.parser import expandUnicodeEscapes, parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue

from kg.errors import QueryError

# rdflib fetches a FROM / FROM NAMED graph it does not hold from the file system or the web; with
# this off it treats the IRI as a graph name only, as oxigraph does. Nothing in msc-kg wants the fetch.
rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS = False


@dataclass(frozen=True)
class Query:
    text: str
    tree: ParseResults
    default_graphs: tuple
    named_graphs: tuple
    bindings: tuple = ()


@lru_cache(maxsize=1024)
def prepare(text):
    """Parse a query and refuse what a read-only store must not run; the text both backends will see.

    Cached by text: pages run the same few queries with other bindings, and rdflib's parser took
    4-9 ms a query, most of a page's time. The cached tree is read, never translated in place.
    """
    # SPARQL applies \\u escapes before parsing; rdflib does, oxigraph only inside strings and IRIs.
    # Expanding them here gives both parsers the same characters, so a SERVICE hidden from one by an
    # escape is not run by the other.
    previous = None
    while text != previous:
        previous, text = text, expandUnicodeEscapes(text)
    try:
        tree = parseQuery(text)
    except ParseException as exc:
        try:
            parseUpdate(text)
        except ParseException:
            found = (exc.line[exc.col - 1:].split() or ["end of line"])[0]
            raise QueryError(f"malformed query at line {exc.lineno}, column {exc.col}: {exc.msg}, "
                             f"found {found!r}") from None
        raise QueryError("the store is read-only: INSERT, DELETE, LOAD, CLEAR... are refused") from None
    except RecursionError:
        raise QueryError("the query is nested too deeply to parse") from None
    if any(isinstance(n, CompValue) and n.name == "ServiceGraphPattern" for n in walk(tree)):
        raise QueryError("SERVICE is refused: queries run on the local dataset only")
    # CompValue.get returns the key itself when it is missing; attribute access returns None.
    clauses = tree[1].datasetClause or []
    return Query(
        text=text,
        tree=tree,
        default_graphs=tuple(c.default for c in clauses if c.default is not None),
        named_graphs=tuple(c.named for c in clauses if c.named is not None),
    )


def walk(node):
    yield node
    if isinstance(node, CompValue):
        children = node.values()
    elif isinstance(node, (ParseResults, list, tuple)):
        children = node
    else:
        return
    for child in children:
        yield from walk(child)
