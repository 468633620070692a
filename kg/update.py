"""SPARQL Update and Graph Store operations on a copy of the dataset, with the default graph as the
union of the named graphs (decision 0004), for writing as it is for reading.

The copy is an in-memory oxigraph store: one named graph per graph of the dataset, and, while an
operation runs, the union of them all as its default graph. After each operation the store is
reconciled (`_reconcile`): a triple the operation removed from the default graph is removed from
every named graph (unless the same operation put it into that graph), and a triple it added to the
default graph that no named graph holds goes to the writes graph (ADD, COPY and MOVE into DEFAULT,
whose meaning under a union is unclear, are refused). So `DELETE DATA { t }` removes t
wherever a file states it, and `ASK { t }` afterwards is false; `INSERT DATA { t }` adds it once.
"""

import re

import pyoxigraph as ox
from pyparsing import ParseException
from rdflib.plugins.sparql.parser import expandUnicodeEscapes, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue

from kg.errors import QueryError
from kg.queries import walk
from kg.store import KNOWN_PREFIXES
from kg.terms import tidy

# Strings, IRIs and comments (whose insides mean nothing here), brackets, ';', and words.
_TOKENS = re.compile(r"""
    (?P<skip>\"\"\"(?:[^\\]|\\.)*?\"\"\" | '''(?:[^\\]|\\.)*?'''
      | "(?:[^"\\\n]|\\.)*" | '(?:[^'\\\n]|\\.)*' | \#[^\n]*)
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<bracket>[(){}\[\]])
  | (?P<semicolon>;)
  | (?P<word>[?$_]?[A-Za-z0-9_\-.]*:[A-Za-z0-9_\-.:%]* | [?$][A-Za-z0-9_]+ | [A-Za-z][A-Za-z0-9_]*)
""", re.VERBOSE | re.DOTALL)
_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^<>\"{}|^`\\\x00-\x20]*")


def check(text, using=(), using_named=()):
    """The operations of an update request, each a text oxigraph runs alone: refused (QueryError)
    when it would fetch (LOAD, SERVICE) or names its dataset twice (USING/WITH and the protocol's
    using-graph-uri / using-named-graph-uri); those parameters are written into each operation."""
    previous = None
    while text != previous:  # \\u escapes apply before parsing, so none can hide a SERVICE
        previous, text = text, expandUnicodeEscapes(text)
    try:
        tree = parseUpdate(text)
    except ParseException as exc:
        found = (exc.line[exc.col - 1:].split() or ["end of line"])[0]
        raise QueryError(f"malformed update at line {exc.lineno}, column {exc.col}: {exc.msg}, "
                         f"found {found!r}") from None
    except RecursionError:
        raise QueryError("the update is nested too deeply to parse") from None
    names = {node.name for node in walk(tree) if isinstance(node, CompValue)}
    if "Load" in names:
        raise QueryError("LOAD is refused: this server fetches nothing; send the data in the request")
    if "ServiceGraphPattern" in names:
        raise QueryError("SERVICE is refused: updates run on the local dataset only")
    if any(op.name in ("Add", "Copy", "Move") and op.graph[1] == "DEFAULT" for op in tree.request):
        raise QueryError("ADD, COPY and MOVE into DEFAULT are refused: the default graph is the union of "
                         "the named graphs; name the graph to write into")
    for iri in (*using, *using_named):
        if not _IRI.fullmatch(iri):
            raise QueryError(f"{iri!r} is not an absolute IRI")
    if (using or using_named) and any(
            op.name == "Modify" and (op.withClause is not None or op.using) for op in tree.request):
        raise QueryError("the request names its dataset twice: using-graph-uri / using-named-graph-uri "
                         "and a USING or WITH clause in the update; give one or the other")
    dataset = "".join(f" USING <{g}>" for g in using) + "".join(f" USING NAMED <{g}>" for g in using_named)
    return [_with_dataset(op, dataset) for op in _operations(text)] if dataset else _operations(text)


def _operations(text):
    """Split a request at its top-level ';', each operation keeping the prologues before it."""
    operations, prologue, start, depth = [], "", 0, 0
    tokens = list(_TOKENS.finditer(text))
    for index, token in enumerate(tokens):
        kind, value = token.lastgroup, token.group()
        if kind == "bracket":
            depth += 1 if value in "({[" else -1
        elif kind == "semicolon" and depth == 0:
            operations.append(prologue + text[start:token.start()])
            prologue += _prologue(text, [t for t in tokens[:index] if t.start() >= start])
            start = token.end()
    last = text[start:]
    if last.strip() and any(t.lastgroup != "skip" for t in tokens if t.start() >= start):
        operations.append(prologue + last)
    return [op for op in operations if op.strip()]


def _prologue(text, tokens):
    """The PREFIX and BASE declarations at the start of one operation's tokens, as text."""
    end, index = None, 0
    significant = [t for t in tokens if t.lastgroup != "skip"]
    while index < len(significant):
        word = significant[index].group().upper()
        size = {"PREFIX": 3, "BASE": 2}.get(word)
        if size is None:
            break
        index += size
        end = significant[min(index, len(significant)) - 1].end()
    return "" if end is None else text[tokens[0].start():end] + "\n"


def _with_dataset(operation, dataset):
    """operation with dataset (USING clauses) before the WHERE of a DELETE/INSERT ... WHERE."""
    depth, before = 0, None
    for token in _TOKENS.finditer(operation):
        kind, value = token.lastgroup, token.group()
        if kind == "skip":
            continue
        if kind == "bracket":
            depth += 1 if value in "({[" else -1
        elif depth == 0 and kind == "word" and value.upper() == "WHERE" and before == "}":
            return operation[:token.start()] + dataset + " " + operation[token.start():]
        before = value if depth == 0 else before
    return operation


def apply(store, operations, base, writes_graph):
    """Run each operation on store (oxigraph, named graphs only), keeping the union semantics."""
    for operation in operations:
        before = snapshot(store)
        set_union(store, before)
        try:
            store.update(operation, base_iri=base, prefixes=KNOWN_PREFIXES)
        except SyntaxError as exc:
            raise QueryError(tidy(str(exc), "update")) from None
        except OSError as exc:
            raise QueryError(f"the update failed: {exc}") from None
        reconcile(store, before, writes_graph)


def reconcile(store, before, writes_graph):
    """Make the named graphs agree with what an operation did to the default graph (module doc)."""
    after = snapshot(store)
    union_before = set().union(*before.values())
    union_after = {q.triple for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph())}
    removed = union_before - union_after
    final = {}
    for name, triples in after.items():
        final[name] = triples - (removed - (triples - before.get(name, set())))
    added = union_after - union_before - set().union(*final.values())
    if added:
        final[writes_graph] = final.get(writes_graph, set()) | added
    store.clear()
    for name, triples in final.items():
        store.add_graph(name)
        store.extend(ox.Quad(t.subject, t.predicate, t.object, name) for t in triples)


def snapshot(store):
    graphs = {name: set() for name in store.named_graphs()}
    for quad in store:
        if not isinstance(quad.graph_name, ox.DefaultGraph):
            graphs[quad.graph_name].add(quad.triple)
    return graphs


def set_union(store, graphs):
    store.clear_graph(ox.DefaultGraph())
    store.extend(ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph())
                 for triples in graphs.values() for t in triples)
