"""Forms for registers and their Support offline switch."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import AnyOf

from portal.core.extensions import db
from portal.setup.models import Register
from portal.setup.stores import services as stores
from portal.setup.stores.forms import profile_choices

STORE_DEFAULT = "— none: use the store's default —"


class RegisterForm(FlaskForm):
    """A register's settings that can change after it is created."""

    offline_profile = SelectField("Offline profile", default="")
    support_offline = BooleanField("Support offline")
    active = BooleanField("Active", default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.offline_profile.choices = profile_choices(STORE_DEFAULT)

    @staticmethod
    def initial(register: Register) -> dict:
        """The values of an existing register, as the form shows them."""
        profile = register.offline_profile
        return {
            "offline_profile": profile.name if profile else "",
            "support_offline": register.support_offline,
            "active": register.active,
        }

    def to_data(self) -> dict:
        """The input of the register services, keyed by their field names."""
        return {
            "offline_profile": self.offline_profile.data,
            "support_offline": self.support_offline.data,
            "active": self.active.data,
        }


class NewRegisterForm(RegisterForm):
    """A new register: its number and store, which it keeps for good, and its settings."""

    register_number = StringField("Register number")
    store = SelectField("Store", default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = db.session.scalars(stores.stores_query())
        self.store.choices = [
            ("", "— choose —"),
            *((store.store_number, f"{store.store_number} · {store.name}") for store in choices),
        ]

    def to_data(self) -> dict:
        """The input of `create_register`."""
        number = {"register_number": self.register_number.data, "store": self.store.data}
        return {**number, **super().to_data()}


class SupportOfflineForm(FlaskForm):
    """The Support offline switch: posts the state the register should be in."""

    enabled = HiddenField(validators=[AnyOf(["on", "off"])])
