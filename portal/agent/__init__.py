"""The reference POS agent: plays a store server or a register against a running portal."""
