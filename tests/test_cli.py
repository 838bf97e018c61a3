"""The command line: exit codes, --help everywhere, ids files, and fetch/demo end to end against the sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engagement_lab import ConfigError
from engagement_lab.cli import main, read_ids_file
from engagement_lab.sandbox import Sandbox

CLI = [sys.executable, "-m", "engagement_lab.cli"]


@pytest.mark.parametrize(
    "command", [[], ["sandbox"], ["fetch"], ["auth"], ["demo"], ["report"], ["plan"], ["watch"], ["sample-data"]]
)
def test_help_everywhere(command: list[str]) -> None:
    done = subprocess.run([*CLI, *command, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert "usage: engagement-lab" in done.stdout


def test_the_command_line_skips_jsonschemas_slow_optional_iri_checker() -> None:
    """Every command that draws or renders imports jsonschema, which imports rfc3987_syntax when installed: 3 s of
    grammar compiling that the command line skips (see engagement_lab.report.startup)."""
    code = (
        "import sys\nfrom engagement_lab.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
        "import jsonschema\nprint(sys.modules.get('rfc3987_syntax', 'absent'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "None"


def test_bad_usage_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fetch", "daily", "--ids-file", "x", "--out", "y"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_ids_files_plain_and_csv(tmp_path: Path) -> None:
    plain = tmp_path / "ids.txt"
    plain.write_text("1790000000000000001\n\n# comment\n 1790000000000000002 \n")
    assert read_ids_file(plain) == (["1790000000000000001", "1790000000000000002"], {})
    table = tmp_path / "ids.csv"
    table.write_text("tweet_id,account,note\n1790000000000000001,acme,x\n1790000000000000002,,y\n")
    assert read_ids_file(table) == (["1790000000000000001", "1790000000000000002"], {"1790000000000000001": "acme"})
    broken = tmp_path / "bad.csv"
    broken.write_text("tweet_id\n1.79E+18\n")
    with pytest.raises(ConfigError, match="line 2"):
        read_ids_file(broken)


def test_failure_is_exit_1_with_one_line_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("1790000000000000001\n")
    code = main(
        [
            "fetch",
            "totals",
            "--ids-file",
            str(ids),
            "--out",
            str(tmp_path / "o"),
            "--credentials",
            str(tmp_path / "none.json"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("engagement-lab: credentials file")


def test_fetch_command_against_the_sandbox(tmp_path: Path) -> None:
    with Sandbox(seed=7) as sandbox:
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps(sandbox.info))
        tweets = [t for t in sandbox.app.world.tweets if t.account in ("acme", "acme_support") and t.status == "ok"][
            -30:
        ]
        ids = tmp_path / "ids.csv"
        ids.write_text("tweet_id,account\n" + "".join(f"{t.tweet_id},{t.account}\n" for t in tweets))
        args = ["fetch", "totals", "--ids-file", str(ids), "--out", str(tmp_path / "a"), "--base-url", sandbox.base_url,
                "--credentials", str(creds), "--metrics", "impressions", "engagements", "--no-progress"]  # fmt: skip
        done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, check=False)
        again = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "errors       0" in done.stdout
    assert "2 already archived" in again.stdout


def test_plan_from_a_table_and_from_an_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from engagement_lab.datasets import SAMPLE_DIR, load_sample
    from engagement_lab.load import per_tweet

    sample = load_sample(backend="polars")
    table = tmp_path / "history.csv"
    per_tweet(sample.tidy, metadata=sample.metadata).write_csv(table)
    assert main(["plan", "--table", str(table), "--lift", "0.3", "--splits", "200", "--aa-check"]) == 0
    out = capsys.readouterr().out
    assert "history: 660 tweets from per-tweet table history.csv" in out
    assert "To tell a +30% lift in engagement_rate with 80% power at alpha 0.05: about" in out
    assert "59 tweet(s) with no engagements or impressions value were left out" in out  # deleted/protected tweets
    assert "the default (engagement_rate) holds its 5% level" in out
    archive = ["--archive", str(SAMPLE_DIR / "archive"), "--metadata", str(SAMPLE_DIR / "tweets.csv")]
    assert main(["plan", *archive, "--where", "variant=A", "--lift", "0.3", "--splits", "200"]) == 0
    out = capsys.readouterr().out
    assert "Engagement API fetched 2026-06-01 12:00 UTC, where variant=A" in out
    assert "from resampling 185 past tweets" in out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["plan", "--table", "t.csv", "--lift", "0"], 2, "expected a relative lift"),
        (["plan", "--table", "t.csv", "--where", "variant"], 1, "expected COLUMN=VALUE"),
        (["plan", "--table", "t.csv", "--metadata", "m.csv"], 1, "--metadata goes with --archive"),
        (["plan", "--table", "missing.csv"], 1, "no such file"),
    ],
)
def test_plan_refuses_bad_usage(argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    if code == 2:
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    else:
        assert main(argv) == 1
    assert message in capsys.readouterr().err
