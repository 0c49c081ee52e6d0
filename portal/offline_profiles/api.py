"""JSON API (being written)."""

from portal.core.api import api_blueprint

blp = api_blueprint("offline_profiles_api", __name__, "/offline-profiles", "placeholder")
