"""Forms for master data: one generic row form built from an entity's fields, and CSV import."""

import json
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.fields.core import UnboundField

from portal.masterdata.entities import Entity
from portal.masterdata.fields import Field

HELP = {
    "decimal": "A decimal number, e.g. 4.99.",
    "date": "A date (YYYY-MM-DD).",
    "list": "Codes separated by commas, e.g. A, B.",
    "object": "A JSON object.",
}


class ImportForm(FlaskForm):
    """A CSV file to import into one entity, optionally only checked."""

    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file.")])
    dry_run = BooleanField("Validate only (dry run): check every row and save nothing")


def row_form(entity: Entity, row: Any = None) -> FlaskForm:
    """A form for one row of `entity`: an input per field; an existing row's key is fixed."""
    inputs = {
        field.name: _input(field)
        for field in entity.fields
        if row is None or field.name not in entity.key
    }
    form_class = type(f"{entity.name.title().replace('_', '')}Form", (FlaskForm,), inputs)
    return form_class(data=_initial(entity, row) if row is not None else None)


def form_data(form: FlaskForm, entity: Entity) -> dict[str, Any]:
    """The form's values keyed by field name, as the master data services take them."""
    return {field.name: form[field.name].data for field in entity.fields if field.name in form}


def _input(field: Field) -> UnboundField:
    if field.kind == "bool":
        return BooleanField(field.label, default=bool(field.default))
    default = "" if field.default is None else _text(field, field.default)
    options: dict[str, Any] = {"default": default, "description": HELP.get(field.kind, "")}
    if field.kind == "object" or (field.max_length or 0) > 200:
        return TextAreaField(field.label, render_kw={"rows": 6}, **options)
    render = {
        "date": {"type": "date"},
        "decimal": {"inputmode": "decimal"},
        "int": {"inputmode": "numeric"},
    }.get(field.kind, {})
    if field.max_length:
        render["maxlength"] = field.max_length
    return StringField(field.label, render_kw=render, **options)


def _initial(entity: Entity, row: Any) -> dict[str, Any]:
    values = entity.values_of(row)
    return {
        field.name: values[field.name] if field.kind == "bool" else _text(field, values[field.name])
        for field in entity.fields
    }


def _text(field: Field, value: Any) -> str:
    if value is None:
        return ""
    if field.kind == "list":
        return ", ".join(value)
    if field.kind == "object":
        return json.dumps(value, indent=2, sort_keys=True)
    if field.kind == "date":
        return value.isoformat()
    return str(value)
