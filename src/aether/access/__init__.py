"""Access control: tokens and roles, address allow-lists, origin checks, back-off."""
