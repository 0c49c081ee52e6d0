"""A throwaway PostgreSQL database per benchmark catalogue, with the portal's schema."""

import os
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from flask_migrate import upgrade

from portal import create_app
from portal.core.extensions import db

SERVER = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    """The PostgreSQL server to benchmark on: BENCH_DATABASE_URL, DATABASE_URL or the local one."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or SERVER
    if not url.startswith("postgres"):
        raise SystemExit("The benchmarks compare against PostgreSQL's COPY: set DATABASE_URL.")
    return url


@contextmanager
def portal_on_fresh_database(label: str, package_store: str):
    """An app context on a new database (dropped afterwards), migrated to the current schema."""
    server = urlsplit(server_url())
    name = f"hqportal_bench_{label}_{uuid.uuid4().hex[:6]}"
    admin = urlunsplit(server._replace(scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(server._replace(scheme="postgresql+psycopg", path=f"/{name}"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PACKAGE_STORE": package_store})
    try:
        with app.app_context():
            upgrade()
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
