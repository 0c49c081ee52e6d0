"""Forms for channel data groups and channel databases."""

from flask_wtf import FlaskForm
from wtforms import Form, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from portal.setup.models import CHANNEL, OFFLINE


class GroupForm(FlaskForm):
    """Name and description of a channel data group."""

    name = StringField(
        "Name",
        render_kw={"maxlength": 60},
        description="Unique. Distribution schedules target groups by this name.",
    )
    # The column holds 255 characters; saying so here beats a database error on save.
    description = TextAreaField(
        "Description",
        validators=[Length(max=255)],
        render_kw={"maxlength": 255, "rows": 3},
        description="What the group is for, e.g. 'Offline databases of Texas registers'.",
    )


class DatabaseForm(FlaskForm):
    """The one thing HQ changes on a channel database: its channel data group."""

    # The service says whether the group exists; a stale choice gets its message, not WTForms'.
    channel_data_group = SelectField(
        "Channel data group",
        validate_choice=False,
        description=(
            "The database receives the distributions of this group. Without a group it receives "
            "none: a 'parking' group with no schedules keeps a register's offline database quiet "
            "until the register is activated."
        ),
    )


class DatabaseFilterForm(Form):
    """The filters of the channel database list, read from the query string."""

    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice("", "Any kind"),
            SelectChoice(CHANNEL, "Channel (store)"),
            SelectChoice(OFFLINE, "Offline (register)"),
        ],
        validate_choice=False,
    )
    group = SelectField("Channel data group", validate_choice=False)
    store = StringField("Store number", render_kw={"placeholder": "Store number"})
    active = SelectField(
        "Active",
        choices=[
            SelectChoice("", "Active or not"),
            SelectChoice("yes", "Active"),
            SelectChoice("no", "Inactive"),
        ],
        validate_choice=False,
    )
