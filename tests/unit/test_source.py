"""The strict loader: what it keeps (positions, YAML 1.2 scalars) and what it refuses."""

from __future__ import annotations

import pytest

from diva.compiler.source import MAX_BYTES, load_bytes
from diva.errors import SpecError

EMPTY = (
    "diva.yaml:1:1: the file is empty (nothing but comments or blank lines); "
    "a spec is a YAML mapping"
)


def refusal(text: bytes | str) -> str:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(SpecError) as caught:
        load_bytes(raw)
    (issue,) = caught.value.issues
    return issue.render()


def test_positions_of_keys_and_values_are_one_based() -> None:
    doc = load_bytes(b"project:\n  name: x\nlist:\n  - a: 1\n")
    assert doc.keys[("project", "name")] == (2, 3)
    assert doc.values[("project", "name")] == (2, 9)
    assert doc.keys[("list", 0, "a")] == (4, 5)


def test_locate_walks_up_to_the_nearest_existing_key() -> None:
    doc = load_bytes(b"a:\n  b: 1\n")
    assert doc.locate(("a", "missing", "deeper")) == (1, 1)
    assert doc.locate(("a", "b")) == (2, 3)


def test_yaml_1_2_keeps_on_yes_no_as_text_and_dates_as_text() -> None:
    doc = load_bytes(b"on: yes\nflag: NO\nday: 2024-01-31\nhex: 0x1F\ntrue_: true\n")
    assert doc.data == {"on": "yes", "flag": "NO", "day": "2024-01-31", "hex": 31, "true_": True}


def test_a_byte_order_mark_is_accepted() -> None:
    assert load_bytes(b"\xef\xbb\xbfa: 1\n").data == {"a": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", EMPTY),
        ("# nothing\n", EMPTY),
        ("- a\n", "diva.yaml:1:1: the top level must be a mapping of keys"),
        ("a: &x 1\n", "diva.yaml:1:4: anchors (&x) are not allowed in a spec"),
        ("a: [1]\nb: *x\n", "diva.yaml:2:4: aliases (*x) are not allowed in a spec"),
        ("a: !!str 1\n", "diva.yaml:1:4: explicit tags (!!str) are not allowed in a spec"),
        ("a: 1\na: 2\n", "diva.yaml:2:1: a: duplicate key (first defined on line 1)"),
        (
            "a: 1\n---\nb: 1\n",
            "diva.yaml:2:1: only one YAML document is allowed (found a second '---')",
        ),
        ("<<: {a: 1}\n", "diva.yaml:1:1: merge keys (<<) are not allowed in a spec"),
        ("? [a]\n: 1\n", "diva.yaml:1:3: keys must be plain scalars"),
    ],
)
def test_refusals_say_where_and_what(text: str, expected: str) -> None:
    assert refusal(text) == expected


def test_alias_is_refused_before_it_is_expanded() -> None:
    assert refusal("a: &x [1]\nb: *x\n").startswith("diva.yaml:1:4: anchors (&x)")


def test_nesting_deeper_than_64_is_refused_at_the_65th_level() -> None:
    # the top-level mapping is the first level, so 64 brackets make 65
    assert refusal("a: " + "[" * 64 + "]" * 64 + "\n") == (
        "diva.yaml:1:67: nesting is deeper than 64 levels"
    )
    assert load_bytes(("a: " + "[" * 63 + "]" * 63 + "\n").encode()).data["a"]


def test_nul_and_invalid_utf8_are_located() -> None:
    assert refusal(b"a: 1\nb: x\x00\n") == "diva.yaml:2:5: the file contains a NUL byte"
    assert refusal(b"a: 1\nbb: \xff\n") == "diva.yaml:2:5: the file is not valid UTF-8 text"


def test_size_limit_is_one_mebibyte() -> None:
    body = b"a: 1\n" + b"#" * (MAX_BYTES - 6) + b"\n"
    assert len(body) == MAX_BYTES
    assert load_bytes(body).data == {"a": 1}
    assert refusal(body + b"\n") == "diva.yaml:1:1: the file is larger than 1024 KiB"


def test_too_many_nodes_are_refused() -> None:
    text = "a: [" + ",".join(["1"] * 100_001) + "]\n"
    assert refusal(text).endswith("the file has more than 100000 nodes")


def test_utf16_is_named() -> None:
    assert (
        refusal("a: 1\n".encode("utf-16")) == "diva.yaml:1:1: the file is UTF-16; save it as UTF-8"
    )


def test_columns_count_characters_not_bytes() -> None:
    assert refusal('t: "ééé\x00"\n'.encode()) == "diva.yaml:1:8: the file contains a NUL byte"


def test_tab_indentation_gets_a_hint() -> None:
    assert refusal("a:\n\tb: 1\n").endswith("indent with spaces, YAML does not allow tabs there")


def test_unquoted_star_gets_a_hint() -> None:
    assert refusal("schedule: */5 * * * *\n").endswith(
        "a value starting with '*' (e.g. a cron schedule) must be quoted"
    )


def test_utf16_without_byte_order_mark_is_named_too() -> None:
    assert refusal("a: 1\n".encode("utf-16-le")) == (
        "diva.yaml:1:1: the file is UTF-16; save it as UTF-8"
    )
