"""Bulk changes of registers and stores: by filter or by list, previewed, one operation each."""
