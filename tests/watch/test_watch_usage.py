"""`watch` and `history` on bad input: one line on stderr, exit status 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from matrix_delegation._cli import main


@pytest.mark.parametrize(
    ("database", "message"),
    [
        ("postgresql://watch@127.0.0.1:9/watch", "cannot open the database "
         "postgresql://watch@127.0.0.1:9/watch: "),
        ("mysql://watch@127.0.0.1/watch", "unsupported --database mysql://watch@127.0.0.1/watch"),
        ("sqlite:////proc/no/such/watch.db", "cannot open the database "
         "sqlite:////proc/no/such/watch.db: cannot create /proc/no/such"),
    ],
)  # fmt: skip
def test_a_database_that_cannot_be_opened_is_one_line_and_exit_2(
    database: str, message: str, capsys
) -> None:
    assert main(["watch", "example.test", "--database", database]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"matrix-delegation: error: {message}")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_password_in_the_url_is_not_shown(capsys) -> None:
    url = "postgresql://watch:hunter2@127.0.0.1:9/watch"
    assert main(["watch", "example.test", "--database", url]) == 2
    err = capsys.readouterr().err
    assert "hunter2" not in err and "watch:***@127.0.0.1:9" in err


def test_no_names_and_bad_options_are_usage_errors(tmp_path: Path, capsys) -> None:
    database = f"sqlite:///{tmp_path / 'watch.db'}"
    assert main(["watch", "--database", database]) == 2
    assert main(["watch", "example.test", "--interval", "0", "--database", database]) == 2
    assert main(["watch", "example.test", "--webhook", "ftp://x/", "--database", database]) == 2
    hooks = ["--webhook", "https://a.test/", "--webhook", "https://b.test/"]
    secrets = [*hooks, "--webhook-secret", "1", "--webhook-secret", "2", "--webhook-secret", "3"]
    assert main(["watch", "example.test", *secrets, "--database", database]) == 2
    assert main(["history", "bad_name", "--database", database]) == 2
    assert main(["history", "example.test", "--since", "soon", "--database", database]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_only_invalid_names_is_exit_2_with_each_reported_once(tmp_path: Path, capsys) -> None:
    names = tmp_path / "names.txt"
    names.write_text("bad_name\nbad_name\n")
    database = f"sqlite:///{tmp_path / 'watch.db'}"
    assert main(["watch", "--from-file", str(names), "--database", database]) == 2
    err = capsys.readouterr().err
    assert err.count("bad_name") == 1 and "skipped" in err


def test_history_of_a_name_never_watched_is_empty(tmp_path: Path, capsys) -> None:
    database = f"sqlite:///{tmp_path / 'watch.db'}"
    assert main(["history", "example.test", "--database", database]) == 0
    assert capsys.readouterr().out == ""
