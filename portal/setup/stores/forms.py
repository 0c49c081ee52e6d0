"""Forms for creating and editing stores."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField

from portal.core.extensions import db
from portal.core.validation import time_zone_choices
from portal.setup.channels import services as channels
from portal.setup.models import Store
from portal.setup.offline_profiles import services as offline_profiles
from portal.setup.stores.services import EDITABLE


def group_choices() -> list[tuple[str, str]]:
    """Every channel data group by name, after a "none" option."""
    groups = db.session.scalars(channels.groups_query())
    return [("", "— none —"), *((group.name, group.name) for group in groups)]


def profile_choices(none_label: str = "— none —") -> list[tuple[str, str]]:
    """Every offline profile by name, after a "none" option."""
    profiles = db.session.scalars(offline_profiles.profiles_query())
    return [("", none_label), *((profile.name, profile.name) for profile in profiles)]


class StoreForm(FlaskForm):
    """A store's settings that can change after it is created."""

    name = StringField("Name")
    currency = StringField("Currency")
    tax_group = StringField("Sales tax group")
    time_zone = SelectField("Time zone", default="")
    price_group = StringField("Price group")
    assortment = StringField("Assortment")
    channel_data_group = SelectField("Channel data group", default="")
    offline_profile = SelectField("Default offline profile", default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone.choices = [
            ("", "— choose —"),
            *((zone, zone) for zone in time_zone_choices()),
        ]
        self.channel_data_group.choices = group_choices()
        self.offline_profile.choices = profile_choices()

    @staticmethod
    def initial(store: Store) -> dict:
        """The values of an existing store, as the form shows them."""
        return {
            "name": store.name,
            "currency": store.currency,
            "tax_group": store.tax_group,
            "time_zone": store.time_zone,
            "price_group": store.price_group,
            "assortment": store.assortment,
            "channel_data_group": store.channel_data_group.name if store.channel_data_group else "",
            "offline_profile": store.offline_profile.name if store.offline_profile else "",
        }

    def to_data(self) -> dict:
        """The input of the store services, keyed by their field names."""
        return {key: self[key].data for key in EDITABLE}


class NewStoreForm(StoreForm):
    """A new store: its settings and the store number it keeps for good."""

    store_number = StringField("Store number")

    def to_data(self) -> dict:
        """The input of `create_store`."""
        return {"store_number": self.store_number.data, **super().to_data()}
