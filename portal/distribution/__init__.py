"""Scheduler jobs and the distribution of data to channel databases."""
