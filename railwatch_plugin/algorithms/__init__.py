"""Processing provider ``railwatch`` and its algorithms (the one path every front end uses)."""
