"""The report as a page: `casework report --html` and the demo's page.

Without a browser: the page carries the same JSON as `casework report --json`, its charts are
valid Vega-Lite of the bundled version, every number that links to cases leads to a list of
exactly that many cases, text from cases cannot break out of the page, and every value the
demo shows has a Chinese label.

In headless Chromium (slow): the demo's page opens without a single network request or
console message, draws every chart, and the figures read back from the drawn marks and
tables equal the report's JSON; screenshots at a phone's and a desktop's width are written to
tests/screenshots/ for a reviewer to look at.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import cli
from projections.report_page.bundle import BUNDLE, LICENSES, VEGA_LITE_VERSION
from projections.report_page.labels import HERE as LABELS
from projections.report_page.labels import Labels, table
from workflows import SAMPLE_ORGANISATION

from .support import REPO, casework_command

NOW = "2024-06-01T00:00:00Z"
"""When the demo's month ends (2024-06-01 08:00 in Shenzhen): its page is judged then."""
SCREENSHOTS = REPO / "tests" / "screenshots"
CHROMIUM = os.environ.get("CASEWORK_TEST_CHROMIUM", "/usr/bin/chromium")
SMALL_DEMO = ["--seed", "7", "--petitions", "240", "--enterprise-requests", "50",
              "--volunteer-tasks", "20"]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"CASEWORK_DB": None},
                              prog_name="casework")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo month, in a SQLite file."""
    path = tmp_path_factory.mktemp("demo") / "month.db"
    result = invoke("demo", "--db", f"sqlite:///{path}", *SMALL_DEMO)
    assert result.exit_code == 0, result.output
    return path


def page_of(db: Path, *options: str) -> str:
    out = db.with_name(f"page-{abs(hash(options))}.html")
    result = invoke("report", "--db", f"sqlite:///{db}", "--now", NOW, "--html", str(out),
                    *options)
    assert result.exit_code == 0, result.output
    wrote = "报表页已写入" if "zh" in options else "wrote the report page to"
    assert result.output == f"{wrote} {out}\n"
    return out.read_text(encoding="utf-8")


def report_json(db: Path, *options: str) -> dict[str, Any]:
    result = invoke("report", "--db", f"sqlite:///{db}", "--now", NOW, "--json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def embedded(page: str, element: str) -> Any:
    found = re.search(f'<script type="application/json" id="{element}">(.*?)</script>', page,
                      re.S)
    assert found is not None, element
    return json.loads(found.group(1))


@pytest.mark.parametrize("options", [
    ("--by", "community"),
    ("--kind", "petition", "--unit", "guanlan/guancheng", "--by", "grade", "--lang", "zh"),
    ("--since", "2024-05-10T00:00+08:00", "--until", "2024-05-20", "--by", "channel"),
])
def test_the_page_carries_the_json_of_casework_report_for_the_same_filters(
        demo_db: Path, options: tuple[str, ...]) -> None:
    page = page_of(demo_db, *options)
    without_lang = [o for o in options if o not in ("--lang", "zh")]
    # The figures of the JSON; its inputs (what --verify checks) are the command's own.
    figures = {key: value for key, value in report_json(demo_db, *without_lang).items()
               if key != "inputs"}
    assert embedded(page, "report-json") == figures
    # The footer names the command that gives the same JSON.
    command = re.search(r"`casework (report --json[^`]*)`", page)
    assert command is not None
    again = invoke(*command.group(1).split(), "--db", f"sqlite:///{demo_db}")
    assert {key: value for key, value in json.loads(again.output).items()
            if key != "inputs"} == embedded(page, "report-json")
    # The charts' code inlined once; no script, style, font or image from elsewhere.
    bundle = BUNDLE.read_text(encoding="utf-8")
    assert page.count(bundle) == 1
    rest = page.replace(bundle, "")
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", rest)
    assert "@import" not in rest and "url(" not in rest
    # Nothing in the bundle can end its <script> element early, or start a comment in it.
    assert "</script" not in bundle and "<!--" not in bundle


def test_the_bundle_is_the_vega_lite_of_altairs_schema_and_every_chart_is_valid(
        demo_db: Path) -> None:
    import altair
    import jsonschema
    from altair.vegalite.v6.schema import load_schema

    assert f"v{VEGA_LITE_VERSION}" == altair.SCHEMA_VERSION
    bundle = BUNDLE.read_text(encoding="utf-8")
    assert f'="{VEGA_LITE_VERSION}"' in bundle  # vega-lite's version constant
    notices = LICENSES.read_text(encoding="utf-8")
    for package in ("vega\n", "vega-lite\n", "vega-embed\n", "vega-tooltip\n", "d3 ("):
        assert f"\n{package}" in notices, package
    validator = jsonschema.Draft7Validator(load_schema())
    specs = embedded(page_of(demo_db, "--by", "community"), "chart-specs")
    assert len(specs) >= 8
    for key, spec in specs.items():
        errors = [error.message for error in validator.iter_errors(spec)]
        assert not errors, (key, errors[:3])
        assert spec["$schema"] == altair.SCHEMA_URL


def test_the_three_rates_card_shows_the_reports_rates_and_the_rules_and_month_used(
        demo_db: Path) -> None:
    options = ("--by", "unit", "--month", "2024-05")
    page = page_of(demo_db, *options)
    figures = report_json(demo_db, *options)
    rates = figures["three_rates"]
    shown = dict(re.findall(r'data-figure="three_rates\.(\w+)"><b>([^<]*)</b>', page))
    assert shown == {**{name: f"{rates[name] * 100:.2f}%" for name in (
        "response_rate", "resolution_rate", "satisfaction_rate")},
        "composite": f"{rates['composite']:g}"}
    counted = dict(re.findall(r'<td data-figure="three_rates\.(\w+)">(\d+)</td>', page))
    assert {name: int(n) for name, n in counted.items()} == {
        name: rates[name] for name in counted} and "valid" in counted
    month = {end: moment.replace("T", " ")[:16]
             for end, moment in figures["assessment"]["month"].items()}
    # May in the office's time zone (Asia/Shanghai), in UTC as the JSON gives times.
    assert month == {"from": "2024-04-30 16:00", "until": "2024-05-31 16:00"}
    assert "f = 0.9 · weights: response 0.1, resolution 0.5, satisfaction 0.4 · revisits " \
           f"from {month['from']} to {month['until']} UTC" in page
    ranked = re.findall(r'<table class=ranking>.*?</table>', page, re.S)
    assert [key for key in re.findall(r'<tr data-key="([^"]+)">', ranked[0])] == [
        account["key"] for account in figures["ranking"]]
    # Without --by unit, community or grid there is nothing to rank.
    assert "id=\"ranking\"" not in page_of(demo_db, "--by", "channel")
    assert "id=\"ranking\"" not in page_of(demo_db)


def drill_links(page: str) -> list[tuple[str, int]]:
    return [(anchor, int(count))
            for anchor, count in re.findall(r'<a href="#(cases-\d+)">(\d+)</a>', page)]


def drill_lists(page: str) -> dict[str, tuple[int, int, str]]:
    """anchor → (the count it states, rows listed, the "and N more" line)."""
    lists = {}
    for match in re.finditer(r"<section class=drill id=(cases-\d+) data-count=(\d+)>(.*?)"
                             r"</section>", page, re.S):
        body = match.group(3)
        more = re.search(r"<p class=more>(.*?)</p>", body)
        lists[match.group(1)] = (int(match.group(2)), body.count("<tr><td>"),
                                 more.group(1) if more else "")
    return lists


def test_every_number_of_the_heat_and_ranking_tables_opens_a_list_of_as_many_cases(
        demo_db: Path) -> None:
    page = page_of(demo_db, "--by", "community")
    figures = report_json(demo_db, "--by", "community")
    links, lists = drill_links(page), drill_lists(page)
    heat = sum(1 for counts in figures["by_category_and_community"].values()
               for count in counts.values() if count)
    assert len(links) >= heat  # each non-empty heat cell, then the ranking's counts
    for anchor, count in links:
        stated, listed, more = lists[anchor]
        assert stated == count, anchor
        assert listed == min(count, 10)
        assert more == ("" if count <= 10 else f"and {count - 10} more")
    # The first ranking row is the community with most cases; its open cases are listed.
    first = max(figures["groups"], key=lambda g: (g["total"], g["key"]))
    row = re.search(rf'<tr data-key="{re.escape(first["key"])}">(.*?)</tr>', page)
    assert row is not None
    assert re.search(rf'data-figure=open><a href="#cases-\d+">{first["open"]}</a>',
                     row.group(1))


def test_query_links_take_the_reports_filters_and_the_cases_of_the_number(
        demo_db: Path) -> None:
    from urllib.parse import parse_qsl, urlsplit

    from casework import Casework
    from projections import ReadModel
    from projections.filters import Filters
    from projections.report import report
    from projections.report_page import CaseQuery, InPageCases, QueryLinks, render_report_page

    app = Casework(f"sqlite:///{demo_db}")
    with ReadModel(app) as read_model:
        figures = report(read_model, Filters(kind="petition"), by="community")
        page = render_report_page(figures, "en", links=QueryLinks(figures, "/cases"))
        counter = InPageCases(read_model, figures)
        hrefs = re.findall(r'<a href="(/cases\?[^"]+)">(\d+)</a>', page)
        assert hrefs
        for href, count in hrefs[:12]:
            parameters = dict(parse_qsl(urlsplit(href.replace("&amp;", "&")).query))
            assert parameters["kind"] == "petition"
            assert parameters["now"] == figures.as_dict()["as_of"]
            equal = tuple((k, v) for k, v in parameters.items()
                          if k in ("community", "category"))
            _, total = counter.rows(CaseQuery(equal, parameters["figure"]))
            assert total == int(count), href
    app.close()


def test_text_from_cases_cannot_break_out_of_the_page(tmp_path: Path) -> None:
    db = tmp_path / "hostile.db"
    hostile = '</script><script>alert("x")</script><b>'
    result = invoke("open", "petition", "--db", f"sqlite:///{db}", "--actor", "li",
                    "--role", "intake", "-f", "channel=hotline", "-f", f"title={hostile}")
    assert result.exit_code == 0, result.output
    case_id = result.output.strip()
    result = invoke("fire", case_id, "assess", "grade=B", f"category={hostile}",
                    "--db", f"sqlite:///{db}", "--actor", "li", "--role", "assessor")
    assert result.exit_code == 0, result.output
    result = invoke("fire", case_id, "dispatch", "unit=guanlan/guancheng",
                    "--db", f"sqlite:///{db}", "--actor", "li", "--role", "dispatcher")
    assert result.exit_code == 0, result.output

    page = page_of(db)

    assert hostile not in page
    # The bundle, the report, the specs, the boot script: and no other.
    assert page.count("<script") == page.count("</script>") == 4
    assert embedded(page, "report-json")["by_category_and_community"] == {
        hostile: {"guanlan/guancheng": 1}}


def test_every_value_the_demo_shows_has_a_chinese_label(demo_db: Path) -> None:
    figures = report_json(demo_db, "--by", "community")
    zh = table("zh")
    shown = {
        "stage": figures["by_stage"], "state": figures["by_state"], "kind": figures["by_kind"],
        "channel": {c for counts in figures["intake_by_day"].values() for c in counts},
        "category": {*figures["by_category_and_community"],
                     *figures["enterprise_requests"]["by_service_category"]},
        "level": {s[end] for s in figures["escalations"]["steps"] for end in ("from", "to")}
        - {"(none)"},
        "grade": figures["sla"], "section": {"enterprise_requests", "volunteer_tasks"},
        "figure": {"by_service_category", *(k for k, v in figures["volunteer_tasks"].items()
                                            if isinstance(v, int))},
    }
    missing = {kind: sorted(set(values) - set(zh.get(kind, {})))
               for kind, values in shown.items()}
    assert not any(missing.values()), missing
    # Every unit of the sample organisation has its Chinese name on the Chinese page.
    labels = Labels("zh", _organisation())
    assert labels.unit("guanlan/guancheng") == "观城社区"
    assert Labels("en", _organisation()).unit("guanlan/guancheng") == "guancheng"


def test_both_languages_have_every_text_of_the_page() -> None:
    def keys(node: dict[str, Any], prefix: str = "") -> set[str]:
        return {name for key, value in node.items() for name in (
            keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key})}

    with (LABELS / "en.toml").open("rb") as en, (LABELS / "zh.toml").open("rb") as zh:
        assert keys(tomllib.load(en)["text"]) == keys(tomllib.load(zh)["text"])


def test_a_page_that_cannot_be_written_is_one_line_and_a_bad_language_is_refused(
        demo_db: Path, tmp_path: Path) -> None:
    result = invoke("report", "--db", f"sqlite:///{demo_db}", "--html",
                    str(tmp_path / "no" / "such" / "folder" / "page.html"))
    assert result.exit_code == 2  # checked before the report is computed, as every output path
    assert result.stderr.startswith("casework: ") and len(result.stderr.splitlines()) == 1
    assert str(tmp_path / "no" / "such" / "folder") in result.stderr
    result = invoke("report", "--db", f"sqlite:///{demo_db}", "--html", "x.html",
                    "--lang", "fr")
    assert result.exit_code == 2
    assert "'fr' is not one of 'en', 'zh'" in result.stderr


def _organisation() -> Any:
    from casework import Organisation

    return Organisation.load(SAMPLE_ORGANISATION)


# In a browser -----------------------------------------------------------------------------

def chromium() -> None:
    """Skip without Chromium or Playwright on a developer's machine; fail in CI (CI=true),
    whose .ci/run installs both."""
    missing = None
    if not Path(CHROMIUM).is_file():
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set " \
                  "CASEWORK_TEST_CHROMIUM)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "Playwright is not installed (pip install '.[test]')"
    if missing and os.environ.get("CI") == "true":
        pytest.fail(f"{missing}: CI must run the browser tests")
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def demo_pages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The full demo's month, run as a user runs it, in English and in Chinese: its
    database and its two pages."""
    folder = tmp_path_factory.mktemp("full-demo")
    english = subprocess.run([*casework_command(), "demo"], cwd=folder, capture_output=True,
                             text=True, timeout=600, check=True)
    page = folder / "casework-demo.html"
    assert f"report page (charts, rankings, the cases behind each number): {page.as_uri()}" \
        in english.stdout
    chinese = folder / "casework-demo.zh.html"
    subprocess.run([*casework_command(), "report", "--db", "casework-demo.db", "--by",
                    "community", "--now", NOW, "--html", chinese.name, "--lang", "zh"],
                   cwd=folder, capture_output=True, text=True, timeout=600, check=True)
    return folder / "casework-demo.db", page, chinese


def open_page(browser: Any, path: Path, width: int) -> tuple[Any, Any, list[str]]:
    """The page opened at ``width``: every request but the file itself is refused and noted,
    as is every console message and uncaught error."""
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  device_scale_factor=1)
    problems: list[str] = []
    own = path.as_uri()

    def guard(route: Any) -> None:
        if route.request.url == own:
            route.continue_()
        else:
            problems.append(f"request: {route.request.url}")
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("request", lambda r: r.url == own or problems.append(f"request: {r.url}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"error: {e}"))
    page.goto(own, wait_until="load")
    page.wait_for_function("document.body.dataset.rendered", timeout=60_000)
    return context, page, problems


MARKS = """() => Object.fromEntries([...document.querySelectorAll('.chart')].map(chart => [
  chart.id.slice(6),
  [...chart.querySelectorAll('.role-mark [role=graphics-symbol]')].map(
    mark => mark.getAttribute('aria-label'))]))"""


def marks(page: Any) -> dict[str, list[dict[str, str]]]:
    """Each chart's marks as drawn: their aria-labels ("Stage: collect; Cases: 9") read back."""
    drawn = page.evaluate(MARKS)
    return {key: [dict(part.split(": ", 1) for part in label.split("; ")) for label in labels]
            for key, labels in drawn.items()}


def counts(drawn: list[dict[str, str]], name: str, count: str) -> dict[str, int]:
    return {mark[name]: int(mark[count].replace(",", "")) for mark in drawn}


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_demos_page_opens_offline_draws_every_chart_and_shows_the_reports_figures(
        browser: Any, demo_pages: tuple[Path, Path, Path], lang: str) -> None:
    db, english, chinese = demo_pages
    figures = report_json(db, "--by", "community")
    labels = Labels(lang, _organisation())
    context, page, problems = open_page(browser, english if lang == "en" else chinese, 1280)
    try:
        specs = page.evaluate("Object.keys(JSON.parse("
                              "document.getElementById('chart-specs').textContent))")
        assert page.evaluate("document.body.dataset.rendered") == str(len(specs))
        drawn = marks(page)
        assert sorted(drawn) == sorted(specs) and all(drawn.values()), drawn.keys()
        check_figures(labels, drawn, figures)
        check_tables(labels, page, figures)
        check_assessment(labels, page, drawn, figures)
        # Hovering a bar shows its figures.
        stages = list(figures["by_stage"])
        page.locator("#chart-by_stage .role-mark [role=graphics-symbol]").nth(
            stages.index("close")).hover(force=True)
        tooltip = page.locator("#vg-tooltip-element")
        tooltip.wait_for(state="visible")
        assert str(figures["by_stage"]["close"]) in tooltip.inner_text()
        # A number of the heat table opens the list of its cases, in the page.
        link = page.locator("table.heat a").first
        anchor = link.get_attribute("href")
        link.click()
        listed = page.locator(f"section{anchor}")
        assert listed.is_visible()
        assert listed.locator("tbody tr").count() == min(int(link.inner_text()), 10)
        assert problems == []
    finally:
        context.close()


def check_figures(labels: Labels, drawn: dict[str, list[dict[str, str]]],
                  figures: dict[str, Any]) -> None:
    text = labels.text
    assert counts(drawn["by_stage"], text("stage"), text("count")) == {
        labels.value("stage", k): v for k, v in figures["by_stage"].items()}
    assert counts(drawn["satisfaction"], text("score"), text("count")) == {
        f"{k} ★": v for k, v in figures["satisfaction"]["distribution"].items()}
    histogram = figures["time_to_close_hours"]["histogram"]
    assert list(counts(drawn["time_to_close_hours"], text("hours"), text("count")).values()) \
        == [b["count"] for b in histogram]
    assert counts(drawn["escalations"], text("step"), text("escalation_count")) == {
        f"{labels.value('level', s['from'])} → {labels.value('level', s['to'])}": s["count"]
        for s in figures["escalations"]["steps"]}
    # Both clocks per grade, each chart equal to its block of the JSON.
    for clock in ("sla", "contact"):
        deadlines = {(m[text("grade")], m[text("verdict")]):
                     int(m[text("count")].replace(",", "")) for m in drawn[clock]}
        assert deadlines == {(labels.value("grade", grade), labels.value("verdict", verdict)): n
                             for grade, d in figures[clock].items() if grade != "overall"
                             for verdict, n in d.items() if verdict != "compliance"}, clock
    assert sum(figures["contact"]["overall"][v] for v in ("met", "breached", "open_overdue"))
    intake = sum(int(m[text("count")]) for m in drawn["intake_by_day"])
    assert intake == figures["total"] == sum(
        n for day in figures["intake_by_day"].values() for n in day.values())
    services = figures["enterprise_requests"]["by_service_category"]
    assert counts(drawn["enterprise_requests.by_service_category"],
                  labels.value("figure", "by_service_category"), text("count")) == {
        labels.any(k): v for k, v in services.items()}
    tasks = figures["volunteer_tasks"]
    assert counts(drawn["volunteer_tasks.milestones"], text("milestone"), text("count")) == {
        labels.value("figure", k): v for k, v in tasks.items() if isinstance(v, int)}


def check_tables(labels: Labels, page: Any, figures: dict[str, Any]) -> None:
    tiles = page.evaluate("Object.fromEntries([...document.querySelectorAll('.tile')].map("
                          "t => [t.dataset.figure, t.querySelector('b').textContent]))")
    assert {k: int(tiles[k]) for k in ("total", "open", "closed", "resolved")} == {
        k: figures[k] for k in ("total", "open", "closed", "resolved")}
    cells = page.evaluate("[...document.querySelectorAll('table.heat td')].map(td => "
                          "[td.dataset.category, td.dataset.community, td.textContent])")
    assert len(cells) >= 20
    for category, community, shown in cells:
        assert int(shown) == figures["by_category_and_community"][category].get(community, 0)
    ranking = page.evaluate("[...document.querySelectorAll('table.groups tbody tr')].map("
                            "tr => [tr.dataset.key, tr.querySelector('[data-figure=total]')"
                            ".textContent])")
    groups = {g["key"]: g["total"] for g in figures["groups"]}
    assert [(key, int(total)) for key, total in ranking] == sorted(
        groups.items(), key=lambda kv: (-kv[1], kv[0]))


def check_assessment(labels: Labels, page: Any, drawn: dict[str, list[dict[str, str]]],
                     figures: dict[str, Any]) -> None:
    """The three rates, the ranking (table and chart) and the progress tables, as shown."""
    rates = figures["three_rates"]
    shown = page.evaluate("Object.fromEntries([...document.querySelectorAll("
                          "'#three_rates [data-figure]')].map(e => [e.dataset.figure, "
                          "(e.querySelector('b') || e).textContent]))")
    assert shown == {f"three_rates.{name}": shown_rate(rates[name]) for name in (
        "response_rate", "resolution_rate", "satisfaction_rate")} | {
        "three_rates.composite": f"{rates['composite']:g}"} | {
        f"three_rates.{name}": str(rates[name]) for name in (
            "visits", "valid", "contacted", "solved", "satisfied", "basically_satisfied",
            "unsatisfied")}
    words = page.locator("#three_rates").inner_text()
    for name in ("response_rate", "resolution_rate", "satisfaction_rate", "composite"):
        assert labels.text(f"rates.{name}") in words
    assert f"f = {figures['assessment']['basic_weight']:g}" in words
    rows = page.evaluate("[...document.querySelectorAll('table.ranking tbody tr')].map(tr => "
                         "[tr.dataset.key, ...[...tr.querySelectorAll('td')].map("
                         "td => td.textContent)])")
    assert rows == [[a["key"], str(a["rank"]), f"{a['three_rates']['composite']:g}",
                     *(shown_rate(a["three_rates"][name]) for name in (
                         "response_rate", "resolution_rate", "satisfaction_rate")),
                     str(a["three_rates"]["valid"]), str(a["received"]), str(a["breaches"]),
                     str(a["sent_back"])] for a in figures["ranking"]]
    assert len(rows) >= 5
    by = labels.value("grouping", "community")
    composites = [(m[by], float(m[labels.text("rates.composite")])) for m in drawn["ranking"]]
    assert composites == [(labels.value("community", a["key"]), a["three_rates"]["composite"])
                          for a in figures["ranking"]]
    for kind in ("channel", "kind"):
        table = page.evaluate(f"[...document.querySelectorAll('#progress_by_{kind} tbody tr')]"
                              ".map(tr => [tr.dataset.key, Object.fromEntries([...tr."
                              "querySelectorAll('td[data-figure]')].map(td => "
                              "[td.dataset.figure, +td.textContent])), "
                              "tr.querySelector('.said').textContent])")
        progress = figures[f"progress_by_{kind}"]
        assert {key: counts for key, counts, _ in table} == progress
        for key, _, said in table:
            assert said == labels.text("progress.said", **progress[key])


def shown_rate(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f}%"


@pytest.mark.slow
def test_screenshots_of_the_demos_page_at_a_phones_and_a_desktops_width(
        browser: Any, demo_pages: tuple[Path, Path, Path]) -> None:
    """For a reviewer to look at: tests/screenshots/report-{en,zh}-{390,1280}.png."""
    _, english, chinese = demo_pages
    SCREENSHOTS.mkdir(exist_ok=True)
    for lang, path in (("en", english), ("zh", chinese)):
        for width in (390, 1280):
            context, page, problems = open_page(browser, path, width)
            try:
                overflow = page.evaluate("document.documentElement.scrollWidth - innerWidth")
                assert overflow <= 0, f"{lang} at {width}px scrolls sideways by {overflow}px"
                shot = SCREENSHOTS / f"report-{lang}-{width}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 50_000
                assert problems == []
            finally:
                context.close()


def test_the_cases_behind_each_number_are_the_ones_the_report_counts_on_both_back_ends(
        app: Any) -> None:
    """Each figure a page links to, as a query of the read model, counts what the report
    counts: for every community, and for every category × community pair."""
    from casework.demo import Simulation
    from projections import ReadModel
    from projections.report import report
    from projections.report_page import CaseQuery, InPageCases

    Simulation(app, seed=3, petitions=120, enterprise_requests=20, volunteer_tasks=10).run()
    with ReadModel(app) as read_model:
        figures = report(read_model, by="community", now=app.clock())
        cases = InPageCases(read_model, figures)
        for group in figures.groups:
            f = group.figures
            expected = {"total": f.total, "open": f.open, "resolved": f.resolved,
                        "open_overdue": f.sla["overall"].open_overdue}
            for figure, count in expected.items():
                rows, total = cases.rows(CaseQuery((("community", group.key),), figure))
                assert total == count, (group.key, figure)
                assert len(rows) == min(count, 10)
        for category, by_community in figures.figures.by_category_and_community.items():
            for community, count in by_community.items():
                query = CaseQuery((("category", category), ("community", community)))
                assert cases.rows(query)[1] == count
    assert any(g.figures.sla["overall"].open_overdue for g in figures.groups)
