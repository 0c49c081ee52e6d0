"""Stores (retail channels) and their channel database."""
