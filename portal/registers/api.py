"""JSON API (being written)."""

from portal.core.api import api_blueprint

blp = api_blueprint("registers_api", __name__, "/registers", "placeholder")
