"""Shared plumbing: database base, errors, pagination, authorisation."""
