"""Scheduler jobs: numbered units of data to distribute."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.models import Timestamped
from portal.extensions import db


class SchedulerJob(Timestamped, db.Model):
    """A job of the catalogue (e.g. 1080 Sales tax) and the tables it carries."""

    __tablename__ = "scheduler_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    direction: Mapped[str] = mapped_column(sa.String(15))
    tables: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    exclude_from_offline: Mapped[bool] = mapped_column(default=False)
