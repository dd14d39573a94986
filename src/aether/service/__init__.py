"""Running as a service: systemd units and the sd_notify protocol."""
