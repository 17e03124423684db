"""The pure envelope module: canonical JSON, sealed events, signed checkpoints, verified runs, region coverage and
signed requests. Forgery, replay, reordering and gaps are proven refused here."""

from __future__ import annotations

import base64
import hashlib
import json
from enum import StrEnum
from typing import Any

import orjson
import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.federation.envelope import (
    FACT_FIELDS,
    GENESIS,
    MAX_EVENT_BYTES,
    MAX_INT,
    Checkpoint,
    EnvelopeError,
    Head,
    Reason,
    Sealed,
    canonical,
    check_regions,
    covers,
    open_event,
    parse_checkpoint,
    parse_event,
    seal,
    seal_run,
    sign_checkpoint,
    sign_request,
    verify_checkpoint,
    verify_request,
    verify_run,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
PUBLIC = KEY.public_key()
GZ = "520000"  # Guizhou
YN = "530000"  # Yunnan
NATIONAL = "000000"


def decision(region: str = "520100", case: str = "黔医保罚〔2026〕1号", person: str = "P0001") -> dict[str, Any]:
    return {
        "case_number": case,
        "region_code": region,
        "institution_code": "H52010000001",
        "basis": "ADMINISTRATIVE_PENALTY",
        "decided_on": "2026-03-02",
        "conduct_from": "2025-11-01",
        "conduct_to": "2025-12-31",
        "behaviour": "串换药品，虚构医药服务项目\n（第二次）",
        "amount_involved": "12345.60",
        "entries": [{"practitioner_code": person, "points": 3, "responsibility": "MAIN", "suspension_months": None}],
    }


def chain(n: int, origin: str = GZ, after: Sealed | None = None, region: str = "520100") -> list[Sealed]:
    """n consecutive events of origin, continuing after a previous one."""
    seq, prev = (after.event.seq, after.hash) if after else (0, GENESIS)
    out = []
    for i in range(n):
        s = seal(origin, seq + 1, prev, "decision.recorded", decision(region, case=f"CASE-{seq + 1}", person=f"P{i}"))
        out.append(s)
        seq, prev = s.event.seq, s.hash
    return out


def checkpoint_at(s: Sealed, key: Ed25519PrivateKey = KEY) -> Checkpoint:
    return parse_checkpoint(sign_checkpoint(key, s.event.origin, s.event.seq, s.hash))


def raws(events: list[Sealed]) -> list[bytes]:
    return [s.raw for s in events]


def refused(reason: Reason, *args: Any) -> EnvelopeError:
    with pytest.raises(EnvelopeError) as caught:
        verify_run(*args)
    assert caught.value.reason == reason, caught.value
    return caught.value


def envelope(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"v": 1, "origin": GZ, "seq": 1, "prev": GENESIS, "type": "decision.recorded"}
    obj["fact"] = decision()
    obj.update(changes)
    return obj


# --- Canonical JSON -----------------------------------------------------------------------------------------------

ASCII_KEYS = st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12)
SNAKE_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=16)
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40) | st.sampled_from(
    ["贵州省人民医院", "重庆市", "\x00\x01\x08\t\n\x0b\x0c\r\x1f\x7f", "\u2028\u2029", '"\\/', "😀𠀀", "é\u0301", ""]
)
SCALARS = st.none() | st.booleans() | st.integers(-MAX_INT, MAX_INT) | TEXT


def json_values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=6), max_leaves=25
    )


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(SNAKE_KEYS, json_values(SNAKE_KEYS), max_size=10))
def test_canonical_equals_rfc8785_on_facts(fact: dict[str, Any]) -> None:
    assert canonical(fact) == rfc8785.dumps(fact)


@settings(max_examples=400, deadline=None)
@given(json_values(ASCII_KEYS))
def test_canonical_equals_rfc8785_on_any_value_with_ascii_keys(value: Any) -> None:
    assert canonical(value) == rfc8785.dumps(value)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({k: json_values(SNAKE_KEYS) for k in FACT_FIELDS["objection.filed"] - {"region_code"}}))
def test_an_event_serialised_by_rfc8785_parses_as_canonical(fields: dict[str, Any]) -> None:
    # A peer may use any RFC 8785 implementation: its bytes must pass our canonical check.
    obj = envelope(type="objection.filed", fact={**fields, "region_code": "520300"})
    event = parse_event(rfc8785.dumps(obj))
    assert event.fact == obj["fact"]


@pytest.mark.parametrize(
    "value",
    [
        {"\ue000": 1, "\U0001f600": 2},  # RFC 8785 sorts keys by UTF-16 units, orjson by code points
        1.0,  # RFC 8785 writes 1, orjson 1.0
        -0.0,
    ],
)
def test_orjson_differs_from_rfc8785_outside_the_accepted_domain(value: Any) -> None:
    assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS) != rfc8785.dumps(value)
    with pytest.raises(EnvelopeError) as caught:
        canonical(value)
    assert caught.value.reason == Reason.BAD_SCHEMA


class Kind(StrEnum):
    MAIN = "MAIN"


@pytest.mark.parametrize(
    "value",
    [
        {"amount": 12.5},
        {"n": MAX_INT + 1},
        {"n": -MAX_INT - 1},
        {"n": 2**64},
        {"名字": "x"},
        {1: "x"},
        {"s": "\ud800"},  # a lone surrogate is not text
        {"t": (1, 2)},
        {"k": Kind.MAIN},
        {"b": b"x"},
        {"s": {1, 2}},
        {"deep": [[[[[[[[[1]]]]]]]]]},
    ],
)
def test_canonical_refuses_values_outside_the_domain(value: Any) -> None:
    with pytest.raises(EnvelopeError) as caught:
        canonical(value)
    assert caught.value.reason == Reason.BAD_SCHEMA


def test_canonical_accepts_the_integer_bounds() -> None:
    assert canonical([MAX_INT, -MAX_INT]) == rfc8785.dumps([MAX_INT, -MAX_INT])


# --- Sealing and parsing events -----------------------------------------------------------------------------------


def test_seal_then_parse_round_trips() -> None:
    fact = decision()
    s = seal(GZ, 1, GENESIS, "decision.recorded", fact)
    assert s.raw == rfc8785.dumps(
        {"v": 1, "origin": GZ, "seq": 1, "prev": GENESIS, "type": "decision.recorded", "fact": fact}
    )
    assert s.hash == hashlib.sha256(s.raw).hexdigest()
    assert parse_event(s.raw) == s.event
    assert parse_event(s.raw.decode()) == s.event
    assert open_event(s.raw) == s
    assert s.event.fact == fact
    assert "黔医保罚".encode() in s.raw  # UTF-8 as it is, not \u escapes


def test_a_sealed_event_does_not_follow_later_changes_to_the_callers_fact() -> None:
    fact = decision()
    s = seal(GZ, 1, GENESIS, "decision.recorded", fact)
    fact["entries"][0]["points"] = 12
    assert s.event.fact["entries"][0]["points"] == 3
    assert parse_event(s.raw) == s.event


def test_seal_refuses_what_a_receiver_would_refuse() -> None:
    with pytest.raises(EnvelopeError) as caught:
        seal(YN, 1, GENESIS, "decision.recorded", decision("520100"))
    assert caught.value.reason == Reason.REGION_NOT_COVERED
    with pytest.raises(EnvelopeError) as caught:
        seal(GZ, 1, GENESIS, "decision.recorded", {**decision(), "behaviour": "x" * MAX_EVENT_BYTES})
    assert caught.value.reason == Reason.OVERSIZE
    with pytest.raises(EnvelopeError) as caught:
        seal(GZ, 1, GENESIS, "decision.recorded", {**decision(), "amount_involved": 12345.6})
    assert caught.value.reason == Reason.BAD_SCHEMA
    with pytest.raises(EnvelopeError) as caught:
        seal("520100", 1, GENESIS, "decision.recorded", decision())
    assert caught.value.reason == Reason.BAD_SCHEMA


# A registration fact's fields, any flat values but a region Guizhou speaks for: what an import seals by the
# million, through seal_run()'s shortcut.
FLAT_VALUES = st.none() | st.booleans() | st.integers(-MAX_INT, MAX_INT) | TEXT
REGISTRATION = st.fixed_dictionaries(
    {
        k: FLAT_VALUES | st.lists(FLAT_VALUES, max_size=4)
        for k in FACT_FIELDS["practitioner.registered"] - {"region_code"}
    }
).map(lambda fact: {**fact, "region_code": "520201"})
RUN_FACTS = st.lists(
    st.tuples(st.just("practitioner.registered"), REGISTRATION, st.just(1))
    | st.builds(lambda case: ("decision.recorded", decision(case=case), 1), TEXT),
    max_size=8,
)


def chained(seq: int, prev: str, facts: list[tuple[str, dict[str, Any], int]]) -> list[Sealed]:
    """seal() for each fact in turn: what seal_run() must give."""
    out = []
    for kind, fact, v in facts:
        out.append(seal(GZ, seq, prev, kind, fact, v))
        seq, prev = seq + 1, out[-1].hash
    return out


@settings(max_examples=300, deadline=None)
@given(RUN_FACTS, st.integers(1, 2**40))
def test_seal_run_seals_as_seal_does_and_a_receiver_accepts_the_run(
    facts: list[tuple[str, dict[str, Any], int]], seq: int
) -> None:
    run = seal_run(GZ, seq, GENESIS, facts)
    assert run == chained(seq, GENESIS, facts)
    assert [s.raw for s in run] == [rfc8785.dumps(json.loads(s.raw)) for s in run]
    if run:
        head = Head(seq - 1, GENESIS) if seq > 1 else None  # as if the chain so far ended at GENESIS
        assert verify_run(GZ, head, raws(run), [checkpoint_at(run[-1])], PUBLIC).events == tuple(run)


def registration(**changes: Any) -> dict[str, Any]:
    fact = {k: "x" for k in FACT_FIELDS["practitioner.registered"]} | {"region_code": "520201"}
    return fact | {"institution_codes": ["H52020100001"]} | changes


@pytest.mark.parametrize(
    ("bad", "v"),
    [
        pytest.param(registration(name=12.5), 1, id="float"),
        pytest.param(registration(name=MAX_INT + 1), 1, id="int beyond 2**53"),
        pytest.param(registration(institution_codes=["H52020100001", 1.5]), 1, id="float in a list"),
        pytest.param(registration(name="\ud800"), 1, id="lone surrogate"),
        pytest.param(registration(name=Kind.MAIN), 1, id="str subclass"),
        pytest.param(registration(name=b"x"), 1, id="bytes"),
        pytest.param(registration(region_code="52"), 1, id="malformed region"),
        pytest.param(registration(region_code="530100"), 1, id="a region Guizhou does not speak for"),
        pytest.param(registration(name="x" * MAX_EVENT_BYTES), 1, id="oversize"),
        pytest.param({k: x for k, x in registration().items() if k != "name"}, 1, id="field missing"),
        pytest.param(registration(note="x"), 1, id="field extra"),
        pytest.param(registration(), True, id="bool version"),
        pytest.param(registration(), 2, id="unknown version"),
    ],
)
def test_seal_run_refuses_what_seal_refuses(bad: dict[str, Any], v: Any) -> None:
    with pytest.raises(EnvelopeError) as expected:
        seal(GZ, 3, GENESIS, "practitioner.registered", bad, v)
    good = ("practitioner.registered", registration(), 1)
    with pytest.raises(EnvelopeError) as caught:  # the bad fact comes after good ones of its type
        seal_run(GZ, 1, GENESIS, [good, good, ("practitioner.registered", bad, v)])
    assert caught.value.reason == expected.value.reason


def test_seal_run_keeps_its_own_lists() -> None:
    fact = registration()
    run = seal_run(
        GZ, 1, GENESIS, [("practitioner.registered", registration(), 1), ("practitioner.registered", fact, 1)]
    )
    fact["institution_codes"].append("H52020100002")
    assert run[1].event.fact["institution_codes"] == ["H52020100001"]
    assert parse_event(run[1].raw) == run[1].event


def test_seal_run_refuses_a_seq_beyond_the_integer_bound() -> None:
    good = ("practitioner.registered", registration(), 1)
    assert seal_run(GZ, MAX_INT - 1, GENESIS, [good, good])[-1].event.seq == MAX_INT
    with pytest.raises(EnvelopeError) as caught:
        seal_run(GZ, MAX_INT, GENESIS, [good, good])
    assert caught.value.reason == Reason.BAD_SCHEMA


def _without(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param(_without(envelope(), "prev"), id="missing key"),
        pytest.param(envelope(extra=1), id="extra key"),
        pytest.param(envelope(v=2), id="unknown version"),
        pytest.param(envelope(v=True), id="bool version"),
        pytest.param(envelope(seq="1"), id="seq as string"),
        pytest.param(envelope(seq=True), id="seq as bool"),
        pytest.param(envelope(seq=0), id="seq zero"),
        pytest.param(envelope(seq=-3), id="negative seq"),
        pytest.param(envelope(origin="520100"), id="city origin"),
        pytest.param(envelope(origin=520000), id="numeric origin"),
        pytest.param(envelope(origin="990000"), id="no such province"),
        pytest.param(envelope(prev=GENESIS.upper().replace("0", "A")), id="upper-case prev"),
        pytest.param(envelope(prev="0" * 63), id="short prev"),
        pytest.param(envelope(type="decision.deleted"), id="unknown type"),
        pytest.param(envelope(fact=[decision()]), id="fact not an object"),
        pytest.param(envelope(fact=_without(decision(), "basis")), id="fact field missing"),
        pytest.param(envelope(fact={**decision(), "note": "x"}), id="fact field extra"),
        pytest.param(envelope(fact={**decision(), "region_code": "52"}), id="bad region code"),
        pytest.param(envelope(fact={**decision(), "region_code": None}), id="no region code"),
        pytest.param(envelope(fact={**decision(), "amount_involved": 12345.6}), id="float in fact"),
        pytest.param(envelope(fact={**decision(), "entries": [{"points": 2**60}]}), id="int beyond 2**53"),
        pytest.param([envelope()], id="not an object"),
    ],
)
def test_parse_refuses_a_wrong_schema(obj: Any) -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_event(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS))  # sorted, compact: only the schema is wrong
    assert caught.value.reason == Reason.BAD_SCHEMA, caught.value


def test_parse_refuses_oversize_and_non_json() -> None:
    big = rfc8785.dumps(envelope(fact={**decision(), "behaviour": "x" * MAX_EVENT_BYTES}))
    for raw, reason in [
        (big, Reason.OVERSIZE),
        (b"", Reason.NOT_JSON),
        (b"{not json", Reason.NOT_JSON),
        (b'{"v":1,"x":"\xff"}', Reason.NOT_JSON),  # not UTF-8
        (b'{"s":"\\ud800"}', Reason.NOT_JSON),  # a lone surrogate
    ]:
        with pytest.raises(EnvelopeError) as caught:
            parse_event(raw)
        assert caught.value.reason == reason, raw[:40]


def test_parse_refuses_a_non_canonical_raw() -> None:
    obj = envelope()
    raw = rfc8785.dumps(obj)
    assert parse_event(raw).fact == obj["fact"]
    variants = [
        json.dumps(obj, ensure_ascii=False, sort_keys=True).encode(),  # spaces after , and :
        json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode(),  # keys in insertion order
        json.dumps(obj, sort_keys=True, separators=(",", ":")).encode(),  # \uXXXX escapes
        raw + b"\n",
        b" " + raw,
        raw.replace(b'"seq":1', b'"seq":1.0'),
        raw.replace(b'"seq":1', b'"seq":1e0'),
        raw.replace(b'"seq":1,', b'"seq":1,"seq":1,'),  # a repeated key
        raw.replace("号".encode(), b"\\u53f7"),
    ]
    for variant in variants:
        assert variant != raw
        with pytest.raises(EnvelopeError) as caught:
            parse_event(variant)
        assert caught.value.reason in (Reason.NOT_CANONICAL, Reason.BAD_SCHEMA), variant[:60]
    assert [_reason(parse_event, v) for v in variants[:5]] == [Reason.NOT_CANONICAL] * 5


def _reason(f: Any, *args: Any) -> Reason:
    try:
        f(*args)
    except EnvelopeError as e:
        return e.reason
    raise AssertionError("accepted")


# --- Checkpoints --------------------------------------------------------------------------------------------------


def test_checkpoint_round_trip() -> None:
    s = chain(1)[0]
    raw = sign_checkpoint(KEY, GZ, 1, s.hash)
    cp = parse_checkpoint(raw)
    assert (cp.origin, cp.seq, cp.hash, cp.raw) == (GZ, 1, s.hash, raw)
    assert raw == rfc8785.dumps({"origin": GZ, "seq": 1, "hash": s.hash, "sig": cp.sig})
    verify_checkpoint(cp, PUBLIC)
    with pytest.raises(EnvelopeError) as caught:
        verify_checkpoint(cp, OTHER_KEY.public_key())
    assert caught.value.reason == Reason.BAD_SIGNATURE


def _forged_checkpoint(cp: Checkpoint, **changes: Any) -> Checkpoint:
    obj = {"origin": cp.origin, "seq": cp.seq, "hash": cp.hash, "sig": cp.sig, **changes}
    return parse_checkpoint(canonical(obj))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"hash":"00","origin":"520000","seq":1,"sig":""}', Reason.BAD_SCHEMA),
        (canonical({"origin": GZ, "seq": 1, "hash": GENESIS}), Reason.BAD_SCHEMA),
        (canonical({"origin": GZ, "seq": 1, "hash": GENESIS, "sig": "AAAA"}), Reason.BAD_SIGNATURE),
        (canonical({"origin": GZ, "seq": 1, "hash": GENESIS, "sig": "%%%%"}), Reason.BAD_SIGNATURE),
        # 64 bytes whose base64 ends in "B==" would decode, but only "A==" is the canonical spelling
        (canonical({"origin": GZ, "seq": 1, "hash": GENESIS, "sig": "A" * 85 + "B=="}), Reason.BAD_SIGNATURE),
        (b"[]", Reason.BAD_SCHEMA),
        (b"x" * 600, Reason.OVERSIZE),
    ],
)
def test_parse_checkpoint_refuses_malformed(raw: bytes, reason: Reason) -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_checkpoint(raw)
    assert caught.value.reason == reason


def test_parse_checkpoint_refuses_non_canonical() -> None:
    raw = sign_checkpoint(KEY, GZ, 1, GENESIS.replace("0", "a"))
    obj = json.loads(raw)
    with pytest.raises(EnvelopeError) as caught:
        parse_checkpoint(json.dumps(obj))
    assert caught.value.reason == Reason.NOT_CANONICAL


# --- Verifying runs -----------------------------------------------------------------------------------------------


def test_a_chain_verifies_with_one_checkpoint_at_its_end() -> None:
    run = chain(5)
    done = verify_run(GZ, None, raws(run), [checkpoint_at(run[-1])], PUBLIC)
    assert done.events == tuple(run)
    assert done.head == Head(5, run[-1].hash)
    assert done.uncovered == 0
    assert done.checkpoint == checkpoint_at(run[-1])


def test_a_run_continues_from_the_head() -> None:
    first = chain(3)
    second = chain(4, after=first[-1])
    head = verify_run(GZ, None, raws(first), [checkpoint_at(first[-1])], PUBLIC).head
    done = verify_run(GZ, head, raws(second), [checkpoint_at(second[-1])], PUBLIC)
    assert [s.event.seq for s in done.events] == [4, 5, 6, 7]
    assert done.head == Head(7, second[-1].hash)


def test_events_after_the_last_checkpoint_are_not_applicable() -> None:
    run = chain(5)
    cps = [checkpoint_at(run[0]), checkpoint_at(run[2])]
    done = verify_run(GZ, None, raws(run), cps, PUBLIC)
    assert [s.event.seq for s in done.events] == [1, 2, 3]
    assert done.head == Head(3, run[2].hash)
    assert done.uncovered == 2


def test_a_checkpoint_at_the_head_covers_nothing_new() -> None:
    first = chain(2)
    second = chain(2, after=first[-1])
    head = Head(2, first[-1].hash)
    done = verify_run(GZ, head, raws(second), [checkpoint_at(first[-1])], PUBLIC)
    assert done.events == ()
    assert done.head == head
    assert done.uncovered == 2


def test_an_empty_run_applies_nothing() -> None:
    head = Head(2, chain(2)[-1].hash)
    assert verify_run(GZ, head, [], [], PUBLIC).events == ()
    assert verify_run(GZ, None, [], [], PUBLIC).head is None


def test_checkpoints_of_other_origins_or_beyond_the_run_cover_nothing() -> None:
    run = chain(3)
    beyond = chain(1, after=run[-1])[0]
    national = chain(3, origin=NATIONAL)
    refused(Reason.NOT_COVERED, GZ, None, raws(run), [], PUBLIC)
    refused(Reason.NOT_COVERED, GZ, None, raws(run), [checkpoint_at(beyond)], PUBLIC)
    refused(Reason.NOT_COVERED, GZ, None, raws(run), [checkpoint_at(national[-1])], PUBLIC)
    refused(
        Reason.NOT_COVERED, GZ, Head(3, run[-1].hash), raws(chain(1, after=run[-1])), [checkpoint_at(run[0])], PUBLIC
    )


def test_a_forged_fact_is_refused() -> None:
    run = chain(4)
    cp = checkpoint_at(run[-1])
    for i in (1, 3):  # one in the middle (the next prev breaks), the last (the checkpoint's hash does not match)
        forged = raws(run)
        forged[i] = forged[i].replace(b'"points":3', b'"points":4')
        assert forged[i] != run[i].raw
        parse_event(forged[i])  # still a well-formed, canonical event
        refused(Reason.BROKEN_CHAIN, GZ, None, forged, [cp], PUBLIC)


def test_changing_any_one_byte_of_a_run_is_refused() -> None:
    run = chain(3)
    cp = checkpoint_at(run[-1])
    for i in (1, 2):
        raw = run[i].raw
        for at in range(len(raw)):
            for flip in (0x01, 0x20):
                forged = raws(run)
                forged[i] = raw[:at] + bytes([raw[at] ^ flip]) + raw[at + 1 :]
                with pytest.raises(EnvelopeError):
                    verify_run(GZ, None, forged, [cp], PUBLIC)


def test_a_forged_checkpoint_is_refused() -> None:
    run = chain(5)
    good = checkpoint_at(run[-1])
    forgeries = [
        checkpoint_at(run[-1], OTHER_KEY),  # signed by another key
        _forged_checkpoint(good, hash=run[3].hash),  # hash altered
        _forged_checkpoint(good, hash=hashlib.sha256(b"x").hexdigest()),
        _forged_checkpoint(good, seq=4),  # seq altered
        _forged_checkpoint(good, seq=4, hash=run[3].hash),  # both, to name a real event
        _forged_checkpoint(good, sig=checkpoint_at(run[3]).sig),  # another checkpoint's signature
    ]
    for cp in forgeries:
        refused(Reason.BAD_SIGNATURE, GZ, None, raws(run), [cp], PUBLIC)
        # A forged newer checkpoint spoils the run even beside a good older one.
        refused(Reason.BAD_SIGNATURE, GZ, None, raws(run), [checkpoint_at(run[1]), cp], PUBLIC)


def test_a_signed_checkpoint_for_another_history_is_refused() -> None:
    run = chain(3)
    fork = parse_checkpoint(sign_checkpoint(KEY, GZ, 3, hashlib.sha256(b"another event").hexdigest()))
    refused(Reason.BROKEN_CHAIN, GZ, None, raws(run), [fork], PUBLIC)
    head_fork = parse_checkpoint(sign_checkpoint(KEY, GZ, 3, GENESIS))
    refused(Reason.BROKEN_CHAIN, GZ, Head(3, run[-1].hash), raws(chain(1, after=run[-1])), [head_fork], PUBLIC)


def test_a_replayed_event_is_refused() -> None:
    run = chain(4)
    cp = checkpoint_at(run[-1])
    refused(Reason.REPLAY, GZ, None, [*raws(run[:3]), run[2].raw, run[3].raw], [cp], PUBLIC)
    refused(Reason.REPLAY, GZ, None, [*raws(run), run[0].raw], [cp], PUBLIC)
    # Events already accepted, sent again after the head
    head = Head(2, run[1].hash)
    refused(Reason.REPLAY, GZ, head, raws(run[1:]), [cp], PUBLIC)
    refused(Reason.REPLAY, GZ, Head(4, run[3].hash), raws(run), [cp], PUBLIC)


def test_swapped_events_are_refused() -> None:
    run = chain(4)
    cp = checkpoint_at(run[-1])
    refused(Reason.REORDER, GZ, None, [run[0].raw, run[2].raw, run[1].raw, run[3].raw], [cp], PUBLIC)
    refused(Reason.REORDER, GZ, None, [run[1].raw, run[0].raw, *raws(run[2:])], [cp], PUBLIC)


def test_a_gap_is_refused() -> None:
    run = chain(5)
    cp = checkpoint_at(run[-1])
    refused(Reason.GAP, GZ, None, [run[0].raw, run[1].raw, run[3].raw, run[4].raw], [cp], PUBLIC)
    refused(Reason.GAP, GZ, None, raws(run[1:]), [cp], PUBLIC)  # the first event is missing
    refused(Reason.GAP, GZ, Head(1, run[0].hash), raws(run[2:]), [cp], PUBLIC)


def test_a_prev_that_does_not_match_is_refused() -> None:
    run = chain(3)
    stray = seal(GZ, 3, hashlib.sha256(b"elsewhere").hexdigest(), "decision.recorded", decision(case="X"))
    refused(Reason.BROKEN_CHAIN, GZ, None, [run[0].raw, run[1].raw, stray.raw], [checkpoint_at(stray)], PUBLIC)
    # A first event must start from the genesis hash.
    orphan = seal(GZ, 1, run[0].hash, "decision.recorded", decision())
    refused(Reason.BROKEN_CHAIN, GZ, None, [orphan.raw], [checkpoint_at(orphan)], PUBLIC)
    # The head we hold is not the event this run continues.
    refused(Reason.BROKEN_CHAIN, GZ, Head(2, GENESIS), [run[2].raw], [checkpoint_at(run[2])], PUBLIC)


def test_a_non_canonical_or_malformed_event_spoils_the_run() -> None:
    run = chain(3)
    cp = checkpoint_at(run[-1])
    spaced = json.dumps(json.loads(run[1].raw), ensure_ascii=False, sort_keys=True).encode()
    refused(Reason.NOT_CANONICAL, GZ, None, [run[0].raw, spaced, run[2].raw], [cp], PUBLIC)
    refused(Reason.NOT_JSON, GZ, None, [run[0].raw, b"garbage", run[2].raw], [cp], PUBLIC)
    refused(Reason.BAD_SCHEMA, GZ, None, [run[0].raw, b"{}", run[2].raw], [cp], PUBLIC)


def test_an_event_of_another_origin_in_the_run_is_refused() -> None:
    run = chain(3)
    national = chain(2, origin=NATIONAL)
    refused(Reason.WRONG_ORIGIN, GZ, None, [run[0].raw, national[1].raw, run[2].raw], [checkpoint_at(run[-1])], PUBLIC)


def _unchecked_seal(origin: str, seq: int, prev: str, kind: str, fact: dict[str, Any]) -> Sealed:
    """What a misbehaving node could emit: seal() itself refuses it."""
    raw = canonical({"v": 1, "origin": origin, "seq": seq, "prev": prev, "type": kind, "fact": fact})
    return open_event(raw)


def test_a_fact_about_a_region_its_signer_does_not_speak_for_is_refused() -> None:
    yunnan_key = OTHER_KEY
    own = seal(YN, 1, GENESIS, "decision.recorded", decision("530100"))
    foreign = _unchecked_seal(YN, 2, own.hash, "decision.recorded", decision("520100"))
    cp = checkpoint_at(foreign, yunnan_key)
    e = refused(Reason.REGION_NOT_COVERED, YN, None, [own.raw, foreign.raw], [cp], yunnan_key.public_key())
    assert "520100" in e.detail
    # The same run without the foreign fact is fine.
    assert verify_run(YN, None, [own.raw], [checkpoint_at(own, yunnan_key)], yunnan_key.public_key()).events == (own,)


def test_node_keys_come_only_from_the_national_node() -> None:
    fact = {"region_code": GZ, "public_key": base64.b64encode(bytes(32)).decode()}
    published = seal(NATIONAL, 1, GENESIS, "node.key", fact)
    assert verify_run(NATIONAL, None, [published.raw], [checkpoint_at(published)], PUBLIC).events == (published,)
    with pytest.raises(EnvelopeError) as caught:
        seal(GZ, 1, GENESIS, "node.key", fact)
    assert caught.value.reason == Reason.REGION_NOT_COVERED
    claimed = _unchecked_seal(GZ, 1, GENESIS, "node.key", fact)
    refused(Reason.REGION_NOT_COVERED, GZ, None, [claimed.raw], [checkpoint_at(claimed)], PUBLIC)


def test_the_national_node_may_issue_facts_about_any_region() -> None:
    run = [seal(NATIONAL, 1, GENESIS, "decision.recorded", decision("520100"))]
    run.append(seal(NATIONAL, 2, run[0].hash, "decision.recorded", decision("500101")))
    assert verify_run(NATIONAL, None, raws(run), [checkpoint_at(run[-1])], PUBLIC).events == tuple(run)


# --- Regions ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signer", "region", "covered"),
    [
        (NATIONAL, "520000", True),
        (NATIONAL, "110105", True),
        (NATIONAL, NATIONAL, True),
        (GZ, "520000", True),
        (GZ, "520102", True),
        (GZ, "530000", False),
        (GZ, "500101", False),
        (GZ, NATIONAL, False),
        (YN, "520100", False),
        (GZ, "52", False),  # not a region at all
        (NATIONAL, "520", False),
        (GZ, "52010X", False),
    ],
)
def test_covers(signer: str, region: str, covered: bool) -> None:
    assert covers(signer, region) is covered


@pytest.mark.parametrize("signer", ["520100", "520102", "52", "990000", ""])
def test_a_city_or_unknown_signer_is_not_a_node(signer: str) -> None:
    with pytest.raises(EnvelopeError) as caught:
        covers(signer, "520102")
    assert caught.value.reason == Reason.NOT_A_NODE


def test_check_regions_names_the_offending_event() -> None:
    events = [
        seal(GZ, 1, GENESIS, "decision.recorded", decision("520100")).event,
        _unchecked_seal(
            GZ,
            2,
            GENESIS,
            "objection.filed",
            {**dict.fromkeys(FACT_FIELDS["objection.filed"], "x"), "region_code": "530100"},
        ).event,
    ]
    check_regions(GZ, events[:1])
    with pytest.raises(EnvelopeError) as caught:
        check_regions(GZ, events)
    assert caught.value.reason == Reason.REGION_NOT_COVERED
    assert "seq 2" in caught.value.detail


# --- Signed requests ----------------------------------------------------------------------------------------------

NOW = 1_790_000_000
BODY = b'{"wake":true}'


def _request(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "region": GZ,
        "timestamp": NOW,
        "method": "GET",
        "path_and_query": "/federation/feed?after=10&limit=500",
        "body": b"",
    }
    args.update(changes)
    return args


def test_a_signed_request_is_accepted() -> None:
    for args in (_request(), _request(method="POST", path_and_query="/federation/push", body=BODY)):
        signature = sign_request(KEY, **args)
        verify_request(PUBLIC, **args, signature=signature, now=NOW)
        verify_request(PUBLIC, **args, signature=signature, now=NOW + 300)
        verify_request(PUBLIC, **args, signature=signature, now=NOW - 299.5)


@pytest.mark.parametrize(
    "tampered",
    [
        {"path_and_query": "/federation/feed?after=0&limit=500"},
        {"path_and_query": "/federation/feed?after=10&limit=5000"},
        {"body": b'{"wake":false}'},
        {"region": "500000"},
        {"method": "POST"},
        {"timestamp": NOW + 1},
    ],
)
def test_a_tampered_request_is_refused(tampered: dict[str, Any]) -> None:
    signature = sign_request(KEY, **_request())
    with pytest.raises(EnvelopeError) as caught:
        verify_request(PUBLIC, **_request(**tampered), signature=signature, now=NOW)
    assert caught.value.reason == Reason.BAD_SIGNATURE


def test_a_request_signed_by_another_key_or_malformed_is_refused() -> None:
    for signature in (sign_request(OTHER_KEY, **_request()), "", "not base64!", base64.b64encode(bytes(64)).decode()):
        with pytest.raises(EnvelopeError) as caught:
            verify_request(PUBLIC, **_request(), signature=signature, now=NOW)
        assert caught.value.reason == Reason.BAD_SIGNATURE


@pytest.mark.parametrize("now", [NOW + 301, NOW - 301, NOW + 86_400])
def test_a_request_outside_the_time_window_is_refused(now: int) -> None:
    signature = sign_request(KEY, **_request())
    with pytest.raises(EnvelopeError) as caught:
        verify_request(PUBLIC, **_request(), signature=signature, now=now)
    assert caught.value.reason == Reason.STALE_REQUEST
    verify_request(PUBLIC, **_request(), signature=signature, now=now, max_skew_seconds=86_400 + 1)
