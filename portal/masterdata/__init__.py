"""HQ master data: what the scheduler jobs distribute, with change versions and tombstones."""
