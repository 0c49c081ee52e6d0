"""Explicit hooks through which packages above setup add to setup's pages.

A setup page names what it offers (a channel database's page: more template values) and a
higher package (the device API: the device's status and credentials) fills it in at app set-up;
setup never imports it.
"""

from collections.abc import Callable
from typing import Any


class PageExtras:
    """Functions of the object a page shows that return more values for its template."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self._providers: list[Callable[[Any], dict[str, Any]]] = []

    def add(self, provider: Callable[[Any], dict[str, Any]]) -> None:
        """Have the page call `provider(shown)` for more template values; once per provider."""
        if provider not in self._providers:
            self._providers.append(provider)

    def values(self, shown: Any) -> dict[str, Any]:
        """The template values every provider gives for the object shown, in the order added."""
        values: dict[str, Any] = {}
        for provider in self._providers:
            values.update(provider(shown))
        return values


bulk_offline_preview = PageExtras(
    "The confirmation of a bulk change to Support offline: given the selected registers' ids, "
    "more template values (`offline_preview`: what their offline databases will receive)."
)
