"""Helpers shared by the HTML views: list pagination and committing changes."""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request
from sqlalchemy.orm import lazyload

from portal.core.errors import DomainError, ValidationFailed
from portal.core.extensions import db
from portal.core.pagination import keyset_window_desc

# A list counts its rows only this far past the start of the page shown; past that the pager says
# "more than" and links that far, and each page further on counts further. Counting every row (and
# the OFFSET of the last page the pager linked) read a whole million-row table on each view: the
# cost now follows how far someone pages, not how large the table is (bench/RESULTS.md).
COUNT_AHEAD = 1_000
# Past any list's end, and small enough that the page's OFFSET fits every database's integer.
MAX_PAGE = 1_000_000


def paginate(stmt):
    """A page of `stmt` for list pages, from the `page` query argument.

    `total` counts the rows up to COUNT_AHEAD past the page's start; `capped` says there are more.
    """
    per_page = current_app.config["PER_PAGE"]
    # A page number out of range (0, -3, 10^20) shows the nearest page there is a number for.
    number = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    page = db.paginate(stmt, page=number, per_page=per_page, error_out=False, count=False)
    offset = (page.page - 1) * per_page
    if 0 < len(page.items) < per_page or (page.page == 1 and not page.items):
        counted = limit = offset + len(page.items)  # the last page: nothing left to count
    else:
        limit = offset + max(COUNT_AHEAD, per_page)
        rows = stmt.options(lazyload("*")).order_by(None).limit(limit + 1).subquery()
        counted = db.session.scalar(sa.select(sa.func.count()).select_from(rows))
    page.total = min(counted, limit)
    page.capped = counted > limit
    return page


@dataclass
class CursorPage:
    """A page of a newest-first listing and the query arguments of its neighbours."""

    items: list[Any]
    older: dict | None
    newer: dict | None


def cursor_page(stmt: sa.Select, keys, args: dict) -> CursorPage:
    """The page of `stmt` that the `cursor` (older than) or `before` argument asks for."""
    items, older, newer = keyset_window_desc(
        stmt,
        keys,
        current_app.config["PER_PAGE"],
        after=request.args.get("cursor") or None,
        before=request.args.get("before") or None,
    )
    return CursorPage(
        items,
        None if older is None else args | {"cursor": older},
        None if newer is None else args | {"before": newer},
    )


def id_arg(name: str) -> int | None:
    """An id from the query string, None when not given; refused if no row could have it."""
    raw = request.args.get(name)
    if not raw:
        return None
    number = request.args.get(name, type=int)
    if number is None or not 0 < number < 2**31:
        raise ValidationFailed(f"'{name}' is not an id.", {name: "A whole number from 1."})
    return number


def show_form_error(form, error) -> None:
    """Roll back a refused change and show the service's message on the form's fields."""
    db.session.rollback()
    for name, message in error.fields.items():
        field = getattr(form, name.split(".")[0], None)
        if field is not None:
            field.errors = [*field.errors, message]
    flash(error.message, "danger")


def submit(form, change):
    """The committed result of `change` for a valid posted form, or None (refusals on the form)."""
    if not form.validate_on_submit():
        return None
    try:
        result = change()
    except DomainError as error:
        show_form_error(form, error)
        return None
    db.session.commit()
    return result


def form_page(form, change, saved, template: str, **context):
    """A create or edit page: commit `change` for a valid posted form, or show `template` again.

    `saved(result)` gives the message flashed after the change and the page to go to.
    """
    if result := submit(form, change):
        message, location = saved(result)
        flash(message, "success")
        return redirect(location)
    return render_template(template, form=form, **context)


def attempt(change) -> bool:
    """Commit `change`, or roll it back and flash why it was refused; whether it was made."""
    try:
        change()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return False
    db.session.commit()
    return True


# Filters of list pages that are yes/no choices; any other answer filters nothing.
YES_NO = ("support_offline", "activated", "active")


def query_filters(names: tuple[str, ...], args, prefix: str = "") -> dict:
    """A list page's filters from its query (or a form's `prefix`ed fields), blanks left out.

    Yes/no filters become booleans, so the same dict selects rows for the page and the API.
    """
    filters = {}
    for name in names:
        value = (args.get(prefix + name) or "").strip()
        if name in YES_NO:
            if value in ("yes", "no"):
                filters[name] = value == "yes"
        elif value:
            filters[name] = value
    return filters


def filter_fields(filters: dict, prefix: str = "") -> dict[str, str]:
    """Filters as the fields (or query arguments) `query_filters` reads back."""
    return {
        prefix + name: ("yes" if value else "no") if isinstance(value, bool) else value
        for name, value in filters.items()
    }
