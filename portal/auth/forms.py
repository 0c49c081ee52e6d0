"""Forms for signing in, user administration and API tokens."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from portal.auth.roles import Role

ROLE_CHOICES = [
    SelectChoice(Role.ADMIN.value, "Admin: everything, plus users and the audit trail"),
    SelectChoice(Role.HQ.value, "HQ staff: sets up stores, registers, groups and profiles"),
    SelectChoice(Role.SCHEDULER.value, "Scheduler: runs distribution schedules, reads setup"),
    SelectChoice(Role.AUDITOR.value, "Auditor: reviews offline transactions, reads setup"),
]
SAME_PASSWORD = "The two passwords differ."
# Browsers must not fill in the admin's own saved password for someone else's account.
NEW_PASSWORD = {"autocomplete": "new-password"}


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired()], render_kw={"autocomplete": "username"})
    password = PasswordField(
        "Password", validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    remember = BooleanField("Keep me signed in")


class UserCreateForm(FlaskForm):
    """A new user: the services check the email, role and password rules."""

    email = EmailField("Email", validators=[DataRequired()], render_kw={"autocomplete": "off"})
    name = StringField("Name", validators=[Length(max=100)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    password = PasswordField("Password", validators=[DataRequired()], render_kw=NEW_PASSWORD)
    confirm = PasswordField(
        "Repeat the password",
        validators=[EqualTo("password", SAME_PASSWORD)],
        render_kw=NEW_PASSWORD,
    )


class UserEditForm(FlaskForm):
    """Name, role and active flag of a user, and optionally a new password."""

    name = StringField("Name", validators=[Length(max=100)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = BooleanField("Active (may sign in and use API tokens)")
    password = PasswordField("New password", validators=[Optional()], render_kw=NEW_PASSWORD)
    confirm = PasswordField(
        "Repeat the new password",
        validators=[EqualTo("password", SAME_PASSWORD)],
        render_kw=NEW_PASSWORD,
    )


class TokenForm(FlaskForm):
    """What a new API token is for."""

    name = StringField("Name", validators=[DataRequired(), Length(max=100)])


class ConfirmForm(FlaskForm):
    """An empty form: its CSRF token confirms a change asked for on a confirmation page."""


class InviteForm(FlaskForm):
    """Whom to invite, and as what: they choose their password through the link."""

    email = EmailField("Email", validators=[DataRequired()], render_kw={"autocomplete": "off"})
    name = StringField("Name", validators=[Length(max=100)])
    role = SelectField("Role", choices=ROLE_CHOICES)


class ForgotPasswordForm(FlaskForm):
    """The address to send a reset link to."""

    email = EmailField("Email", validators=[DataRequired()], render_kw={"autocomplete": "username"})


class SetPasswordForm(FlaskForm):
    """A password chosen through an invitation or reset link; the services check its rules."""

    password = PasswordField("New password", validators=[DataRequired()], render_kw=NEW_PASSWORD)
    confirm = PasswordField("Repeat the new password", render_kw=NEW_PASSWORD)
