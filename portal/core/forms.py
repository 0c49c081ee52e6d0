"""Form fields of the pages that read a number or a day only when a column can store it."""

from collections.abc import Callable
from typing import Any

from wtforms import DateField, DecimalField, IntegerField

from portal.core.storable import Unstorable, check_day, check_decimal, check_int


class _Storable:
    """Mixin: after the field reads its text, refuse a value no column can store."""

    check: Callable[[Any], Any]

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is None:
            return
        try:
            self.check(self.data)
        except Unstorable as error:
            self.data = None
            raise ValueError(str(error)) from None


class DayField(_Storable, DateField):
    """A day (YYYY-MM-DD) whose start and end can be computed in UTC."""

    check = staticmethod(check_day)


class AmountField(_Storable, DecimalField):
    """A decimal that is finite and below what the widest amount column holds."""

    check = staticmethod(check_decimal)


class WholeNumberField(_Storable, IntegerField):
    """A whole number that fits a 64-bit column."""

    check = staticmethod(check_int)
