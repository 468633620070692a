"""The web server: the only part of msc-kg that imports Flask (kg.web.app and its blueprints)."""
