"""README.md's two commands stay true: CI runs the test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_COMMAND = 'python -m pip install -e ".[test]" && python -m pytest -q'


def _code_lines(text: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines()]


def test_readme_shows_the_test_command_that_ci_runs() -> None:
    readme = _code_lines((ROOT / "README.md").read_text())
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert TEST_COMMAND in readme
    assert TEST_COMMAND in [line.strip() for line in ci]


def test_readme_shows_the_main_job_on_the_builtin_example() -> None:
    readme = _code_lines((ROOT / "README.md").read_text())
    assert any(line.endswith("vpnha check") and "pip install -e ." in line for line in readme)
