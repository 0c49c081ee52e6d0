"""Channel data groups and channel databases."""
