"""The checker on the web."""
