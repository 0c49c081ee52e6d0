"""Registers (POS terminals) and their Support offline switch."""
