"""Writes about the organization tree: savings groups (groups.py) and the supervision record (supervision.py)."""
