"""Runs every ```python block of docs/python.md, in order, in one namespace, from a folder that
sees the repository's files under their documented relative paths (outputs stay in tmp)."""

import os
import re

from conftest import REPO


def test_walkthrough_runs(tmp_path, monkeypatch):
    text = (REPO / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 6, "the walk-through lost its snippets"
    os.symlink(REPO / "crates", tmp_path / "crates")
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/python.md block {i + 1}", "exec"), ns)
    assert (tmp_path / "pk.png").stat().st_size > 1000
    assert ns["ev"]["summary"]["verdict"]
