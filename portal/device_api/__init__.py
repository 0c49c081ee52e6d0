"""The device API: how store servers and registers activate, fetch packages and report back."""
