"""The command line without a portal: usage errors exit 2 with a message saying what to do."""

import pytest


def test_help_lists_the_commands(agent):
    code, out, _ = agent("--help")
    assert code == 0
    for command in ("activate", "sync", "sell", "upload", "status"):
        assert command in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("sync",), "holds no activation: run 'portal-agent --state"),
        (("upload",), "holds no activation"),
        (("sell", "--count", "1"), "holds no activation"),
        (("activate", "--database", "HOUSTON-1", "--code", "X"), "Give the portal's address"),
        (
            ("--url", "ftp://hq", "activate", "--database", "HOUSTON-1", "--code", "X"),
            "--url must be an http(s) address",
        ),
        (
            ("--url", "http://hq", "--retries", "-1", "activate", "--database", "H", "--code", "X"),
            "must not be negative",
        ),
        (("sell",), "the following arguments are required: --count"),
        (("dance",), "invalid choice: 'dance'"),
    ],
)
def test_bad_input_exits_2_and_says_why(agent, argv, message):
    code, _, err = agent(*argv)
    assert code == 2
    assert message in err


def test_a_state_path_that_is_no_database_file_is_refused(agent, tmp_path):
    code, _, err = agent("status", "--no-heartbeat", state=tmp_path)
    assert code == 2
    assert "cannot open the state database" in err


def test_status_shows_a_fresh_state_without_contacting_anyone(agent):
    code, out, _ = agent("status", "--no-heartbeat")
    assert code == 0
    assert "Portal:     (not activated)" in out
    assert "Sales:      none; 0 waiting for HQ" in out
