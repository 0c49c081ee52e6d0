"""The scheduler's parameters, read where they are used so a change needs no restart."""

from flask import current_app

# Each parameter and the setting that gives its default.
DEFAULTS = {"try_count": "SESSION_TRY_COUNT"}


def current(name: str) -> int:
    """The value of a scheduler parameter (e.g. `try_count`)."""
    return int(current_app.config[DEFAULTS[name]])
