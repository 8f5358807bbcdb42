"""docs/problems.md is generated from the catalog; every code is exercised by a test."""

from __future__ import annotations

import pathlib

from matrix_delegation.checker.codes import ALL, problems_markdown

ROOT = pathlib.Path(__file__).parents[2]


def test_docs_problems_md_is_in_step_with_the_catalog() -> None:
    assert (ROOT / "docs" / "problems.md").read_text() == problems_markdown(), (
        "regenerate: python -c 'from matrix_delegation.checker.codes import problems_markdown;"
        ' open("docs/problems.md", "w").write(problems_markdown())\''
    )


def test_every_documented_code_is_asserted_by_a_test_against_real_servers() -> None:
    sources = "".join(
        (ROOT / "tests" / name).read_text()
        # check-timeout is the web service's: its test runs a check past the deadline.
        for name in (
            "checker/test_problem_codes.py",
            "checker/test_client.py",
            "web/test_api.py",
            "checker/test_third_party.py",  # --outbound and --notary (and the Synapse e2e)
        )
    )
    missing = [code for code in ALL if f'"{code}"' not in sources]
    assert missing == [], missing
