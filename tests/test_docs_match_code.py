"""What the README and the lessons say about the code is what the code is.

* the README's module table names every module and subpackage of ``toychat``, and nothing else;
* the README's repository layout names every file and folder at the top of the repository,
  every script and every data file, and only what exists;
* every ``toychat`` name a lesson's text mentions (``toychat.reporting.report_with_context``,
  ``Client.receive``, ``md.simulate`` where the lesson imported ``toychat.metadata as md``) exists;
* ``toychat/metadata.py`` stays loadable by :func:`toychat.fresh.fresh_import`, which ex04's
  hidden tests rely on (the module's docstring says why).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

import toychat
from toychat.fresh import fresh_import

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
LESSONS = sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))


def readme_section(heading: str) -> str:
    """The README's text from ``heading`` to the next heading of the same or a higher level."""
    start = README.index(f"\n{heading}\n")
    level = heading.split()[0]
    following = re.compile(rf"^#{{1,{len(level)}}} ", re.MULTILINE)
    end = following.search(README, start + len(heading) + 2)
    return README[start : end.start() if end else len(README)]


# ---- the module table ---------------------------------------------------------------------------------------
def module_table_names() -> set[str]:
    """Every ``toychat.…`` name in the first column of the README's module table."""
    names: set[str] = set()
    for line in readme_section("## The support package, `toychat`").splitlines():
        if line.startswith("| `toychat"):
            names.update(re.findall(r"`(toychat(?:\.\w+)+)`", line.split("|")[1]))
    return names


def package_modules() -> set[str]:
    """Every module and subpackage directly inside ``toychat``."""
    return {f"toychat.{info.name}" for info in pkgutil.iter_modules(toychat.__path__)}


def test_every_module_is_in_the_readme_module_table() -> None:
    missing = sorted(package_modules() - module_table_names())
    assert missing == [], f"add a row (or a name to a row) of the README's module table for {missing}"


def test_the_readme_module_table_names_only_modules_that_exist() -> None:
    stale = sorted(module_table_names() - package_modules())
    assert stale == [], f"the README's module table names modules that do not exist: {stale}"


# ---- the repository layout ----------------------------------------------------------------------------------
def layout_block() -> str:
    """The code block of the README's "Repository layout" section."""
    section = readme_section("## Repository layout")
    match = re.search(r"^```\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    assert match is not None, "the README's Repository layout section has no code block"
    return match.group(1)


def layout_entries() -> list[str]:
    """The names in the layout's first column: ``README.md``, ``toychat/``, ``.ci/run`` …"""
    entries = []
    for line in layout_block().splitlines():
        if line and not line[0].isspace():
            first_column = re.split(r"\s{2,}", line.strip())[0]
            entries += [name.strip() for name in first_column.split(",")]
    return entries


def tracked_top_level() -> set[str]:
    """Every file and folder at the top of the repository that git tracks (folders end in ``/``)."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.fail("the layout check lists the repository with git: run it in a git clone", pytrace=False)
    files = subprocess.run(
        [git, "ls-files"], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    return {path.split("/")[0] + ("/" if "/" in path else "") for path in files}


def test_the_layout_names_every_file_and_folder_at_the_top() -> None:
    listed = layout_entries()
    unlisted = sorted(
        entry
        for entry in tracked_top_level() - {".gitignore"}
        if not any(name == entry or (entry.endswith("/") and name.startswith(entry)) for name in listed)
    )
    assert unlisted == [], f"add these to the README's Repository layout: {unlisted}"


def test_the_layout_names_only_what_exists() -> None:
    missing = [name for name in layout_entries() if not (REPO / name.rstrip("/")).exists()]
    assert missing == [], f"the README's Repository layout names what does not exist: {missing}"


@pytest.mark.parametrize(
    "path", sorted((REPO / "scripts").glob("*.py")) + sorted((REPO / "data").glob("*")), ids=lambda p: p.name
)
def test_the_layout_names_every_script_and_data_file(path: Path) -> None:
    assert re.search(rf"(?<![\w/]){re.escape(path.name)}\b", layout_block()), (
        f"the README's Repository layout does not say what {path.relative_to(REPO)} is"
    )


# ---- toychat names in the lessons ---------------------------------------------------------------------------
#: A dotted name in backticks, optionally called: `md.simulate`, `Client.receive()`.
CODE_SPAN = re.compile(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\([^`]*\))?`")
#: A full toychat path anywhere in a lesson, prose or code: toychat.reporting.report_with_context.
TOYCHAT_PATH = re.compile(r"(?<![\w.])toychat(?:\.[A-Za-z_]\w*)+")


def toychat_bindings(nb: nbformat.NotebookNode) -> dict[str, str]:
    """The names a lesson's code binds to toychat objects, and what each stands for
    (``{"md": "toychat.metadata", "Client": "toychat.Client", "toychat": "toychat"}``)."""
    bound = {"toychat": "toychat"}
    transform = TransformerManager().transform_cell
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(transform(cell.source))):
            if isinstance(node, ast.Import):
                bound.update({a.asname: a.name for a in node.names if a.asname and a.name.startswith("toychat")})
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("toychat"):
                bound.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
    return bound


def toychat_names(nb: nbformat.NotebookNode) -> set[str]:
    """Every toychat name the lesson mentions, spelled out from the package down."""
    bound = toychat_bindings(nb)
    names: set[str] = set()
    for cell in nb.cells:
        names.update(TOYCHAT_PATH.findall(cell.source))
        if cell.cell_type == "markdown":
            for span in CODE_SPAN.findall(cell.source):
                head, _, rest = span.partition(".")
                if head in bound:
                    names.add(f"{bound[head]}.{rest}")
    return names


def resolves(name: str) -> bool:
    """Whether ``name`` (``toychat.reporting.report_with_context``) is a module or an attribute chain."""
    parts = name.split(".")
    obj: object = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=2):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            return False
    return True


def test_the_name_check_sees_a_name_that_moved() -> None:
    """The check itself: a method that became a function elsewhere is caught, its new home is not."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from toychat import Client\nimport toychat.metadata as md"),
        nbformat.v4.new_markdown_cell("`Client.report_with_context` and `md.simulate()`, not `alice.send`."),
    ]
    names = toychat_names(nb)
    assert names == {"toychat.Client.report_with_context", "toychat.metadata", "toychat.metadata.simulate"}
    assert not resolves("toychat.Client.report_with_context")
    assert resolves("toychat.reporting.report_with_context")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name[:2])
def test_every_toychat_name_a_lesson_mentions_exists(lesson: Path) -> None:
    nb = nbformat.read(lesson, as_version=4)
    broken = sorted(name for name in toychat_names(nb) if not resolves(name))
    assert broken == [], f"{lesson.name} names what toychat does not have: {broken}"


# ---- metadata.py stays one module ---------------------------------------------------------------------------
def test_metadata_imports_nothing_relative_and_no_other_toychat_module() -> None:
    """See the module docstring of toychat.metadata: ex04's hidden tests copy it with fresh_import."""
    tree = ast.parse((REPO / "toychat" / "metadata.py").read_text(encoding="utf-8"))
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    relative = [node.lineno for node in imports if isinstance(node, ast.ImportFrom) and node.level > 0]
    assert relative == [], f"toychat/metadata.py has relative imports on lines {relative}"
    modules = [a.name for node in imports if isinstance(node, ast.Import) for a in node.names]
    modules += [node.module or "" for node in imports if isinstance(node, ast.ImportFrom)]
    assert [m for m in modules if m.split(".")[0] == "toychat"] == [], "toychat/metadata.py imports toychat"


def test_metadata_loads_fresh_and_a_patched_original_does_not_reach_the_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    import toychat.metadata as md

    monkeypatch.setattr(md, "simulate", lambda *args, **kwargs: "what a student's cell put there")
    copy = fresh_import("toychat.metadata")
    assert copy.__name__ not in sys.modules
    platform = copy.simulate(accounts=1_000, seed=22)
    features = copy.account_features(platform)
    assert len(features) == len(platform.accounts)
