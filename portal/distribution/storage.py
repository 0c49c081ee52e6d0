"""Where package files live: a local folder (the default) or an S3 bucket (`s3://bucket/prefix`).

Both publish a package atomically: the local folder renames a finished file into place; S3
uploads under a temporary key (`<prefix>/.partial/...`), copies it to its final key and deletes
the temporary one, so a build killed mid-upload leaves nothing under a final key, only debris
that retention removes. A device downloads from the local folder through the portal, and from
S3 straight from the bucket through a short-lived presigned URL.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app

from portal.distribution.export import TableExport
from portal.distribution.package_files import write_package

S3_SCHEME = "s3://"
PARTIALS = ".partial"
Written = tuple[str, int, str, dict[str, int], str]


def package_store() -> LocalStore | S3Store:
    """The store `PACKAGE_STORE` names, one per app and setting."""
    setting = current_app.config["PACKAGE_STORE"]
    endpoint = current_app.config.get("PACKAGE_STORE_ENDPOINT") or None
    cache = current_app.extensions.setdefault("portal.package_stores", {})
    key = (setting, endpoint)
    if key not in cache:
        if setting.startswith(S3_SCHEME):
            cache[key] = S3Store(setting, endpoint)
        else:
            cache[key] = LocalStore(Path(setting))
    return cache[key]


class LocalStore:
    """Package files in a folder that every web server and worker shares."""

    def __init__(self, root: Path):
        self.root = root

    def write(
        self, content_key: str, manifest: dict, tables: Iterable[tuple[str, list[TableExport]]]
    ) -> Written:
        """Write a package into the folder; its relative path, size, SHA-256 and row counts."""
        return write_package(self.root, content_key, manifest, tables)

    def local_path(self, relative: str) -> Path | None:
        """The file of a package, if it is still there."""
        # Builds resolve the store against the working directory; send_file would use the app's.
        path = self.root.resolve() / relative
        return path if path.is_file() else None

    def download_url(self, relative: str, filename: str) -> str | None:
        """None: the portal serves local files itself."""
        return None

    def exists(self, relative: str) -> bool:
        """Whether a package's file is in the store."""
        return self.local_path(relative) is not None

    def delete(self, relative: str) -> None:
        """Remove a package's file (retention)."""
        (self.root / relative).unlink(missing_ok=True)

    def remove_abandoned_partials(self, older_than: timedelta) -> int:
        """Remove what builds killed mid-write left behind; their rebuilds write anew."""
        cutoff = time.time() - older_than.total_seconds()
        removed = 0
        for partial in self.root.rglob("*.partial"):
            if partial.stat().st_mtime < cutoff:
                partial.unlink(missing_ok=True)
                removed += 1
        return removed


class S3Store:
    """Package files in an S3-compatible bucket (AWS S3, MinIO, Ceph, ...), under a prefix."""

    def __init__(self, url: str, endpoint: str | None = None):
        # boto3 takes a third of a second to import: only portals that use S3 pay for it.
        import boto3
        from botocore.config import Config

        parts = urlsplit(url)
        if not parts.netloc:
            raise ValueError(f"PACKAGE_STORE={url!r} names no bucket: use s3://bucket/prefix")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        # Credentials and region come from boto3's usual sources (AWS_* variables, profiles,
        # instance roles); virtual-host addressing is the default, path style for an endpoint.
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint else "auto"},
            retries={"max_attempts": 5, "mode": "standard"},
        )
        self.client = boto3.client("s3", endpoint_url=endpoint, config=config)

    def key(self, relative: str) -> str:
        """The object key of a package's relative path."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def write(
        self, content_key: str, manifest: dict, tables: Iterable[tuple[str, list[TableExport]]]
    ) -> Written:
        """Write a package locally, then publish it to the bucket; as `LocalStore.write`."""
        scratch = Path(tempfile.mkdtemp(prefix="package-"))
        try:
            written = write_package(scratch, content_key, manifest, tables)
            self.publish(written[0], scratch / written[0])
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return written

    def publish(self, relative: str, source: Path, callback=None) -> None:
        """Upload a finished file under a temporary key, then make it appear under its own."""
        temporary = self.key(f"{PARTIALS}/{relative}.{uuid.uuid4().hex}")
        self.client.upload_file(
            str(source),
            self.bucket,
            temporary,
            ExtraArgs={"ContentType": "application/zip"},
            Callback=callback,
        )
        try:
            self.client.copy(
                {"Bucket": self.bucket, "Key": temporary},
                self.bucket,
                self.key(relative),
                ExtraArgs={"ContentType": "application/zip", "MetadataDirective": "REPLACE"},
            )
        finally:
            self.client.delete_object(Bucket=self.bucket, Key=temporary)

    def local_path(self, relative: str) -> Path | None:
        """None: the file is in the bucket."""
        return None

    def download_url(self, relative: str, filename: str) -> str | None:
        """A presigned GET of the package, valid `PACKAGE_URL_SECONDS`; None if it is gone."""
        if not self.exists(relative):
            return None
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.key(relative),
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=current_app.config["PACKAGE_URL_SECONDS"],
        )

    def exists(self, relative: str) -> bool:
        """Whether a package's object is in the bucket."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(relative))
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, relative: str) -> None:
        """Remove a package's object (retention)."""
        self.client.delete_object(Bucket=self.bucket, Key=self.key(relative))

    def remove_abandoned_partials(self, older_than: timedelta) -> int:
        """Delete temporary objects and abort multipart uploads that killed builds left."""
        cutoff = datetime.now(UTC) - older_than
        partials = self.key(PARTIALS) + "/"
        removed = 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=partials
        )
        for page in pages:
            for item in page.get("Contents", []):
                if item["LastModified"] < cutoff:
                    self.client.delete_object(Bucket=self.bucket, Key=item["Key"])
                    removed += 1
        uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=partials)
        for upload in uploads.get("Uploads", []):
            if upload["Initiated"] < cutoff:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                removed += 1
        return removed
