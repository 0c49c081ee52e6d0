"""Forms of the device pages: both carry only their CSRF token, which confirms the action."""

from flask_wtf import FlaskForm


class ActivationCodeForm(FlaskForm):
    """Ask for a new one-time activation code for a channel database."""


class RevokeTokenForm(FlaskForm):
    """Confirm revoking a device token, asked for on its confirmation page."""
