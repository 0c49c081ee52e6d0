"""CSV downloads of lists: asked for with `?format=csv`, streamed in chunks as rows are read."""

import csv
import io
import itertools
from collections.abc import Iterable, Iterator

from flask import Response, request, stream_with_context

# Bytes of CSV gathered before they go out: fewer, larger writes than one per row.
CHUNK = 64 * 1024


def wants_csv() -> bool:
    """Whether the list was asked for as a CSV download."""
    return request.args.get("format") == "csv"


def csv_response(filename: str, header: Iterable[str], rows: Iterator[Iterable]) -> Response:
    """A streamed CSV download: the header row, then each row as the generator yields it."""

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in itertools.chain([header], rows):
            writer.writerow(row)
            if buffer.tell() > CHUNK:
                yield _drain(buffer)
        yield _drain(buffer)

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
