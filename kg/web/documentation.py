"""The /ontology and /shapes pages: the ontology's terms and the SHACL shapes, in words and as RDF."""

from flask import Blueprint, Response, render_template, request
from rdflib import RDF, RDFS, BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, OWL, SKOS

from kg import config, dataset
from kg.namespaces import MSC
from kg.web import resources
from kg.web.cards import as_text, matches
from kg.web.data import cached, select
from kg.web.errors import problem
from kg.web.render import Labels

bp = Blueprint("documentation", __name__)

SH = "http://www.w3.org/ns/shacl#"


def _document(path, load, render):
    """An RDF document at a fixed path: HTML by render(graph), RDF of the whole graph by Accept or twin."""
    extension = request.view_args.get("extension")
    media_type = resources.negotiate(list(resources.TWINS.values()), extension)
    graph = load()
    if media_type != resources.HTML:
        return resources.answer_rdf(tuple(graph), media_type, path, extension is None)
    page = render(graph)
    response = Response(page, mimetype=resources.HTML)
    return resources.finish(response, path, "html", extension is None)


TWIN_EXTENSIONS = ",".join(resources.TWINS)


def ontology_graph():
    def load():
        name = dataset.graph_name(config.ONTOLOGY_DIR / "msc.ttl")
        rows = select("SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }", g=name)
        graph = Graph()
        for row in rows:
            graph.add((row["s"], row["p"], row["o"]))
        return graph

    graph = cached("ontology", load)
    if not len(graph):
        problem(404, "The ontology is not loaded on this server; see ontology/msc.ttl in the repository.")
    return graph


TERM_KINDS = [
    (OWL.Class, "Classes", "classes"),
    (OWL.ObjectProperty, "Object properties", "object-properties"),
    (OWL.DatatypeProperty, "Datatype properties", "datatype-properties"),
    (OWL.NamedIndividual, "Individuals", "individuals"),
]


def local_name(iri):
    text = str(iri)
    for sep in ("#", "/"):
        if sep in text:
            text = text.rsplit(sep, 1)[1]
            break
    return text


SUPER_WORDS = ((RDFS.subClassOf, "subclass of"), (RDFS.subPropertyOf, "subproperty of"))


def ontology_terms(graph):
    labels = Labels(graph)
    namespace = str(MSC._NS)
    ontology = next(graph.subjects(RDF.type, OWL.Ontology), None)
    groups = []
    for kind, title, anchor in TERM_KINDS:
        terms = []
        for term in sorted(set(graph.subjects(RDF.type, kind)), key=lambda t: local_name(t).lower()):
            if not str(term).startswith(namespace):
                continue
            supers = [(words, t) for p, words in SUPER_WORDS for t in sorted(graph.objects(term, p))]
            subs = {s for p, _ in SUPER_WORDS for s in graph.subjects(p, term)}
            subs = sorted(subs, key=lambda t: local_name(t).lower())
            terms.append({
                "iri": term, "id": local_name(term), "label": labels(term),
                "definition": as_text(graph.value(term, SKOS.definition)),
                "types": [t for t in sorted(graph.objects(term, RDF.type)) if t != kind],
                "supers": supers, "subs": subs,
                "domain": sorted(graph.objects(term, RDFS.domain)),
                "range": sorted(graph.objects(term, RDFS.range)),
                "matches": matches(graph, term, labels),
            })
        groups.append({"title": title, "anchor": anchor, "terms": terms})
    header = {}
    if ontology is not None:
        header = {"iri": ontology, "title": as_text(graph.value(ontology, DCTERMS.title)) or labels(ontology),
                  "definition": as_text(graph.value(ontology, SKOS.definition)),
                  "version": as_text(graph.value(ontology, OWL.versionInfo)),
                  "license": graph.value(ontology, DCTERMS.license)}
    return {"labels": labels, "groups": groups, "header": header}


@bp.route("/ontology")
@bp.route(f"/ontology.<any({TWIN_EXTENSIONS}):extension>")
def ontology(extension=None):
    def render(graph):
        return render_template("ontology.html", page=ontology_terms(graph),
                               alternates=resources.alternates("ontology"))

    return _document("ontology", ontology_graph, render)


def shapes_graph():
    def load():
        graph = Graph()
        for path in dataset.shape_files():
            dataset.parse_file(path, graph)
        return graph

    return cached("shapes", load)


def sh(name):
    return URIRef(SH + name)


def path_words(graph, path, labels):
    """A SHACL property path as text: p, ^p, p / q, p or q, p*."""
    if isinstance(path, URIRef):
        return labels(path)
    if isinstance(path, BNode):
        if graph.value(path, RDF.first) is not None:
            return " / ".join(path_words(graph, p, labels) for p in Collection(graph, path))
        for name, fmt in (("inversePath", "^{}"), ("zeroOrMorePath", "{}*"), ("oneOrMorePath", "{}+"),
                          ("zeroOrOnePath", "{}?")):
            inner = graph.value(path, sh(name))
            if inner is not None:
                return fmt.format(path_words(graph, inner, labels))
        alternative = graph.value(path, sh("alternativePath"))
        if alternative is not None:
            return " or ".join(path_words(graph, p, labels) for p in Collection(graph, alternative))
    return str(path)


# SHACL constraints in words, in the order a reader wants them.
CONSTRAINT_WORDS = {
    "minCount": "at least {}", "maxCount": "at most {}", "datatype": "datatype {}",
    "class": "an instance of {}", "in": "one of {}", "nodeKind": "node kind {}",
    "hasValue": "has the value {}", "pattern": "matches /{}/",
    "minInclusive": "at least {}", "maxInclusive": "at most {}", "minExclusive": "more than {}",
    "maxExclusive": "less than {}", "minLength": "at least {} characters",
    "maxLength": "at most {} characters", "qualifiedMinCount": "at least {} of the qualified values",
    "qualifiedMaxCount": "at most {} of the qualified values", "languageIn": "language one of {}",
    "uniqueLang": "one value per language: {}", "equals": "equals {}", "disjoint": "disjoint with {}",
    "lessThan": "less than {}", "node": "conforms to {}",
}
SKIP = {"path", "message", "severity", "name", "description", "sparql", "property", "deactivated", "order",
        "group", "flags", "prefixes"}


def term_words(graph, term, labels):
    if isinstance(term, BNode) and graph.value(term, RDF.first) is not None:
        return "(" + ", ".join(term_words(graph, t, labels) for t in Collection(graph, term)) + ")"
    if isinstance(term, BNode):
        inner = graph.value(term, sh("in"))
        if inner is not None:
            return "one of " + term_words(graph, inner, labels)
        return "a nested shape"
    return labels(term) if isinstance(term, URIRef) else str(term)


def constraints(graph, shape, labels):
    words = []
    order = list(CONSTRAINT_WORDS)

    def rank(pair):
        name = str(pair[0])[len(SH):]
        return (order.index(name) if name in order else len(order), name, str(pair[1]))

    for predicate, value in sorted(graph.predicate_objects(shape), key=rank):
        if not str(predicate).startswith(SH):
            continue
        name = str(predicate)[len(SH):]
        if name in SKIP or name.startswith("target"):
            continue
        if name == "qualifiedValueShape":
            words.append("qualified values: " + term_words(graph, value, labels))
        elif name in CONSTRAINT_WORDS:
            words.append(CONSTRAINT_WORDS[name].format(term_words(graph, value, labels)))
        else:
            words.append(f"sh:{name} {term_words(graph, value, labels)}")
    return words


def sparql_constraints(graph, shape):
    found = []
    for node in graph.objects(shape, sh("sparql")):
        found.append({"messages": sorted(str(m) for m in graph.objects(node, sh("message"))),
                      "select": as_text(graph.value(node, sh("select")))})
    return found


def shape_targets(graph, shape, labels):
    targets = []
    for name, words in (("targetClass", "every instance of"), ("targetNode", "the node"),
                        ("targetSubjectsOf", "every subject of"), ("targetObjectsOf", "every object of")):
        for value in sorted(graph.objects(shape, sh(name))):
            targets.append({"words": words, "term": value})
    for target in graph.objects(shape, sh("target")):
        targets.append({"words": "the nodes this query selects",
                        "select": as_text(graph.value(target, sh("select")))})
    return targets


def shapes_document(graph):
    labels = Labels(graph)
    shapes = []
    for shape in set(graph.subjects(RDF.type, sh("NodeShape"))):
        properties = []
        for prop in graph.objects(shape, sh("property")):
            severity = graph.value(prop, sh("severity"))
            properties.append({
                "label": labels(prop) if labels.has(prop) else None,
                "comment": as_text(graph.value(prop, RDFS.comment)),
                "path": path_words(graph, graph.value(prop, sh("path")), labels),
                "constraints": constraints(graph, prop, labels),
                "sparql": sparql_constraints(graph, prop),
                "severity": local_name(severity) if severity is not None else "Violation",
                "messages": sorted(str(m) for m in graph.objects(prop, sh("message"))),
            })
        properties.sort(key=lambda p: ((p["label"] or p["path"]).lower()))
        shapes.append({
            "iri": shape, "id": local_name(shape), "label": labels(shape),
            "comment": as_text(graph.value(shape, RDFS.comment)),
            "targets": shape_targets(graph, shape, labels),
            "properties": properties,
            "sparql": sparql_constraints(graph, shape),
            "constraints": constraints(graph, shape, labels),
            "severity": local_name(graph.value(shape, sh("severity")) or sh("Violation")),
            "messages": sorted(str(m) for m in graph.objects(shape, sh("message"))),
        })
    shapes.sort(key=lambda s: s["id"].lower())
    documents = []
    for document in sorted(graph.subjects(RDF.type, OWL.Ontology)):
        documents.append({"iri": document, "label": labels(document),
                          "comment": as_text(graph.value(document, RDFS.comment))})
    return {"labels": labels, "shapes": shapes, "documents": documents}


@bp.route("/shapes")
@bp.route(f"/shapes.<any({TWIN_EXTENSIONS}):extension>")
# The ontology shapes' graph IRI names a part of the shapes document; it answers with the whole.
@bp.route("/shapes/ontology")
def shapes(extension=None):
    def render(graph):
        return render_template("shapes.html", page=shapes_document(graph),
                               alternates=resources.alternates("shapes"))

    return _document("shapes", shapes_graph, render)
