"""Replication of facts between nodes (provinces, the national node) and webhooks to regulators.

Not built yet: the federation issue adds it. What it will publish already exists: the gapless, per-node event
log in `registry.eventlog`, which every use case appends to in its own transaction.
"""
