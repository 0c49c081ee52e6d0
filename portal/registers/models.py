"""Registers (POS terminals) and their Support offline flag."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import Timestamped
from portal.extensions import db

if TYPE_CHECKING:
    from portal.channels.models import ChannelDatabase
    from portal.offline_profiles.models import OfflineProfile
    from portal.stores.models import Store


class Register(Timestamped, db.Model):
    """A POS terminal of one store; with Support offline it keeps an offline database."""

    __tablename__ = "register"

    id: Mapped[int] = mapped_column(primary_key=True)
    register_number: Mapped[str] = mapped_column(sa.String(30), unique=True)
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("store.id"), index=True)
    support_offline: Mapped[bool] = mapped_column(default=False)
    offline_profile_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("offline_profile.id"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)

    store: Mapped[Store] = relationship(back_populates="registers")
    offline_profile: Mapped[OfflineProfile | None] = relationship()
    offline_database: Mapped[ChannelDatabase | None] = relationship(back_populates="register")

    @property
    def effective_offline_profile(self) -> OfflineProfile | None:
        """The register's own offline profile, else its store's default."""
        return self.offline_profile or self.store.offline_profile
