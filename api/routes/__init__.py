"""The HTTP surface, one module per area; api/app.py registers each blueprint by name."""
