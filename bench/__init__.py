"""Benchmarks of HQ Portal, each printed with a baseline measured in the same run."""
