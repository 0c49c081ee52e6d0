"""The standard JSON endpoints of a resource: list and create, show, change and delete.

Every resource of the API answers them the same way: a list is a keyset page of the resource's
query, and a create, change or delete calls the resource's service and commits. What differs is
given here: the schemas, the guards, the service functions (where each resource keeps its rules),
and the text the API document shows for each operation.
"""

import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint

from portal.core.api import ListArgsSchema, errors
from portal.core.extensions import db
from portal.core.pagination import keyset_page

_METHODS = ("GET", "POST", "PATCH", "DELETE")


@dataclass(frozen=True)
class Guards:
    """The decorators that let a caller read the resource, and change it."""

    read: Callable
    change: Callable

    @classmethod
    def of(cls, guard: Callable, read: Any, change: Any) -> "Guards":
        """The guards `guard(read)` and `guard(change)`, e.g. for two permissions."""
        return cls(guard(read), guard(change))


@dataclass(frozen=True)
class Schemas:
    """The marshmallow schemas of the endpoints."""

    page: Any  # a page of the list, as `page_schema` makes it
    item: Any  # one item, as created, shown and changed
    update: Any  # a change of one, usually its update schema with `partial=True`
    list_args: Any = ListArgsSchema  # the list's query arguments


@dataclass(frozen=True)
class Service:
    """The resource's own rules: its list query and key, and how one is made, found, changed."""

    query: Callable[[dict], sa.Select]  # the list's statement for its query arguments
    key: Any  # the column the list is ordered and paged by
    create: Callable[[dict], Any] | None  # None: no POST on the list
    get: Callable[..., Any]  # the item by its URL argument, or a 404
    update: Callable[[Any, dict], Any]
    delete: Callable[[Any], None] | None  # None: no DELETE on the item


def view_docs(text: str) -> tuple[str, dict[str, str]]:
    """A view's docstring and each operation's, from a docstring with `GET: ...` paragraphs.

    The view's own text comes first; each operation's starts on a line `METHOD: summary`, and
    the indented lines after it (blank lines included) are that operation's description.
    """
    head, _, rest = inspect.cleandoc(text).partition("\n\n")
    operations: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in rest.splitlines():
        method, colon, summary = line.partition(": ")
        if colon and method in _METHODS:
            lines = operations[method.lower()] = [summary]
        else:
            lines.append(line)
    return head, {
        method: (lines[0] + "\n" + textwrap.dedent("\n".join(lines[1:]))).strip()
        for method, lines in operations.items()
    }


def _documented(func: Callable, name: str, doc: str) -> Callable:
    func.__name__ = func.__qualname__ = name
    func.__doc__ = doc
    return func


def crud_routes(
    blp: Blueprint,
    names: tuple[str, str, str],
    guards: Guards,
    list_docs: str,
    item_docs: str,
    schemas: Schemas,
    service: Service,
    *,
    patch_errors: tuple[int, ...] = (400, 401, 403, 404, 409),
) -> None:
    """Register `names` = (list view, item view, item rule) on `blp`, each view with its docs.

    The list view answers GET (and POST with `service.create`); the item view GET and PATCH (and
    DELETE with `service.delete`). Each change is committed; the item rule's one URL argument is
    what `service.get` finds the item by.
    """
    list_name, item_name, item_rule = names
    (list_doc, list_ops), (item_doc, item_ops) = view_docs(list_docs), view_docs(item_docs)

    def index(self, args):
        stmt = service.query(args)
        items, next_cursor = keyset_page(stmt, service.key, args.get("cursor"), args["limit"])
        return {"items": items, "next": next_cursor}

    def post(self, data):
        item = service.create(data)
        db.session.commit()
        return item

    def get(self, **key):
        return service.get(*key.values())

    def patch(self, data, **key):
        item = service.update(service.get(*key.values()), data)
        db.session.commit()
        return item

    def delete(self, **key):
        service.delete(service.get(*key.values()))
        db.session.commit()

    collection = {
        "get": guards.read(
            blp.arguments(schemas.list_args, location="query")(
                blp.response(200, schemas.page)(
                    errors(blp, 401, 403)(_documented(index, "get", list_ops["get"]))
                )
            )
        )
    }
    if service.create is not None:
        collection["post"] = guards.change(
            blp.arguments(schemas.item)(
                blp.response(201, schemas.item)(
                    errors(blp, 400, 401, 403, 409)(_documented(post, "post", list_ops["post"]))
                )
            )
        )
    item = {
        "get": guards.read(
            blp.response(200, schemas.item)(
                errors(blp, 401, 403, 404)(_documented(get, "get", item_ops["get"]))
            )
        ),
        "patch": guards.change(
            blp.arguments(schemas.update)(
                blp.response(200, schemas.item)(
                    errors(blp, *patch_errors)(_documented(patch, "patch", item_ops["patch"]))
                )
            )
        ),
    }
    if service.delete is not None:
        item["delete"] = guards.change(
            blp.response(204)(
                errors(blp, 401, 403, 404, 409)(_documented(delete, "delete", item_ops["delete"]))
            )
        )
    blp.route("")(type(list_name, (MethodView,), {"__doc__": list_doc, **collection}))
    blp.route(item_rule)(type(item_name, (MethodView,), {"__doc__": item_doc, **item}))
