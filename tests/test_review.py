"""What a review of issues 13, 16 and 19 found, as a new user and a Chinese clerk would:
one regression test per finding (each failed before its fix)."""

from __future__ import annotations

import json
import shlex
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result

from .conftest import new_app
from .support import T0 as SUPPORT_T0
from .support import assert_one_line_error, invoke, overdue_petitions
from .test_whatif import grade_b_petitions, hours


@pytest.fixture()
def opened(tmp_path: Path) -> str:
    """A SQLite store with one petition opened by the command line: its URL."""
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    result = invoke("open", "petition", "-f", "channel=hotline", "-f", "title=Blocked drain",
                    "--actor", "li", "--role", "intake", "--db", db)
    assert result.exit_code == 0, result.output
    return db


@pytest.mark.parametrize("command", [("report",), ("whatif", "--grade", "B.resolve=48h")])
def test_an_html_page_into_a_missing_folder_names_the_users_path(
        opened: str, tmp_path: Path, command: tuple[str, ...]) -> None:
    """As export -o (issue 13 item 10): exit 2 naming the path, not click's temporary file."""
    missing = tmp_path / "missing" / "page.html"
    line = assert_one_line_error(invoke(*command, "--html", str(missing), "--db", opened), 2,
                                 str(missing), "no folder")
    assert ".__atomic-write" not in line


# What issues 13 and 19 added to the command line, in Chinese (issue 16 item 5) ----------------

@pytest.fixture()
def graded(tmp_path: Path) -> tuple[str, str, str]:
    """Two grade-B petitions (one resolved after 60 hours, one in progress): the URL, ids."""
    url = f"sqlite:///{tmp_path / 'graded.db'}"
    app, resolved, waiting = grade_b_petitions(url)
    app.close()
    return url, resolved, waiting


def zh(*args: str) -> Result:
    result = invoke(*args, "--lang", "zh")
    assert result.exit_code in (0, 1), result.output
    return result


def test_whatif_speaks_chinese(graded: tuple[str, str, str]) -> None:
    url, resolved, waiting = graded
    printed = zh("whatif", "--db", url, "--grade", "B.resolve=2d", "--since", "2024-05-01",
                 "--until", "2024-06-01", "--now", hours(50).isoformat()).stdout
    assert printed.splitlines()[1].split() == ["指标", "现行政策", "候选政策"]
    assert "判定不同的案件：2" in printed
    assert f"  {resolved} 群众诉求 B 级：按时办结 -> 超时办结" in printed
    assert f"  {waiting} 群众诉求 B 级：未超期 -> 超期未结" in printed
    assert f"  {waiting} 会被升级 (办理中, " in printed
    assert "候选政策会拒绝的已记录操作：0" in printed
    for english in ("replayed", "cases judged", "would escalate", "on time", "in_progress"):
        assert english not in printed, english


def test_verify_and_explain_speak_chinese(graded: tuple[str, str, str],
                                          tmp_path: Path) -> None:
    url, resolved, _ = graded
    as_of = ("--as-of", hours(70).isoformat())
    saved = tmp_path / "report.json"
    saved.write_text(invoke("report", "--db", url, *as_of, "--json").stdout, encoding="utf-8")
    assert zh("report", "--db", url, "--verify", str(saved)).stdout.startswith(
        "报表仍然成立：其输入摘要为 ")
    moved = invoke("fire", resolved, "close", "confirmed_by=petitioner", "--db", url,
                   "--actor", "li.na", "--role", "intake", "--at", hours(62).isoformat())
    assert moved.exit_code == 0, moved.output
    verified = zh("report", "--db", url, "--verify", str(saved), "--explain", "resolved")
    assert verified.exit_code == 1
    lines = verified.stdout.splitlines()
    assert lines[0] == "报表已不再成立："
    assert lines[1].startswith("  输入摘要 ") and " 现为 " in lines[1]
    assert f"  报表生成后录入：1 件案件的1 个事件：{resolved}" in lines
    assert "resolved: 1 件案件" in lines
    assert any(line.startswith(f"{resolved} 群众诉求 B 级，已结案，时限 ")
               and line.endswith("（有变动：报表之后又录入了事件）") for line in lines)
    assert any("评估分级 -> " in line and "（录入于 " in line for line in lines)
    explained = zh("report", "--db", url, *as_of, "--explain", "resolved").stdout
    assert explained.startswith("resolved: 1 件案件\n") and "grade" not in explained


def test_checked_output_paths_and_the_acting_rule_speak_chinese(opened: str,
                                                                tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "x.jsonl"
    refused = invoke("export", "-o", str(missing), "--db", opened, "--lang", "zh")
    assert_one_line_error(refused, 2, f"无法写入 {missing}：没有文件夹 ")
    nobody = invoke("open", "petition", "-f", "channel=hotline", "-f", "title=x", "--db", opened,
                    "--lang", "zh")
    assert_one_line_error(nobody, 2, "由谁操作？请指明操作人：--actor ID")


def test_the_sweep_lists_an_overdue_case_at_the_top_in_chinese(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    app = new_app(db)
    (case_id,) = overdue_petitions(app, 1)
    app.close()
    first = invoke("sweep", "--now", (SUPPORT_T0 + timedelta(hours=3)).isoformat(), "--db", db)
    assert first.exit_code == 0, first.output  # escalated to guanlan, the top
    later = (SUPPORT_T0 + timedelta(hours=6)).isoformat()
    swept = invoke("sweep", "--now", later, "--db", db, "--lang", "zh")
    assert swept.exit_code == 0, swept.output
    assert f"  在组织最高层级超期：{case_id}，位于 观澜街道（自 " in swept.stdout
    english = invoke("sweep", "--now", later, "--db", db).stdout
    assert f"  overdue at the top of the organisation: {case_id} at guanlan (since " in english


def test_the_whatif_page_speaks_chinese(graded: tuple[str, str, str], tmp_path: Path) -> None:
    url, resolved, _ = graded
    page = tmp_path / "whatif.html"
    written = zh("whatif", "--db", url, "--grade", "B.resolve=2d", "--since", "2024-05-01",
                 "--until", "2024-06-01", "--now", hours(50).isoformat(), "--html", str(page))
    assert written.stdout == f"对照页已写入 {page}\n"
    html = page.read_text(encoding="utf-8")
    outside = html.split("<iframe")[0]  # the page's own words, before the report pages
    assert "<title>政策推演</title>" in outside
    assert "<h1>政策推演：现行政策与候选政策</h1>" in outside
    assert "判定不同的案件：2" in outside and "<th>现行政策</th>" in outside
    assert (f"<code>{resolved}</code></td><td>群众诉求</td><td>B</td><td>办结时限</td>"
            "<td>按时办结</td><td>超时办结</td>") in outside
    for english in ("What if", "Cases judged", "on time", "petition"):
        assert english not in outside, english


def test_a_bad_value_is_refused_in_chinese(opened: str, tmp_path: Path) -> None:
    """Click's "Invalid value for OPTION:" and the usual problems after it, in Chinese."""
    when = invoke("report", "--as-of", "yesterday", "--db", opened, "--lang", "zh")
    assert_one_line_error(when, 2, "casework: --as-of 的值无效：'yesterday' 不是 ISO 8601 时间"
                                   "（例如 2024-05-26T09:30）")
    missing = tmp_path / "missing" / "page.html"
    page = invoke("report", "--html", str(missing), "--db", opened, "--lang", "zh")
    assert_one_line_error(page, 2, f"casework: --html 的值无效：无法写入 {missing}：没有文件夹 ")
    field = invoke("open", "petition", "-f", "channel", "--actor", "li:intake", "--db", opened,
                   "--lang", "zh")
    assert_one_line_error(field, 2, "fields 的值无效：'channel' 不是 NAME=VALUE 的形式")
    english = invoke("report", "--as-of", "yesterday", "--db", opened)
    assert_one_line_error(english, 2, "casework: Invalid value for --as-of: 'yesterday' is not "
                                      "an ISO 8601 time (e.g. 2024-05-26T09:30)")


@pytest.mark.parametrize("period", [("--since", "2024-05-01"),
                                    ("--since", "2024-05-01T00:00+08:00", "--until",
                                     "2024-06-01T00:00+08:00")])
def test_a_report_saved_with_a_period_holds_when_verified(
        graded: tuple[str, str, str], tmp_path: Path, period: tuple[str, ...]) -> None:
    """--since/--until were read back as naive UTC, so the digest changed at once."""
    url, _, _ = graded
    saved = tmp_path / "report.json"
    saved.write_text(invoke("report", "--db", url, "--kind", "petition", *period, "--now",
                            hours(50).isoformat(), "--json").stdout, encoding="utf-8")
    verified = invoke("report", "--db", url, "--verify", str(saved))
    assert (verified.exit_code, verified.stdout.split(":")[0]) == (0, "the report holds"), \
        verified.stdout


def test_groups_are_named_by_their_key_in_whatif_and_verify(
        graded: tuple[str, str, str], tmp_path: Path) -> None:
    """`--by` groups were named by their index (groups.0...), so a new group shifted every
    name after it and --verify reported groups that had not moved."""
    url, _, _ = graded
    now = ("--now", hours(50).isoformat())
    compared = invoke("whatif", "--db", url, "--grade", "B.resolve=2d", "--by", "community",
                      *now)
    assert any(line.split()[:3] == ["groups.guanlan/xinlan.sla.B.breached", "0", "1"]
               for line in compared.stdout.splitlines()), compared.stdout
    saved = tmp_path / "report.json"
    saved.write_text(invoke("report", "--db", url, "--by", "community", *now, "--json").stdout,
                     encoding="utf-8")
    opened = invoke("open", "petition", "-f", "channel=hotline", "-f", "title=x", "-f",
                    "location=guanlan/dashuikeng", "--actor", "li:intake", "--db", url,
                    "--at", hours(1).isoformat())
    assert opened.exit_code == 0, opened.output
    verified = invoke("report", "--db", url, "--verify", str(saved), "--json")
    assert verified.exit_code == 1
    moved = {change["figure"] for change in json.loads(verified.stdout)["changes"]}
    assert "groups.(none).total" in moved or "groups.guanlan/dashuikeng.total" in moved, moved
    assert not any(path.startswith(("groups.guanlan/xinlan", "groups.0")) for path in moved)


def test_the_report_the_demo_suggests_shows_the_demos_figures(tmp_path: Path) -> None:
    """The demo's "Next: casework report ..." judged open deadlines at today's date: 441
    cases overdue on the demo where the demo had just printed 129."""
    db = f"sqlite:///{tmp_path / 'month.db'}"
    demo = invoke("demo", "--db", db, "--seed", "3", "--petitions", "150",
                  "--enterprise-requests", "20", "--volunteer-tasks", "10")
    assert demo.exit_code == 0, demo.output
    (hint,) = [line for line in demo.stdout.splitlines() if line.startswith("Next: ")]
    suggested = shlex.split(hint.removeprefix("Next: ").split("    ")[0])
    assert suggested[:2] == ["casework", "report"]
    report = invoke(*suggested[1:])
    assert report.exit_code == 0, report.output

    def all_cases(printed: str) -> list[str]:
        return next(line.split() for line in printed.splitlines() if line.startswith("all "))

    assert all_cases(report.stdout) == all_cases(demo.stdout)
