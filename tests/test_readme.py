"""The README's library example runs as written (in a temporary folder: it makes cases.db)."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_library_example_in_the_readme_runs(tmp_path: Path) -> None:
    section = README.read_text(encoding="utf-8").split("## Using it as a library", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S)
    assert example is not None, "the README lost its library example"
    script = tmp_path / "example.py"
    script.write_text(example.group(1), encoding="utf-8")

    names = runpy.run_path(str(script))

    app, case_id = names["app"], names["case_id"]
    assert app.get_case(case_id).state == "resolved"
    assert app.get_case(names["resident"]).fields["phone"] == "[erased]"
    app.close()
