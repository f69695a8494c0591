"""One router per area; app.py mounts each with one line."""
