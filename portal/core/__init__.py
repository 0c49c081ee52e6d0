"""Shared plumbing that imports no feature: the database and extensions, errors and the API's
error shape, pagination, CSV downloads, SQL dialect helpers, request defences."""
