"""Forms of bulk changes and CSV imports of the setup, and what the list pages' filters mean."""

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, HiddenField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import AnyOf

from portal.core.web import query_filters
from portal.setup.registers.selection import FILTERS as REGISTER_FILTERS
from portal.setup.stores.selection import FILTERS as STORE_FILTERS

FILTERS = {"registers": REGISTER_FILTERS, "stores": STORE_FILTERS}
# What a page offers to set, and the change each choice makes (`value`: a chosen name).
ACTIONS = {
    "registers": {
        "support_offline_on": ("Switch Support offline on", {"support_offline": True}),
        "support_offline_off": ("Switch Support offline off", {"support_offline": False}),
        "offline_profile": ("Set the offline profile", {"offline_profile": None}),
        "activate": ("Activate", {"active": True}),
        "deactivate": ("Deactivate", {"active": False}),
    },
    "stores": {
        "channel_data_group": ("Move to a channel data group", {"channel_data_group": None}),
        "offline_profile": ("Set the default offline profile", {"offline_profile": None}),
    },
}


class BulkForm(FlaskForm):
    """A bulk change posted from a list: what to set, and on all that match or the ticked ones."""

    action = SelectField("Change")
    value = StringField("To", default="")
    scope = RadioField(
        "Apply to",
        choices=[SelectChoice("all", "All that match"), SelectChoice("ticked", "The ticked rows")],
        default="all",
    )
    confirm_activated = HiddenField(default="", validators=[AnyOf(["", "1"])])

    def __init__(self, kind: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.action.choices = [
            SelectChoice(key, label) for key, (label, _) in ACTIONS[kind].items()
        ]

    @property
    def label(self) -> str:
        """What the chosen action does, as the page says it."""
        return ACTIONS[self.kind][self.action.data][0]

    def change(self) -> dict:
        """The `set` of the bulk change the form asks for."""
        _, change = ACTIONS[self.kind][self.action.data]
        return {
            name: (self.chosen or None) if value is None else value
            for name, value in change.items()
        }

    @property
    def chosen(self) -> str:
        """The name chosen for the action: a list offers one choice per action (`value_<action>`),
        a confirmation carries it back as `value`."""
        return request.form.get(f"value_{self.action.data}", self.value.data) or ""

    def selection(self, form: MultiDict, key: str) -> dict:
        """`filter` (the list's filters) or the ticked numbers under `key`."""
        if self.scope.data == "ticked":
            return {key: form.getlist("pick")}
        return {"filter": query_filters(FILTERS[self.kind], form, "f_")}


class ImportForm(FlaskForm):
    """A CSV file of stores or registers, optionally only checked."""

    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file.")])
    dry_run = BooleanField("Validate only (dry run): check every row and save nothing")
