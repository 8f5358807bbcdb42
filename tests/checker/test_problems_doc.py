"""docs/problems.md is generated from the catalog; every code is exercised by a test."""

from __future__ import annotations

import pathlib

from matrix_delegation.checker.problems import all_codes, problems_markdown

ROOT = pathlib.Path(__file__).parents[2]


def test_docs_problems_md_is_in_step_with_the_catalog() -> None:
    assert (ROOT / "docs" / "problems.md").read_text() == problems_markdown(), (
        "regenerate: python -c 'from matrix_delegation.checker.problems import problems_markdown;"
        ' open("docs/problems.md", "w").write(problems_markdown())\''
    )


def test_every_documented_code_is_asserted_by_a_test_against_real_servers() -> None:
    sources = "".join(
        (ROOT / "tests" / "checker" / name).read_text()
        for name in ("test_problem_codes.py", "test_client.py")
    )
    missing = [code for code in all_codes() if f'"{code}"' not in sources]
    assert missing == [], missing
