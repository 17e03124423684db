"""Envelopes, checkpoints and signed requests between nodes. Pure: no I/O, no clock, no database.

An event is `{v, origin, seq, prev, type, fact}` in canonical JSON (RFC 8785). Each origin chains its events:
`prev` is the SHA-256 of the canonical bytes of the origin's previous event. The origin signs checkpoints
`{origin, seq, hash, sig}` (Ed25519 over the canonical bytes of `{origin, seq, hash}`), so one signature covers a
whole transaction's events through the chain. A receiver applies events only up to the last checkpoint it verified.

Canonical JSON comes from orjson with sorted keys: it equals `rfc8785.dumps` on the values this module accepts
(str keys of ASCII only, str, int within ±(2**53-1), bool, None, lists, dicts), which the unit tests prove with a
property test. Everything else (floats, non-ASCII keys, larger ints, other types) is refused, not serialised.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from registry.canonical import MAX_INT, NotCanonical
from registry.canonical import canonical as canonical_json
from registry.validation import is_region_code

NATIONAL = "000000"
GENESIS = "0" * 64  # the `prev` of an origin's first event
WIRE_VERSIONS = frozenset({1})
MAX_EVENT_BYTES = 256 * 1024  # about 2,500 entries of one decision; the origin refuses to seal more
MAX_CHECKPOINT_BYTES = 512

# The fields of each fact type, as COMMON's wire form lists them; `node.key` is published by the national node.
FACT_FIELDS: Mapping[str, frozenset[str]] = {
    "institution.registered": frozenset({"code", "name", "kind", "region_code"}),
    "practitioner.registered": frozenset(
        {
            "code",
            "name",
            "category",
            "region_code",
            "id_digest",
            "id_masked",
            "institution_codes",
            "registered_on",
        }
    ),
    "practitioner.deregistered": frozenset({"practitioner_code", "region_code", "ends_on", "reason"}),
    "affiliation.added": frozenset({"practitioner_code", "institution_code", "region_code", "starts_on"}),
    "affiliation.ended": frozenset({"practitioner_code", "institution_code", "region_code", "ends_on"}),
    "decision.recorded": frozenset(
        {
            "case_number",
            "region_code",
            "institution_code",
            "basis",
            "decided_on",
            "conduct_from",
            "conduct_to",
            "behaviour",
            "amount_involved",
            "entries",
        }
    ),
    "objection.filed": frozenset({"case_number", "region_code", "practitioner_code", "statement"}),
    "points.reviewed": frozenset(
        {
            "case_number",
            "region_code",
            "practitioner_code",
            "outcome",
            "points",
            "suspension_months",
            "reviewed_on",
            "reason",
        }
    ),
    "restoration.recorded": frozenset({"practitioner_code", "region_code", "activity", "restored_on", "points"}),
    "node.key": frozenset({"region_code", "public_key"}),
}
NODE_KEY = "node.key"

_EVENT_KEYS = frozenset({"v", "origin", "seq", "prev", "type", "fact"})
_CHECKPOINT_KEYS = frozenset({"origin", "seq", "hash", "sig"})
_HASH = re.compile(r"[0-9a-f]{64}")


class Reason(StrEnum):
    """Why an envelope, a run or a request was refused: stable, for logs and metrics."""

    NOT_JSON = "not_json"
    OVERSIZE = "oversize"
    BAD_SCHEMA = "bad_schema"
    NOT_CANONICAL = "not_canonical"
    WRONG_ORIGIN = "wrong_origin"
    GAP = "gap"
    REPLAY = "replay"
    REORDER = "reorder"
    BROKEN_CHAIN = "broken_chain"
    NOT_COVERED = "not_covered"
    BAD_SIGNATURE = "bad_signature"
    REGION_NOT_COVERED = "region_not_covered"
    NOT_A_NODE = "not_a_node"
    STALE_REQUEST = "stale_request"


class EnvelopeError(ValueError):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Event:
    v: int
    origin: str
    seq: int
    prev: str
    type: str
    fact: dict[str, Any]


@dataclass(frozen=True)
class Sealed:
    raw: bytes  # the canonical bytes: stored and relayed as they are
    hash: str  # lowercase hex SHA-256 of raw: the next event's prev
    event: Event


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    seq: int
    hash: str
    sig: str  # base64 Ed25519 signature over canonical({origin, seq, hash})
    raw: bytes  # the canonical bytes: relayed as they are


class Head(NamedTuple):
    """The last event already accepted from an origin."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Verified:
    events: tuple[Sealed, ...]  # the covered prefix of the run: these may be applied
    head: Head | None  # the origin's head once they are
    uncovered: int  # events after the last verified checkpoint: not applicable yet, pull them again later
    checkpoint: Checkpoint | None  # the checkpoint that covers them (None for an empty run)


# --- Canonical JSON ---------------------------------------------------------------------------------------------


def canonical(obj: object) -> bytes:
    """RFC 8785 bytes of obj (see `registry.canonical`); EnvelopeError(BAD_SCHEMA) for what has no such form."""
    try:
        return canonical_json(obj)
    except NotCanonical as exc:
        raise EnvelopeError(Reason.BAD_SCHEMA, str(exc)) from None


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


# --- Regions ----------------------------------------------------------------------------------------------------


def is_node_region(code: str) -> bool:
    """A node speaks for the nation (000000) or a province (520000); a city or county bureau is not a node."""
    return code == NATIONAL or (is_region_code(code) and code.endswith("0000"))


def _is_fact_region(code: object) -> bool:
    return isinstance(code, str) and (code == NATIONAL or is_region_code(code))


def covers(signer_region: str, fact_region: str) -> bool:
    """Whether a node may issue facts about a region: 000000 covers all, 520000 covers 52xxxx."""
    if not is_node_region(signer_region):
        raise EnvelopeError(Reason.NOT_A_NODE, f"{signer_region!r} is not a national or province node")
    if not _is_fact_region(fact_region):
        return False
    return signer_region == NATIONAL or (fact_region != NATIONAL and fact_region[:2] == signer_region[:2])


def check_regions(origin: str, events: Iterable[Event]) -> None:
    """Every fact must be about a region its origin speaks for; node keys come from the national node only."""
    for event in events:
        _check_region(origin, event.seq, event.type, event.fact["region_code"])


def _check_region(origin: str, seq: int, type: str, region: object) -> None:
    if type == NODE_KEY and origin != NATIONAL:
        raise EnvelopeError(Reason.REGION_NOT_COVERED, f"seq {seq}: only {NATIONAL} publishes node keys")
    if not covers(origin, region):  # type: ignore[arg-type]  # covers() refuses what is not a region code
        raise EnvelopeError(Reason.REGION_NOT_COVERED, f"seq {seq}: {origin} does not speak for region {region}")


# --- Events -----------------------------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return type(value) is int


def _event_from(obj: object) -> Event:
    """The schema of an envelope: exact keys, types and formats (values are checked by canonical())."""
    if type(obj) is not dict or obj.keys() != _EVENT_KEYS:
        found = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise EnvelopeError(Reason.BAD_SCHEMA, f"an event has exactly the keys {sorted(_EVENT_KEYS)}, not {found}")
    v, origin, seq, prev, kind, fact = obj["v"], obj["origin"], obj["seq"], obj["prev"], obj["type"], obj["fact"]
    if not _is_int(v) or v not in WIRE_VERSIONS:
        raise EnvelopeError(Reason.BAD_SCHEMA, f"unsupported wire version {v!r}")
    if type(origin) is not str or not is_node_region(origin):
        raise EnvelopeError(Reason.BAD_SCHEMA, f"origin {origin!r} is not a node's region")
    if not _is_int(seq) or not 1 <= seq <= MAX_INT:
        raise EnvelopeError(Reason.BAD_SCHEMA, f"seq {seq!r} is not an integer from 1")
    if type(prev) is not str or not _HASH.fullmatch(prev):
        raise EnvelopeError(Reason.BAD_SCHEMA, "prev is not a lowercase hex SHA-256")
    if type(kind) is not str or kind not in FACT_FIELDS:
        raise EnvelopeError(Reason.BAD_SCHEMA, f"unknown fact type {kind!r}")
    if type(fact) is not dict or fact.keys() != FACT_FIELDS[kind]:
        found = sorted(fact) if isinstance(fact, dict) else type(fact).__name__
        raise EnvelopeError(Reason.BAD_SCHEMA, f"a {kind} fact has the fields {sorted(FACT_FIELDS[kind])}, not {found}")
    if not _is_fact_region(fact["region_code"]):
        raise EnvelopeError(Reason.BAD_SCHEMA, f"region_code {fact['region_code']!r} is not a region code")
    return Event(v, origin, seq, prev, kind, fact)


def _loads(raw: bytes | str, limit: int) -> tuple[bytes, Any]:
    if isinstance(raw, str):
        try:
            raw = raw.encode()
        except UnicodeEncodeError:
            raise EnvelopeError(Reason.NOT_JSON, "not UTF-8 text") from None
    if len(raw) > limit:
        raise EnvelopeError(Reason.OVERSIZE, f"{len(raw)} bytes; at most {limit}")
    try:
        return raw, orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise EnvelopeError(Reason.NOT_JSON, str(e)) from None


def _require_canonical(obj: object, raw: bytes) -> None:
    if canonical(obj) != raw:
        raise EnvelopeError(Reason.NOT_CANONICAL, "the bytes are not the RFC 8785 form of their content")


def open_event(raw: bytes | str) -> Sealed:
    """parse_event() that keeps the raw bytes and their hash."""
    raw, obj = _loads(raw, MAX_EVENT_BYTES)
    event = _event_from(obj)
    _require_canonical(obj, raw)
    return Sealed(raw, digest(raw), event)


def parse_event(raw: bytes | str) -> Event:
    """An event from its canonical bytes, checked strictly; EnvelopeError otherwise."""
    return open_event(raw).event


def seal(origin: str, seq: int, prev: str, type: str, fact: Mapping[str, Any], v: int = 1) -> Sealed:
    """The canonical envelope of one fact. Refuses what a receiver would refuse, so an origin never emits it."""
    obj = {"v": v, "origin": origin, "seq": seq, "prev": prev, "type": type, "fact": dict(fact)}
    _event_from(obj)
    raw = canonical(obj)
    if len(raw) > MAX_EVENT_BYTES:
        raise EnvelopeError(Reason.OVERSIZE, f"{len(raw)} bytes; at most {MAX_EVENT_BYTES}")
    # Parsed back from the bytes, so later changes to the caller's dict cannot make the event disagree with them.
    event = _event_from(orjson.loads(raw))
    check_regions(origin, [event])
    return Sealed(raw, digest(raw), event)


def seal_run(origin: str, seq: int, prev: str, facts: Sequence[tuple[str, Mapping[str, Any], int]]) -> list[Sealed]:
    """seal() for consecutive facts (type, fact, v) of one origin, numbered from `seq` and chained from `prev`:
    the same envelopes and the same refusals. The first fact is sealed by seal(); each next flat one of the same
    type and version only has its fact checked (fields, values, region): its envelope differs from the one before
    only by the next seq and, as prev, the digest of the one before. An import seals a million facts this way.
    """
    if seq + len(facts) - 1 > MAX_INT:
        raise EnvelopeError(Reason.BAD_SCHEMA, f"seq {seq + len(facts) - 1} is beyond 2**53-1")
    run: list[Sealed] = []
    for kind, fact, v in facts:
        last = run[-1].event if run else None
        same = last is not None and kind == last.type and type(kind) is str and type(v) is int and v == last.v
        flat = _flat_copy(fact) if same and fact.keys() == FACT_FIELDS[kind] else None
        if flat is None or not _is_fact_region(flat["region_code"]):
            sealed = seal(origin, seq, prev, kind, fact, v)
        else:
            obj = {"v": v, "origin": origin, "seq": seq, "prev": prev, "type": kind, "fact": flat}
            try:
                raw = orjson.dumps(obj, option=_FLAT_OPTIONS)
            except orjson.JSONEncodeError:  # a lone surrogate: seal() says what is wrong
                raw = seal(origin, seq, prev, kind, fact, v).raw
            if len(raw) > MAX_EVENT_BYTES:
                raise EnvelopeError(Reason.OVERSIZE, f"{len(raw)} bytes; at most {MAX_EVENT_BYTES}")
            _check_region(origin, seq, kind, flat["region_code"])
            sealed = Sealed(raw, digest(raw), Event(v, origin, seq, prev, kind, flat))
        run.append(sealed)
        seq, prev = seq + 1, sealed.hash
    return run


# How registry.canonical writes (orjson, sorted keys, strict integers) and the values it takes as they are:
# seal_run writes flat facts itself, without canonical()'s walk; the tests compare its bytes with seal()'s and
# with RFC 8785's.
_FLAT_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_FLAT_LEAVES = frozenset({str, bool, type(None)})


def _is_flat_value(value: object) -> bool:
    """A value canonical() takes exactly as orjson writes it, with nothing inside that could change later."""
    kind = type(value)
    return kind in _FLAT_LEAVES or (kind is int and -MAX_INT <= value <= MAX_INT)  # type: ignore[operator]


def _flat_copy(fact: Mapping[str, Any]) -> dict[str, Any] | None:
    """A copy of a flat fact (str keys; flat values, or lists of flat values), or None for any other."""
    copy = dict(fact)
    for key, value in copy.items():
        if type(key) is not str:
            return None
        if type(value) in _FLAT_LEAVES:
            continue
        if type(value) is list and all(_is_flat_value(item) for item in value):
            copy[key] = list(value)  # the event keeps its own list: later changes to the caller's do not reach it
        elif not _is_flat_value(value):
            return None
    return copy


# --- Checkpoints ------------------------------------------------------------------------------------------------


def _checkpoint_message(origin: str, seq: int, hash: str) -> bytes:
    return canonical({"origin": origin, "seq": seq, "hash": hash})


def _check_checkpoint_fields(origin: object, seq: object, hash: object) -> None:
    if type(origin) is not str or not is_node_region(origin):
        raise EnvelopeError(Reason.BAD_SCHEMA, f"origin {origin!r} is not a node's region")
    if not isinstance(seq, int) or not _is_int(seq) or not 1 <= seq <= MAX_INT:
        raise EnvelopeError(Reason.BAD_SCHEMA, f"seq {seq!r} is not an integer from 1")
    if type(hash) is not str or not _HASH.fullmatch(hash):
        raise EnvelopeError(Reason.BAD_SCHEMA, "hash is not a lowercase hex SHA-256")


def sign_checkpoint(private_key: Ed25519PrivateKey, origin: str, seq: int, hash: str) -> bytes:
    """The canonical bytes of a signed checkpoint: the origin vouches for its chain up to (seq, hash)."""
    _check_checkpoint_fields(origin, seq, hash)
    sig = base64.b64encode(private_key.sign(_checkpoint_message(origin, seq, hash))).decode()
    return canonical({"origin": origin, "seq": seq, "hash": hash, "sig": sig})


def _decode_signature(sig: object) -> bytes:
    """Strict standard base64 of exactly 64 bytes, in its one canonical spelling."""
    if type(sig) is not str:
        raise EnvelopeError(Reason.BAD_SCHEMA, "a signature is a base64 string")
    try:
        raw = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError(Reason.BAD_SIGNATURE, "the signature is not base64") from None
    if len(raw) != 64 or base64.b64encode(raw).decode() != sig:
        raise EnvelopeError(Reason.BAD_SIGNATURE, "an Ed25519 signature is 64 bytes in canonical base64")
    return raw


def parse_checkpoint(raw: bytes | str) -> Checkpoint:
    """A checkpoint from its canonical bytes, checked strictly (its signature is checked by verify_checkpoint)."""
    raw, obj = _loads(raw, MAX_CHECKPOINT_BYTES)
    if type(obj) is not dict or obj.keys() != _CHECKPOINT_KEYS:
        found = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise EnvelopeError(
            Reason.BAD_SCHEMA, f"a checkpoint has exactly the keys {sorted(_CHECKPOINT_KEYS)}, not {found}"
        )
    _check_checkpoint_fields(obj["origin"], obj["seq"], obj["hash"])
    _decode_signature(obj["sig"])
    _require_canonical(obj, raw)
    return Checkpoint(obj["origin"], obj["seq"], obj["hash"], obj["sig"], raw)


def verify_checkpoint(cp: Checkpoint, public_key: Ed25519PublicKey) -> None:
    """Raises EnvelopeError(bad_signature) unless public_key signed exactly (origin, seq, hash)."""
    try:
        public_key.verify(_decode_signature(cp.sig), _checkpoint_message(cp.origin, cp.seq, cp.hash))
    except InvalidSignature:
        raise EnvelopeError(
            Reason.BAD_SIGNATURE, f"checkpoint {cp.origin}#{cp.seq} is not signed by this key"
        ) from None


# --- Runs -------------------------------------------------------------------------------------------------------


def _check_sequence(after: int, seqs: Sequence[int]) -> None:
    expected = after + 1
    for i, seq in enumerate(seqs):
        if seq == expected:
            expected += 1
        elif seq < expected:  # every seq from after+1 to expected-1 was already seen, or was accepted before
            raise EnvelopeError(Reason.REPLAY, f"seq {seq} again; expected {expected}")
        elif expected in seqs[i + 1 :]:
            raise EnvelopeError(Reason.REORDER, f"seq {seq} before {expected}")
        else:
            raise EnvelopeError(Reason.GAP, f"seq {seq} after {expected - 1}; {expected} is missing")


def verify_run(
    origin: str,
    head: Head | None,
    raws: Sequence[bytes],
    checkpoints: Sequence[Checkpoint],
    key: Ed25519PublicKey,
) -> Verified:
    """Check a run of one origin's events, which continues from head, against that origin's checkpoints.

    The whole run must parse, continue the sequence and the hash chain without a gap, repeat or swap, and hold
    facts only about regions the origin speaks for. The checkpoint of this origin with the highest seq that names
    an event of the run (or the head) must be signed by key and name that event's hash: events up to it are
    returned; the ones after it are counted as uncovered and must be pulled again with a later checkpoint.
    Checkpoints of other origins, or beyond the run, are ignored (they are checked with their own run).
    Raises EnvelopeError, with a machine-readable reason, for anything else: no part of a refused run applies.
    """
    sealed = [open_event(raw) for raw in raws]
    for s in sealed:
        if s.event.origin != origin:
            raise EnvelopeError(Reason.WRONG_ORIGIN, f"seq {s.event.seq} comes from {s.event.origin}, not {origin}")
    after, prev = head if head is not None else (0, GENESIS)
    _check_sequence(after, [s.event.seq for s in sealed])
    for s in sealed:
        if s.event.prev != prev:
            raise EnvelopeError(Reason.BROKEN_CHAIN, f"seq {s.event.seq}: prev does not match the previous event")
        prev = s.hash
    check_regions(origin, (s.event for s in sealed))
    if not sealed:
        return Verified((), head, 0, None)

    hashes = {s.event.seq: s.hash for s in sealed}
    if head is not None:
        hashes[head.seq] = head.hash
    candidates = [cp for cp in checkpoints if cp.origin == origin and cp.seq in hashes]
    if not candidates:
        raise EnvelopeError(
            Reason.NOT_COVERED, f"no checkpoint of {origin} names an event of seq {after + 1}..{sealed[-1].event.seq}"
        )
    # One signature per run: the newest checkpoint covers every event before it through the chain.
    best = max(candidates, key=lambda cp: cp.seq)
    verify_checkpoint(best, key)
    if best.hash != hashes[best.seq]:
        raise EnvelopeError(Reason.BROKEN_CHAIN, f"seq {best.seq}: the signed checkpoint names another event")
    covered = best.seq - after
    return Verified(tuple(sealed[:covered]), Head(best.seq, best.hash), len(sealed) - covered, best)


# --- Signed requests between peers ------------------------------------------------------------------------------


def _request_message(region: str, timestamp: int, method: str, path_and_query: str, body: bytes) -> bytes:
    return canonical(
        {
            "region": region,
            "timestamp": timestamp,
            "method": method.upper(),
            "path": path_and_query,
            "body_sha256": digest(body),
        }
    )


def sign_request(
    private_key: Ed25519PrivateKey, region: str, timestamp: int, method: str, path_and_query: str, body: bytes
) -> str:
    """The base64 signature a peer sends with a feed pull or push; timestamp is Unix seconds."""
    return base64.b64encode(
        private_key.sign(_request_message(region, timestamp, method, path_and_query, body))
    ).decode()


def verify_request(
    public_key: Ed25519PublicKey,
    region: str,
    timestamp: int,
    method: str,
    path_and_query: str,
    body: bytes,
    signature: str,
    now: float,
    max_skew_seconds: float = 300,
) -> None:
    """Raises EnvelopeError unless public_key signed this request within max_skew_seconds of now.

    A captured request can be replayed within the window: feed pulls are reads and pushes only wake a peer up,
    so a replay changes nothing.
    """
    if type(timestamp) is not int or abs(now - timestamp) > max_skew_seconds:
        raise EnvelopeError(Reason.STALE_REQUEST, f"timestamp {timestamp!r} is not within {max_skew_seconds} s of now")
    try:
        public_key.verify(
            _decode_signature(signature), _request_message(region, timestamp, method, path_and_query, body)
        )
    except (InvalidSignature, EnvelopeError):
        raise EnvelopeError(Reason.BAD_SIGNATURE, "the request is not signed by this peer's key") from None
