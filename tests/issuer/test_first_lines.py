"""The compact CURP → first line table that ``read_records`` uses to refuse a second row."""

from __future__ import annotations

import random
from datetime import date

import pytest

from issuer.enrolment.first_lines import FirstLines
from tests.issuer._enrolment_data import make_curp


def test_it_answers_like_a_dict_through_many_growths() -> None:
    rng = random.Random(7)
    curps = list(
        dict.fromkeys(
            make_curp(rng.randrange(10**6), date(1930 + rng.randrange(90), 1 + n % 12, 1))
            for n in range(5000)
        )
    )
    table, reference = FirstLines(capacity=4), dict[str, int]()
    for line, curp in enumerate(curps + curps[:100], start=2):
        assert table.get(curp) == reference.get(curp)
        table.add(curp, line)
        reference.setdefault(curp, line)
    assert len(table) == len(reference) == len(curps)
    assert all(table.get(curp) == line for curp, line in reference.items())


def test_curps_that_differ_in_one_character_are_different_people() -> None:
    table = FirstLines()
    table.add("PEMA510202MDFCBB05", 2)
    assert table.get("PEMA510202MDFCBB06") is None
    assert table.get("PEMA510202MDFCBB05") == 2
    table.add("AAAA000000HAAAAAA0", 9)  # a small packed key: still not the empty slot
    assert table.get("AAAA000000HAAAAAA0") == 9


@pytest.mark.parametrize(
    "text", ["pema510202mdfcbb05", "PEMA510202MDFCBB0", "PEMA51020-MDFCBB05", "0" * 18]
)
def test_what_is_not_a_curp_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a CURP"):
        FirstLines().add(text, 1)
