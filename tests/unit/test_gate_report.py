"""The gate's report as text, Markdown and JSON: what a pull request wrote into a detail
cannot steer a terminal or render as markup, and self-attested evidence is said first."""

from __future__ import annotations

import json

import pytest

from diva.lifecycle.report import SELF_ATTESTED, Report, Row, as_json, as_markdown, as_text

HOSTILE = "ok\r\x1b[2Kpassed\u202egnp.\u0085next\nline"


def report(detail: str = "fine", evidence: str = "verified against MLflow at http://m") -> Report:
    return Report(2, 3, "promotion 2 -> 3", [Row("data.small", "data", "fail", detail)], evidence)


@pytest.mark.parametrize("render", [as_text, as_markdown])
def test_control_characters_in_a_detail_are_escaped(render: object) -> None:
    shown = render(report(HOSTILE))  # type: ignore[operator]
    for raw in ("\r", "\x1b", "\u202e", "\u0085"):
        assert raw not in shown
    unescaped = shown.replace("\\\\", "\\").replace("\\[", "[")  # Markdown's own escapes
    assert "ok\\r\\x1b[2Kpassed\\u202egnp.\\x85next\\nline" in unescaped


def test_markdown_renders_no_markup_or_html_from_a_detail() -> None:
    shown = as_markdown(report("<img src=x onerror=alert(1)> | [ok](https://evil) **done**"))
    assert "<img" not in shown
    assert "&lt;img src=x onerror=alert(1)> \\| \\[ok\\](https://evil) \\*\\*done\\*\\*" in shown


def test_a_self_attested_report_says_so_first_in_every_format() -> None:
    attested = report(evidence=f"{SELF_ATTESTED}: MLflow not reachable (no store)")
    text = as_text(attested).splitlines()
    assert text[1].startswith("  SELF-ATTESTED EVIDENCE")
    markdown = as_markdown(attested).splitlines()
    assert markdown[2:4] == ["> [!WARNING]", markdown[3]]
    assert "SELF-ATTESTED EVIDENCE" in markdown[3]
    assert json.loads(as_json(attested))["self_attested"] is True
    assert json.loads(as_json(report()))["self_attested"] is False
    assert "SELF-ATTESTED" not in as_text(report())


def test_unverified_fails_the_report() -> None:
    unverified = Report(2, 3, "m", [Row("runs.small", "runs", "unverified", "only the file")])
    assert not unverified.passed
    assert "⛔" in as_markdown(unverified)
