"""Sales transactions uploaded by registers, and the upload sessions that carried them."""
