"""The audit trail of setup changes."""
