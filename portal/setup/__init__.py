"""The chain's setup: stores, registers, channel databases and groups, offline profiles."""
