"""Where things live and which IRIs the knowledge graph mints: the one place to change them."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY_DIR = ROOT / "ontology"
DATA_DIR = ROOT / "data"
SHAPES_DIR = ROOT / "shapes"

# Every IRI the data mints starts with BASE; data files declare it with @base and a
# test holds them to it, so a deployment under another base changes it here and there.
BASE = "https://w3id.org/msc-kg/"
ONTOLOGY_IRI = BASE + "ontology"
SHAPES_IRI = BASE + "shapes"

# The research library page the curated data was taken from.
SEED_PAGE = "https://www.cellcolabs.com/science-and-research/clinical-research-overview/crohns-disease"
