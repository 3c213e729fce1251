"""Running a service: its settings, admin commands, the serve bootstrap, and the submit client."""
