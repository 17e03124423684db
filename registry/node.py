"""The node the use cases run on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    """What the use cases need from the node besides the database."""

    region: str  # the jurisdiction the node speaks for; 000000 is the national node
    id_secret: bytes  # the key of the resident-ID digests
