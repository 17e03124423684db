"""The points domain's vocabularies. Pure: the rules, the commands, the models and the API all use these."""

from __future__ import annotations

from enum import StrEnum


class DecisionBasis(StrEnum):
    """What the institution was sanctioned by, before anyone may be scored."""

    ADMINISTRATIVE_PENALTY = "ADMINISTRATIVE_PENALTY"  # 行政处罚
    AGREEMENT_HANDLING = "AGREEMENT_HANDLING"  # 协议处理


class Responsibility(StrEnum):
    MAIN = "MAIN"  # 主要
    IMPORTANT = "IMPORTANT"  # 重要
    GENERAL = "GENERAL"  # 一般


class ReviewOutcome(StrEnum):
    UPHELD = "UPHELD"
    AMENDED = "AMENDED"
    REVOKED = "REVOKED"


class RecordState(StrEnum):
    VALID = "VALID"
    DISPUTED = "DISPUTED"  # an objection is pending; the points still count
    REVOKED = "REVOKED"


class SanctionKind(StrEnum):
    SUSPENSION = "SUSPENSION"
    TERMINATION = "TERMINATION"


class SanctionState(StrEnum):
    VALID = "VALID"
    LIFTED = "LIFTED"  # its cause was reviewed away
    SUPERSEDED = "SUPERSEDED"  # replaced by a termination


class SanctionChangeKind(StrEnum):
    """What a recomputation did to a stored sanction (what regulators are told)."""

    IMPOSED = "imposed"
    LENGTHENED = "lengthened"
    SHORTENED = "shortened"
    SUPERSEDED = "superseded"
    REINSTATED = "reinstated"
    LIFTED = "lifted"
