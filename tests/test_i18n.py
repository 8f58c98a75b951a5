"""Chinese: what a clerk reads with --lang zh (or the setting, or the locale), and the
catalogue behind it: every message the code marks is in it, translated, and compiled."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir, extract_from_file
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from casework import WorkflowDefinitionError
from casework.compiler import compile_workflow
from projections.i18n import DOMAIN, LOCALE
from projections.report_page.labels import HERE as LABELS

from .conftest import REGISTRY
from .support import REPO, invoke

PO = LOCALE / "zh" / "LC_MESSAGES" / f"{DOMAIN}.po"
MO = PO.with_suffix(".mo")
SMALL_DEMO = ("--seed", "3", "--petitions", "150", "--enterprise-requests", "20",
              "--volunteer-tasks", "10")
NOW = "2024-06-01T00:00:00Z"


@pytest.fixture(scope="module")
def chinese_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A small demo month run in Chinese: its database URL and what it printed."""
    path = tmp_path_factory.mktemp("zh") / "month.db"
    result = invoke("demo", "--db", f"sqlite:///{path}", *SMALL_DEMO, "--lang", "zh")
    assert result.exit_code == 0, result.output
    return f"sqlite:///{path}", result.stdout


def test_the_demo_speaks_chinese_with_lang_zh(chinese_demo: tuple[str, str]) -> None:
    _, printed = chinese_demo
    assert printed.startswith("观澜街道, 2024 年 5 月（种子 3）：")
    lines = printed.splitlines()
    assert lines[2].split()[:3] == ["案件", "在办", "已结"]
    assert lines[4].split()[0] == "全部案件"
    assert "群众诉求" in printed and "各阶段" in printed and "办理时限" in printed
    # The sample petition's history: triggers and states by the workflow's titles.
    history = printed.split("一件群众诉求的办理经过")[1]
    assert "受理      · → 已受理" in history and "评估分级" in history
    assert "all cases" not in printed and "collected" not in history


def test_the_report_speaks_chinese_and_names_units_by_their_chinese_names(
        chinese_demo: tuple[str, str]) -> None:
    db, _ = chinese_demo
    by_community = invoke("report", "--db", db, "--by", "community", "--now", NOW,
                          "--lang", "zh")
    assert by_community.exit_code == 0, by_community.output
    rows = {line.split()[0] for line in by_community.stdout.splitlines()[2:] if line.strip()}
    assert {"全部案件", "观城社区", "（无）"} <= rows
    by_state = invoke("report", "--db", db, "--by", "state", "--now", NOW, "--lang", "zh")
    assert {"办理中", "已回访"} <= {line.split()[0] for line in by_state.stdout.splitlines()
                                   if line.strip()}
    # English stays the default.
    english = invoke("report", "--db", db, "--by", "community", "--now", NOW)
    assert english.stdout.startswith("  ") and "all cases" in english.stdout
    assert "guanlan/guancheng" in english.stdout and "观城社区" not in english.stdout


def test_lists_and_errors_in_chinese(chinese_demo: tuple[str, str]) -> None:
    db, _ = chinese_demo
    listed = invoke("cases", "--db", db, "--unit", "guanlan/guancheng", "--limit", "3",
                    "--lang", "zh", "--now", NOW)
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.split()[:7] == ["案件", "类型", "状态", "单位", "等级", "时限", "标题"]
    assert "观城社区" in listed.stdout
    case = invoke("cases", "--db", db, "--state", "in_progress", "-q", "--limit", "1")
    case_id = case.stdout.strip()
    refused = invoke("fire", case_id, "assess", "grade=A", "category=road", "--db", db,
                     "--actor", "li", "--role", "assessor", "--lang", "zh")
    assert refused.exit_code == 4
    assert refused.stderr.startswith(f"casework: 无法对案件 {case_id} 执行“评估分级”：它处于"
                                     "“办理中”；“办理中”可执行的操作：")
    petition = invoke("cases", "--db", db, "--kind", "petition", "--state", "in_progress", "-q",
                      "--limit", "1").stdout.strip()
    denied = invoke("fire", petition, "note", "note=x", "--db", db, "--actor", "li", "--role",
                    "intake", "--lang", "zh")
    assert (denied.exit_code, denied.stderr) == (
        5, f"casework: 无权操作：li（角色 intake）不能对案件 {petition} 执行“记录进展”："
           "只有角色 handler, mediator, supervisor 可以\n")
    unknown = invoke("show", "0123456789", "--db", db, "--lang", "zh")
    assert (unknown.exit_code, unknown.stderr.split(":")[1].strip()) == (3, "没有案件 0123456789")
    nowhere = invoke("report", "--db", "sqlite:///nowhere.db", "--lang", "zh")
    assert (nowhere.exit_code, nowhere.stderr.split("（")[0]) == (
        7, "casework: sqlite:///nowhere.db 没有数据库")
    english = invoke("show", "0123456789", "--db", db)
    assert english.stderr.startswith("casework: unknown case 0123456789")


def test_the_operator_commands_speak_chinese(chinese_demo: tuple[str, str],
                                           tmp_path: Path) -> None:
    db, _ = chinese_demo
    counted = invoke("audit", "--db", db, "--json")
    cases, events = (__import__("json").loads(counted.stdout)[key] for key in ("cases", "events"))
    audited = invoke("audit", "--db", db, "--lang", "zh")
    assert (audited.exit_code, audited.stderr) == (
        0, f"已审计 {cases} 件案件、{events} 个事件：未发现问题\n")
    rebuilt = invoke("rebuild", "--db", db, "--lang", "zh")
    assert rebuilt.stdout == f"已根据 {events} 个事件重建读模型\n"
    assert invoke("rebuild", "--dry-run", "--db", db, "--lang", "zh").stdout == "重建会改动 0 行\n"
    export = tmp_path / "cases.jsonl"
    exported = invoke("export", "--db", db, "-o", str(export), "--lang", "zh")
    assert exported.stderr == f"已将 {cases} 件案件导出到 {export}\n"
    lines = len(export.read_text(encoding="utf-8").splitlines())
    keys = lines - cases - 2
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    imported = invoke("import", str(export), "--db", copy, "--lang", "zh")
    assert (imported.exit_code, imported.stdout) == (
        0, f"已导入 {cases} 件案件（及 {keys} 人的密钥），跳过已有的 0 件；共 {lines} 行"
           "（表头 1 行，结尾 1 行），已整体核验\n")
    swept = invoke("sweep", "--db", db, "--now", NOW, "--dry-run", "--lang", "zh")
    assert swept.stdout.startswith("sweep：检查 ") and "件，将变更 " in swept.stdout
    # English is as it was.
    assert invoke("audit", "--db", db).stderr == \
        f"audited {cases} cases, {events} events: no findings\n"
    assert invoke("rebuild", "--db", db).stdout == \
        f"rebuilt the read models from {events} events\n"
    again = invoke("import", str(export), "--db", copy)
    assert again.stdout == (f"imported 0 cases, skipped {cases} already present (and {keys} "
                            f"persons' keys); {lines} lines (1 header, 1 closing), checked whole\n")


def test_tokens_and_webhooks_speak_chinese(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'service.db'}"
    made = invoke("tokens", "create", "--actor", "hotline@guanlan", "--role", "intake",
                  "--db", db, "--lang", "zh")
    assert made.stderr == "请立即保存：令牌本身不会存储，之后无法再次显示\n"
    listed = invoke("tokens", "list", "--db", db, "--lang", "zh")
    assert listed.stdout.split()[:4] == ["编号", "操作人", "角色", "单位"]
    added = invoke("webhooks", "add", "https://notify.example.org/h", "--db", db, "--lang", "zh")
    assert added.stdout.startswith("订阅 ") and "（用于给每个请求体签名：" in added.stdout
    hooks = invoke("webhooks", "list", "--db", db, "--lang", "zh")
    assert hooks.stdout.split()[:5] == ["编号", "地址", "事件", "含个人信息", "订阅时间"]
    assert hooks.stdout.split()[-3] == "否"
    delivered = invoke("webhooks", "deliver", "--db", db, "--lang", "zh")
    assert delivered.stdout == "新增投递 0 条；已尝试 0 条；待投递 0 条\n"
    english = invoke("webhooks", "list", "--db", db)
    assert english.stdout.split()[:5] == ["id", "url", "events", "personal", "since"]


def test_the_locale_chooses_chinese_and_a_setting_or_flag_wins_over_it(
        tmp_path: Path) -> None:
    def language(*args: str, env: dict[str, str]) -> dict[str, str]:
        result = invoke(*args, "config", "--json", env=env)
        assert result.exit_code == 0, result.output
        return __import__("json").loads(result.stdout)["language"]

    chinese = {"LC_ALL": "", "LANG": "zh_CN.UTF-8"}
    assert language(env=chinese) == {"value": "zh", "source": "locale LANG"}
    assert language(env={**chinese, "LC_ALL": "C"})["value"] == "en"
    assert language(env={"LC_ALL": "", "LANG": "fr_FR.UTF-8"}) == {"value": "en",
                                                                   "source": "default"}
    assert language("--lang", "en", env=chinese)["value"] == "en"
    units = invoke("units", "guanlan", "--depth", "0", env=chinese)
    (tmp_path / "casework.toml").write_text('language = "en"\n', encoding="utf-8")
    assert language(env=chinese)["source"].startswith("file ")
    words = units.stdout.split()
    assert (words[:4], words[-4:]) == (["路径", "层级", "名称", "上级"],
                                       ["guanlan", "街道", "观澜街道", "-"])


def test_every_state_and_trigger_of_the_shipped_workflows_has_a_chinese_title() -> None:
    page_states = tomllib.loads((LABELS / "zh.toml").read_text(encoding="utf-8"))["state"]
    for workflow in REGISTRY:
        for state in workflow.states.values():
            assert state.titles.get("zh"), f"{workflow.key}: state {state.name}"
            # The report page names states by its own table: the same words.
            assert page_states[state.name] == state.titles["zh"], state.name
        for trigger in (workflow.opening, *workflow.triggers.values()):
            assert trigger.titles.get("zh"), f"{workflow.key}: trigger {trigger.name}"


def test_a_title_that_is_not_a_table_of_texts_is_refused() -> None:
    definition = {"name": "w", "version": 1, "initial": "a",
                  "states": {"a": {"stage": "collect", "titles": "已受理"}},
                  "triggers": [{"name": "open", "to": "a", "roles": ["x"],
                                "titles": {"zh": 1}}]}
    with pytest.raises(WorkflowDefinitionError) as refused:
        compile_workflow(definition)
    assert str(refused.value).count("titles must be a table of language → text") == 2


def _text(value: str | list[str] | tuple[str, ...]) -> str | tuple[str, ...]:
    return value if isinstance(value, str) else tuple(value)


def _catalogue() -> dict[str | tuple[str, ...], Any]:
    with PO.open("rb") as file:
        messages = read_po(file)
    return {_text(m.id): m for m in messages if m.id}


def _in_code() -> set[str | tuple[str, ...]]:
    """The messages the code marks, extracted as ``pybabel extract`` does (babel.cfg)."""
    found = [entry[2] for folder in ("console", "projections")
             for entry in extract_from_dir(REPO / folder, [("**.py", "python")],
                                           keywords=DEFAULT_KEYWORDS)]
    with (REPO / "cli.py").open("rb") as file:
        found += [entry[1] for entry in extract_from_file("python", file.name)]
    return {m if isinstance(m, str) else tuple(m) for m in found if m}


def test_every_message_in_the_code_is_in_the_catalogue_and_translated() -> None:
    catalogue = _catalogue()
    in_code = _in_code()
    assert in_code - set(catalogue) == set(), "run pybabel extract and update (README)"
    assert set(catalogue) - in_code == set(), "messages no code uses any more"
    for message in catalogue.values():
        strings = [message.string] if isinstance(message.string, str) else message.string
        assert all(strings) and not message.fuzzy, f"untranslated: {message.id!r}"
        ids = [message.id] if isinstance(message.id, str) else message.id
        placeholders = set(re.findall(r"\{[^}]*\}", ids[-1]))
        assert all(set(re.findall(r"\{[^}]*\}", s)) == placeholders for s in strings), \
            f"{message.id!r}: the translation must keep the placeholders {placeholders}"


def test_the_compiled_catalogue_is_the_catalogue() -> None:
    """The .mo shipped in the package says what the .po says (pybabel compile was run)."""
    with MO.open("rb") as file:
        compiled = {_text(m.id): _text(m.string) for m in read_mo(file) if m.id}
    assert compiled == {key: _text(m.string) for key, m in _catalogue().items()}
