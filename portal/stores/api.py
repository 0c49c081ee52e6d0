"""JSON API (being written)."""

from portal.core.api import api_blueprint

blp = api_blueprint("stores_api", __name__, "/stores", "placeholder")
