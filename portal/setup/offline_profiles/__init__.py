"""Offline profiles and offline scopes."""
