"""Who may do what: tokens and sessions, rate limits, and checking uploads before they are accepted."""
