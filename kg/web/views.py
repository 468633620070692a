"""The pages that read like the research library: home, indications, studies, people, concepts, browse."""

from flask import Blueprint

bp = Blueprint("views", __name__)
