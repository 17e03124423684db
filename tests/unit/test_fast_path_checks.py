"""The fast path's own shortcut for codes says what the general path's check says, for any string."""

from hypothesis import example, given
from hypothesis import strategies as st

from registry.api import mapping
from registry.web.fastpath import _odd_code


@given(st.text(max_size=80))
@example("D520102198001011234")
@example("a\x7fb")
@example("tab\there")
@example("x" * mapping.MAX_CODE)
@example("x" * (mapping.MAX_CODE + 1))
@example("医生")
@example("\ud800")
@example("")
def test_a_code_is_odd_exactly_when_the_general_path_refuses_it(code: str) -> None:
    assert _odd_code(code) == (mapping.code(code) is not None)
