"""JSON API (being written)."""

from portal.core.api import api_blueprint

databases_blp = api_blueprint("channel_databases_api", __name__, "/channel-databases", "x")
groups_blp = api_blueprint("channel_data_groups_api", __name__, "/channel-data-groups", "x")
