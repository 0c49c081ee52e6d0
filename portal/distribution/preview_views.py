"""The scope-size preview on setup's pages, through the hooks they offer.

An offline profile's page shows it for one store (`?store=`, by default the first store using the
profile); the confirmation of a bulk Support offline change shows it for the selected registers.
"""

from collections.abc import Iterable

import sqlalchemy as sa
from flask import Flask, request

from portal.core.errors import NotFound
from portal.core.extensions import db
from portal.distribution.preview import profile_preview
from portal.distribution.preview_selection import human_bytes, selection_preview
from portal.setup.hooks import bulk_offline_preview
from portal.setup.models import OfflineProfile, Register, Store
from portal.setup.offline_profiles.views import profile_page
from portal.setup.stores import services as stores

# Stores offered by the page's store picker; any other store number can be typed in.
PICKER_STORES = 100


def init_app(app: Flask) -> None:
    """Show the scope-size preview on an offline profile's page and in bulk confirmations."""
    profile_page.add(profile_values)
    bulk_offline_preview.add(bulk_values)


def profile_values(profile: OfflineProfile) -> dict:
    """The preview for the store chosen on the profile's page, and the stores to pick from."""
    using = profile_stores(profile)
    chosen = request.args.get("store", "").strip()
    values = {
        "preview_stores": using,
        "preview_store": chosen,
        "offline_preview": None,
        "human_bytes": human_bytes,
    }
    number = chosen or (using[0] if using else "")
    if not number:
        return values
    try:
        store = stores.get_store(number)
    except NotFound as error:
        return values | {"preview_error": error.message}
    return values | {
        "preview_store": store.store_number,
        "offline_preview": profile_preview(profile, store),
    }


def profile_stores(profile: OfflineProfile) -> list[str]:
    """Numbers of the first stores whose registers follow the profile (theirs or the store's)."""
    follows = sa.or_(
        Store.offline_profile_id == profile.id,
        sa.exists().where(Register.store_id == Store.id, Register.offline_profile_id == profile.id),
    )
    return list(
        db.session.scalars(
            sa.select(Store.store_number)
            .where(follows)
            .order_by(Store.store_number)
            .limit(PICKER_STORES)
        )
    )


def bulk_values(register_ids: Iterable[int]) -> dict:
    """What the selected registers' offline databases will receive, for the confirmation."""
    return {"offline_preview": selection_preview(register_ids)}
