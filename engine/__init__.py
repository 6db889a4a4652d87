"""The outbound queue's plain-Python machinery (no fields, no models)."""
