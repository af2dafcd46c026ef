"""Hostile submissions through the real ``nbgrader autograde``, for every exercise.

One temporary course per exercise holds a correct student and one student per
trick; a single ``nbgrader autograde`` call grades them all, as it would a class.
Each test asserts what nbgrader, with the course's ``nbgrader_config.py``, *actually*
does with the trick.  Answers that only pretend (objects whose comparisons lie,
lying subclasses of ``bytes``/``str``/``float``/…, patched reference functions or
check helpers, cells that rewrite later cells) score nothing; tricks that stop the
kernel cost the part or the notebook; reading files outside the submission fails (the
kernel runs sealed, see ``tests/test_sealed_grading.py``); what still gets through (huge
output) is documented, with its mitigations, in ``docs/instructor_guide.md`` ("What
autograding cannot stop").  Everything runs under pytest's ``tmp_path``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from benchmarks.classroom import (
    assignments,
    make_course,
    read_grades,
    solution_answers,
    submit,
)
from benchmarks.classroom import nbgrader as run_nbgrader
from support.grading import grade_points, hidden_test_lines, page_text, with_decoded_blobs
from support.nbtools import REPO, record_timing

pytestmark = pytest.mark.nbgrader

TIMEOUT = 10  # seconds per cell (the course default is 60); the looping student costs one of these
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
COURSE_ID = "e2ee-online-safety"

#: Per exercise: a part whose hidden test compares with a reference function from
#: ``toychat``, a wrong answer that the part's hidden tests fail (it once passed the visible
#: tests too; since issue 30 most such answers fail them, see tests/exercise_mutants.py), and
#: code that replaces the reference with the student's own function before the tests run.
REFERENCE_PATCH = {
    "ex01_encryption": (
        "part-e",
        # keys hashed in the wrong order: right shape, changes with either key
        (
            "def fingerprint(encryption_key, verify_key):\n"
            "    digest = hashlib.sha256(bytes(verify_key) + bytes(encryption_key)).hexdigest()\n"
            "    return ' '.join(digest[i:i + 4] for i in range(0, 64, 4))\n"
        ),
        (
            "import toychat.keys\n"
            "toychat.keys.fingerprint = lambda public: fingerprint(\n"
            "    nacl.public.PublicKey(public.encryption_key), nacl.signing.VerifyKey(public.signing_key))\n"
        ),
    ),
    "ex02_chat": (
        "part-e",
        # the two outputs swapped: right sizes, keys still change every step
        (
            "def chain_step(chain_key):\n"
            "    return (hmac.new(chain_key, b'\\x01', hashlib.sha256).digest(),\n"
            "            hmac.new(chain_key, b'\\x02', hashlib.sha256).digest())\n"
        ),
        "import toychat.ratchet\ntoychat.ratchet.kdf_ck = chain_step\n",
    ),
    "ex03_scanning": (
        "part-a",
        # bits column by column instead of row by row: the visible all/none cases still pass
        (
            "def dhash_from_thumbnail(thumb):\n"
            "    thumb = np.asarray(thumb)\n"
            "    return (thumb[:, 1:] > thumb[:, :-1]).T.ravel()\n"
        ),
        (
            "hashing.difference_hash = lambda pictures: np.array(\n"
            "    [dhash_from_thumbnail(t) for t in hashing.greyscale_thumbnails(pictures, 9, 8)])\n"
        ),
    ),
    "ex04_reporting_and_metadata": (
        "part-c",
        # only the first 1,000 messages looked at: the four-account example still passes
        (
            "def minors_contacted(events, accounts):\n"
            "    events = events.iloc[:1000]\n"
            "    minor = accounts['is_minor'].to_numpy()[events['recipient'].to_numpy()]\n"
            "    counts = events[minor].groupby('sender')['recipient'].nunique()\n"
            "    return counts.reindex(range(len(accounts)), fill_value=0).astype(int)\n"
        ),
        (
            "_features = md.account_features\n"
            "def _patched(platform):\n"
            "    table = _features(platform)\n"
            "    table['minor_recipients'] = minors_contacted(platform.events, platform.accounts).to_numpy()\n"
            "    return table\n"
            "md.account_features = _patched\n"
        ),
    ),
    "ex05_claims": (
        "part-a",
        # the right labels and total, the counts in the wrong cells
        (
            "def side_by_type(claims):\n"
            "    import numpy as np\n"
            "    table = pd.crosstab(claims['side'], claims['claim_type'])\n"
            "    return pd.DataFrame(np.sort(table.to_numpy(), axis=None).reshape(table.shape),\n"
            "                        index=table.index, columns=table.columns)\n"
        ),
        (
            "def _summary(claims, column='side', by='claim_type'):\n"
            "    table = side_by_type(claims)\n"
            "    table['total'] = table.sum(axis=1)\n"
            "    table.loc['total'] = table.sum()\n"
            "    return table\n"
            "cl.summary_by = _summary\n"
        ),
    ),
}

#: Parts the reference patch breaks in the student's *own* code: the tests run in a trusted
#: kernel, but the student's functions run in theirs, where the patch applies.  In ex02, Part F's
#: receiver is a DoubleRatchet sent to the student's kernel, whose patched ``kdf_ck`` (with the
#: wrong chain step) derives other keys than the sender's, so the student's read_all fails.
ALSO_BROKEN = {"ex02_chat": ("part-f",)}

#: Finds the course root (where gradebook.db lives) from the kernel's working
#: directory, leaves a file there, and reads the instructor's source notebook.
FILE_ACCESS = """from pathlib import Path
here = Path.cwd()
course_root = next(p for p in [here, *here.parents] if (p / "gradebook.db").exists())
(course_root / "gradebook_tamper").write_text("written by a student's answer")
source = next(course_root.glob("solutions/*/*.ipynb")).read_text()
print("READ SOURCE NOTEBOOK, hidden tests inside:", "BEGIN HIDDEN TESTS" in source)
"""

HUGE_OUTPUT_BYTES = 50_000_000


#: Defines ``Liar`` (an object that says yes to every comparison, is truthy, has any
#: length and any attribute) and ``lying(value)`` (a subclass instance of ``value``'s own
#: type — ``bytes``, ``str``, ``float``, ``int``, ``ndarray``, ``DataFrame``, … — whose
#: comparisons all say yes).  Put in front of part A's answer.
LIES = """import numpy as np
import pandas as pd


class Liar:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    __le__ = __gt__ = __ge__ = __lt__
    def __bool__(self): return True
    def __len__(self): return 79
    def __hash__(self): return 0
    def __contains__(self, item): return False
    def __iter__(self): return iter([Liar(), Liar()])
    def __getitem__(self, key): return Liar()
    def __getattr__(self, name): return Liar()
    def __call__(self, *args, **kwargs): return Liar()
    def __sub__(self, other): return Liar()
    __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __and__ = __or__ = __sub__
    def __abs__(self): return Liar()
    def __int__(self): return 0
    def __float__(self): return 0.0
    def __index__(self): return 0


_YES = {
    "__eq__": lambda self, other: True, "__ne__": lambda self, other: False,
    "__lt__": lambda self, other: True, "__le__": lambda self, other: True,
    "__gt__": lambda self, other: True, "__ge__": lambda self, other: True,
    "__hash__": lambda self: 0, "__bool__": lambda self: True, "__contains__": lambda self, item: False,
    "all": lambda self, *a, **k: True, "any": lambda self, *a, **k: True,
    "tolist": lambda self: Liar(), "startswith": lambda self, *a: True,
}


def lying(value):
    cls = type("Lying" + type(value).__name__, (type(value),), dict(_YES))
    return value.view(cls) if isinstance(value, np.ndarray) else cls(value)
"""

#: A lying value of the kind each return annotation promises (``bool`` cannot be subclassed).
LYING_RETURNS = {
    "bytes": 'lying(b"")',
    "bytes | None": 'lying(b"")',
    "str": 'lying("")',
    "bool": "Liar()",
    "int": "lying(0)",
    "float": "lying(0.0)",
    "np.ndarray": "lying(np.zeros(64, dtype=bool))",
    "pd.DataFrame": 'lying(pd.DataFrame({"a": [0]}))',
    "pd.Series": "lying(pd.Series([False]))",
    "list[str]": "lying([])",
    "tuple[str, str]": 'lying((lying(""), lying("ciphertext")))',
    "tuple[bytes, bytes]": 'lying((lying(b""), lying(b"")))',
    "tuple[float, float]": "lying((lying(0.0), lying(0.0)))",
}

#: Check helpers a test might have leaned on, replaced by ones that always pass, and the
#: built-ins ``type`` and ``isinstance`` shadowed so that lying subclasses pass for their base.
PATCHED_HELPERS = """import builtins
import math
import numpy as np
import pandas as pd

np.array_equal = np.allclose = lambda *a, **k: True
np.testing.assert_array_equal = np.testing.assert_allclose = lambda *a, **k: None
math.isclose = lambda *a, **k: True
pd.DataFrame.equals = pd.Series.equals = lambda self, other: True
pd.testing.assert_frame_equal = pd.testing.assert_series_equal = lambda *a, **k: None
_real_type = builtins.type


def type(obj, *rest):
    if rest:
        return _real_type(obj, *rest)
    found = _real_type(obj)
    return found.__mro__[1] if found.__name__.startswith("Lying") else found


isinstance = lambda obj, kind: True
"""

#: Makes IPython replace every later cell's code by ``pass`` at the AST stage.
AST_REWRITER = """import ast


class _Blank(ast.NodeTransformer):
    def visit_Module(self, node):
        return ast.Module(body=[ast.Pass()], type_ignores=[])


get_ipython().ast_transformers.append(_Blank())
"""


def _functions(answer: str) -> list[tuple[str, str]]:
    """(name, return annotation) of every function a model answer defines."""
    return re.findall(r"^def (\w+)\(.*\) -> (.+):$", answer, flags=re.M)


def cheat_answers(answers: dict[str, str], body: str, prelude: str = "") -> dict[str, str]:
    """Every answer cell replaced: each function of the part returns ``body`` (formatted with
    ``lie``, a lying value of the promised type); ``LIES`` and ``prelude`` go first."""
    cheats = {}
    for grade_id, answer in answers.items():
        code = "".join(
            f"def {name}(*args, **kwargs):\n    return {body.format(lie=LYING_RETURNS[returns])}\n\n\n"
            for name, returns in _functions(answer)
        )
        cheats[grade_id] = code or "pass\n"
    cheats["part-a-answer"] = LIES + "\n\n" + prelude + "\n\n" + cheats["part-a-answer"]
    return cheats


#: Wraps a function so that it misbehaves only when called from a hidden test: it walks
#: up to the test cell's frame and reads the cell's source from linecache, where
#: IPython keeps it: an oracle of issue 25's class 3.  Under the sealed grader the tests run in
#: another process, so it never finds a hidden test (tests/test_nbgrader_pipeline.py shows it).
MISBEHAVE = """import linecache
import sys as _sys


def _in_hidden_test():
    frame = _sys._getframe(2)
    while frame is not None and frame.f_code.co_name != "<module>":
        frame = frame.f_back
    if frame is None:
        return False
    marker = "BEGIN " + "HIDDEN TESTS"  # not spelt out: nbgrader would take it for a delimiter
    return any(marker in line for line in linecache.getlines(frame.f_code.co_filename)[:frame.f_lineno])


def _misbehave(function, mode):
    def wrapped(*args, **kwargs):
        if not _in_hidden_test():
            return function(*args, **kwargs)
        if mode == "raise":
            raise RuntimeError("a bug that shows only on other inputs")
        result = function(*args, **kwargs)
        try:
            subclass = type("Sub" + type(result).__name__, (type(result),), {})
            return result.view(subclass) if hasattr(result, "view") and hasattr(result, "dtype") else subclass(result)
        except TypeError:  # bool and None cannot be subclassed
            return result
    return wrapped
"""


def misbehaving_in_hidden_tests(answers: dict[str, str], mode: str) -> dict[str, str]:
    """The model answers, but each function misbehaves when a hidden test calls it, so the
    visible tests pass and the hidden ones fail.  ``mode`` is ``"raise"`` (an exception
    inside the student's function) or ``"type"`` (the right value in a subclass of its type,
    where the type can be subclassed)."""
    changed = {}
    for grade_id, answer in answers.items():
        wraps = "".join(f"{name} = _misbehave({name}, {mode!r})\n" for name, _ in _functions(answer))
        changed[grade_id] = answer + "\n\n" + wraps
    changed["part-a-answer"] = MISBEHAVE + "\n\n" + changed["part-a-answer"]
    return changed


# --------------------------------------------------------------------------- issue 25's classes
# Generic attacks: the same code attacks every exercise.  Each goes in front of part A's
# answer (``{course}`` is the course folder's absolute path), with every answer blank or, for
# the oracle, every function replaced by one.

#: Class 1, points through output: a value through the display hook before every cell, from a
#: background thread, and from inside every answer function.
C1_DISPLAY = """import threading as _threading, time as _time
get_ipython().events.register("pre_run_cell", lambda *a: get_ipython().displayhook("full marks"))
def _shout():
    while True:
        try:
            get_ipython().displayhook(100)
        except Exception:
            pass
        _time.sleep(0.02)
_threading.Thread(target=_shout, daemon=True).start()
"""
C1_BODY = "(get_ipython().displayhook(100), None)[1]"

#: Class 2, tampering a per-test reset would not undo: IPython's classes (not instances)
#: rewrite every cell to ``pass``, the compiler strips ``assert``, ``toychat.fresh`` hands
#: back the patched modules, built-in names are rebound in ``builtins`` itself, and finally
#: the kernel's ``do_execute`` answers "ok" without running anything.
C2_TAMPER = """import ast as _ast, builtins as _builtins
import IPython.core.interactiveshell as _shell
import IPython.core.compilerop as _compilerop
from IPython.core.inputtransformer2 import TransformerManager as _TM
class _NoAssert(_ast.NodeTransformer):
    def visit_Assert(self, node):
        return _ast.Pass()
_parse = _compilerop.CachingCompiler.ast_parse
def _parse_without_asserts(self, source, filename="<unknown>", symbol="exec"):
    return _NoAssert().visit(_parse(self, source, filename, symbol))
_compilerop.CachingCompiler.ast_parse = _parse_without_asserts
_TM.transform_cell = lambda self, cell: "pass\\n"
_shell.InteractiveShell.transform_cell = lambda self, raw_cell: "pass\\n"
import toychat.fresh as _fresh
_fresh.fresh_import = lambda name: __import__(name, fromlist=["_"])
_builtins.AssertionError = type("AssertionError", (Exception,), {})
_builtins.type = lambda *a: object
import ipykernel.ipkernel as _ipkernel
async def _do_nothing(self, code, silent, store_history=True, user_expressions=None, allow_stdin=False, **kw):
    return {"status": "ok", "execution_count": self.execution_count, "payload": [], "user_expressions": {}}
_ipkernel.IPythonKernel.do_execute = _do_nothing
"""

#: Class 3, oracles: each answer function walks up the stack to its caller's line (from
#: linecache, where IPython keeps every cell) and returns what that line compares with, or
#: raises what the caller's ``except`` expects.
C3_ORACLE = """import linecache as _linecache, re as _re, sys as _sys
def _oracle(*args, **kwargs):
    frame = _sys._getframe(1)
    while frame is not None:
        lines = _linecache.getlines(frame.f_code.co_filename)
        here = lines[frame.f_lineno - 1] if 0 < frame.f_lineno <= len(lines) else ""
        match = _re.search(r"==\\s*(.+?)\\s*(?:,|$)", here)
        if match:
            try:
                return eval(match.group(1), frame.f_globals, frame.f_locals)
            except Exception:
                pass
        following = "".join(lines[frame.f_lineno:frame.f_lineno + 3])
        caught = _re.search(r"except\\s+([\\w.]+)", following)
        if caught:
            try:
                raise eval(caught.group(1), frame.f_globals, frame.f_locals)("oracle")
            except TypeError:
                pass
        frame = frame.f_back
    return None
"""
C3_BODY = "_oracle(*args, **kwargs)"

#: Class 4, reading secrets without a file: the input history, every cell linecache holds,
#: and the notebook beside the kernel, printed after every cell and carried, base64-encoded,
#: in the message of an exception every answer function raises.
C4_LEAK = """import base64 as _base64, linecache as _linecache, pathlib as _pathlib
def _loot():
    ip = get_ipython()
    texts = list(ip.user_ns.get("In", [])) + list(ip.user_ns.get("_ih", []))
    texts += ["".join(entry[2]) for entry in list(_linecache.cache.values()) if len(entry) > 2]
    for path in _pathlib.Path.cwd().rglob("*.ipynb"):
        texts.append(path.read_text())
    return _base64.b64encode("\\n".join(texts).encode()).decode()
get_ipython().events.register("post_run_cell", lambda *a: print("LOOT", _loot()))
class Loot(Exception):
    pass
"""
C4_BODY = "(_ for _ in ()).throw(ValueError('LOOT ' + _loot()))"

#: Class 5, writing: into the course directly, and from a detached process that waits for
#: autograde to finish and then writes the gradebook, the configuration and a marker.
C5_WRITE = """import os as _os, subprocess as _subprocess, sys as _sys
_course = {course!r}
_targets = [_course + "/gradebook.db", _course + "/nbgrader_config.py", _course + "/written_by_detached"]
_script = (
    "import time, pathlib\\ntime.sleep(6)\\nfor p in %r:\\n"
    "    try:\\n        pathlib.Path(p).write_text('x')\\n    except Exception:\\n        pass\\n"
) % (_targets,)
_subprocess.Popen([_sys.executable, "-c", _script], start_new_session=True)
for _target in _targets:
    try:
        open(_target, "a").write("x")
    except Exception as _error:
        print("WRITE", _target, type(_error).__name__)
"""

#: Appended to part A's answer: every function the student defined kills the student's
#: kernel when called, that is, in the middle of a test's call across (SealedExecute).
DIES_IN_TEST = """
import os
for _name, _value in list(globals().items()):
    if callable(_value) and getattr(_value, "__module__", None) == "__main__" and not _name.startswith("_"):
        globals()[_name] = lambda *args, **kwargs: os._exit(1)
"""
DIES_IN_TEST_EXERCISE = "ex01_encryption"

#: Class 7, the class and not only the cheater: kill every process in sight (the grader, if
#: it could be reached), and cheat only when graded (``NBGRADER_EXECUTION`` set).
C7_KILLER = """import os as _os, signal as _signal
for _pid in range(1, 4096):
    if _pid != _os.getpid():
        try:
            _os.kill(_pid, _signal.SIGKILL)
        except Exception:
            pass
"""
C7_GRADED_ONLY = (
    "import os as _os\nif _os.environ.get('NBGRADER_EXECUTION'):\n"
    + "\n".join("    " + line for line in (C2_TAMPER).splitlines())
    + "\n"
)

#: Class 6, files beside the notebook (written next to it in ``submitted/``): a launcher that
#: turns every cell into ``pass``, a ``toychat`` package and a ``sitecustomize`` that say yes.
BESIDE_FILES = {
    "ipykernel_launcher.py": (
        "import IPython.core.interactiveshell as _shell\n"
        "_shell.InteractiveShell.transform_cell = lambda self, raw_cell: 'pass\\n'\n"
        "from ipykernel import kernelapp\nkernelapp.launch_new_instance()\n"
    ),
    "toychat/__init__.py": "raise SystemExit('a toychat from beside the notebook')\n",
    "sitecustomize.py": "import builtins\nbuiltins.AssertionError = Exception\n",
}

#: Students of issue 25's classes: expected to score 0, except ``c7_malformed`` (correct
#: answers in a notebook with a test cell duplicated: flagged, graded in full) and
#: ``zz_correct``, graded after every other student, who keeps full marks.
CLASS_STUDENTS = (
    "c1_display",
    "c2_tamper",
    "c3_oracle",
    "c4_leak",
    "c5_write",
    "c6_beside",
    "c7_killer",
    "c7_graded_only",
)


def class_students(assignment: str, course: Path) -> dict[str, dict[str, str]]:
    """student -> answers for issue 25's classes (see the constants above)."""
    answers = solution_answers(assignment)
    blank = {grade_id: STUB for grade_id in answers}

    def first(code: str, body: str | None = None) -> dict[str, str]:
        base = cheat_answers(answers, body) if body else dict(blank)
        return {**base, "part-a-answer": code + "\n" + base["part-a-answer"]}

    return {
        "c1_display": first(C1_DISPLAY, C1_BODY),
        "c2_tamper": first(C2_TAMPER),
        "c3_oracle": first(C3_ORACLE, C3_BODY),
        "c4_leak": first(C4_LEAK, C4_BODY),
        "c5_write": first(C5_WRITE.format(course=str(course))),
        "c6_beside": dict(blank),
        "c7_killer": first(C7_KILLER),
        "c7_graded_only": first(C7_GRADED_ONLY, C3_BODY),
        "c7_malformed": dict(answers),
        "zz_correct": dict(answers),
    }


def hostile_students(assignment: str) -> dict[str, dict[str, str]]:
    """student -> answers by grade_id.  Unless said otherwise a student answers every
    part correctly, with the trick put in front of part A's answer."""
    answers = solution_answers(assignment)
    part_a = answers["part-a-answer"]
    blank = {grade_id: STUB for grade_id in answers}
    part, wrong, patch = REFERENCE_PATCH[assignment]
    return {
        "correct": answers,
        "blank": blank,
        "infinite_loop": {**answers, "part-a-answer": "while True:\n    pass\n" + part_a},
        "sys_exit": {**answers, "part-a-answer": "import sys\nsys.exit()\n" + part_a},
        "os_exit": {**answers, "part-a-answer": "import os\nos._exit(1)\n" + part_a},
        "sigkill_kernel": {
            **answers,
            "part-a-answer": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n" + part_a,
        },
        "segfault_kernel": {**answers, "part-a-answer": "import ctypes\nctypes.string_at(0)\n" + part_a},
        # test cells deleted / replaced by `pass` (see _tamper_test_cell), part A left unanswered
        "deleted_test_cell": {**answers, "part-a-answer": STUB},
        "edited_test_cell": {**answers, "part-a-answer": STUB},
        "hidden_tracebacks": {
            **answers,
            "part-a-answer": "import sys\nsys.excepthook = lambda *a: None\n"
            "get_ipython().showtraceback = lambda *a, **k: None\n" + STUB,
        },
        # nothing answered; the first answer cell makes IPython replace every later cell by `pass`
        "cell_rewriter": {
            **blank,
            "part-a-answer": 'get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])\n',
        },
        # the same, at the AST stage, and by replacing the shell's own method
        "ast_rewriter": {**blank, "part-a-answer": AST_REWRITER},
        "shell_patch": {**blank, "part-a-answer": 'get_ipython().transform_cell = lambda raw_cell: "pass\\n"\n'},
        # every function returns an object whose comparisons lie, or a lying subclass of the promised type
        "lying_objects": cheat_answers(answers, "Liar()"),
        "lying_subclasses": cheat_answers(answers, "{lie}"),
        # lying subclasses, with check helpers patched to pass and `type`/`isinstance` shadowed
        "patched_helpers": cheat_answers(answers, "{lie}", prelude=PATCHED_HELPERS),
        "reference_patch": {**answers, f"{part}-answer": wrong + patch},
        "wrong_no_patch": {**answers, f"{part}-answer": wrong},
        # after part A's functions are defined, so that stopping the cell costs nothing else
        "huge_output": {**answers, "part-a-answer": part_a + f'\nprint("x" * {HUGE_OUTPUT_BYTES})\n'},
        "file_access": {**answers, "part-a-answer": FILE_ACCESS + part_a},
        # its functions kill their own kernel when a test calls them (one exercise is enough:
        # the sealed grader's handling of it does not depend on the exercise)
        **(
            {"dies_in_test": {**answers, "part-a-answer": part_a + DIES_IN_TEST}}
            if assignment == DIES_IN_TEST_EXERCISE
            else {}
        ),
    }


def _tamper_test_cell(path: Path, grade_id: str, *, delete: bool) -> None:
    nb = nbformat.read(path, as_version=4)
    [index] = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    if delete:
        del nb.cells[index]
    else:
        nb.cells[index].source = "pass"
    nbformat.write(nb, path)


def _duplicate_test_cell(path: Path, grade_id: str) -> None:
    nb = nbformat.read(path, as_version=4)
    [index] = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    copy = nbformat.from_dict(dict(nb.cells[index]))
    copy.id = f"copy-of-{grade_id}"
    nb.cells.insert(index + 1, copy)
    nbformat.write(nb, path)


def _outputs(course: Path, student: str, assignment: str) -> str:
    """All text the autograded notebook's cells printed or raised."""
    nb = nbformat.read(course / "autograded" / student / assignment / f"{assignment}.ipynb", as_version=4)
    texts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", "") + output.get("ename", "") + "".join(output.get("traceback", [])))
    return "\n".join(texts)


def _cell(course: Path, student: str, assignment: str, grade_id: str) -> nbformat.NotebookNode:
    """One cell of a student's autograded notebook."""
    nb = nbformat.read(course / "autograded" / student / assignment / f"{assignment}.ipynb", as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return cell


def _grade_class(assignment: str, root: Path) -> tuple[Path, dict[str, float], str]:
    """A course with every hostile student and a correct one, graded by ONE ``nbgrader autograde``
    and exported: the course, the scores, and autograde's log."""
    start = time.perf_counter()
    course = make_course(root / "course", assignment)
    shutil.copy(course / "nbgrader_config.py", root / "config.at_start")  # what c5_write must not change
    students = {**hostile_students(assignment), **class_students(assignment, course)}
    manual = [g for g, (_, by_hand) in grade_points(assignment).items() if by_hand]
    for student, answers in students.items():
        if student == "correct":  # a written answer too, for the grader to mark by hand
            answers = {**answers, **{g: "Nonce reuse leaks the XOR of the plaintexts." for g in manual}}
        path = submit(course, assignment, student, answers)
        if student in ("deleted_test_cell", "edited_test_cell"):
            _tamper_test_cell(path, "part-a-tests", delete=student == "deleted_test_cell")
        if student == "c6_beside":
            for name, text in BESIDE_FILES.items():
                (path.parent / name).parent.mkdir(parents=True, exist_ok=True)
                (path.parent / name).write_text(text)
        if student == "c7_malformed":
            _duplicate_test_cell(path, "part-a-tests")
    autograde = run_nbgrader(course, "autograde", assignment, "--force", cell_timeout=TIMEOUT, check=False)
    time.sleep(7)  # longer than c5_write's detached process waits before it writes
    run_nbgrader(course, "generate_feedback", assignment, "--force", check=False)
    run_nbgrader(course, "export", "--to", "grades.csv")
    record_timing(
        "nbgrader", f"{assignment}: autograde of {len(students)} hostile submissions", time.perf_counter() - start
    )
    return course, read_grades(course / "grades.csv"), autograde.stdout + autograde.stderr


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory):
    """Per exercise, graded once on first use and shared by the tests below."""
    cache: dict[str, tuple[Path, dict[str, float], str]] = {}

    def get(assignment: str) -> tuple[Path, dict[str, float], str]:
        if assignment not in cache:
            cache[assignment] = _grade_class(assignment, tmp_path_factory.mktemp(assignment))
        return cache[assignment]

    return get


@pytest.mark.parametrize("assignment", assignments())
def test_hostile_submissions_are_contained(assignment: str, graded) -> None:
    course, scores, log = graded(assignment)
    points = grade_points(assignment)
    full = sum(p for p, by_hand in points.values() if not by_hand)
    part_a = points["part-a-tests"][0]
    part, _, _ = REFERENCE_PATCH[assignment]
    patched_part = points[f"{part}-tests"][0]

    everyone = {**hostile_students(assignment), **class_students(assignment, course)}
    assert set(scores) == set(everyone), "every submission appears in the export"
    # The correct student, graded in the same run as every trick, keeps full marks.
    assert scores["correct"] == full

    # Tricks that cost the student only the part they sit in.
    for student in ("infinite_loop", "sys_exit", "deleted_test_cell", "edited_test_cell", "hidden_tracebacks"):
        assert scores[student] == full - part_a, student
    assert "CellTimeoutError" in _outputs(course, "infinite_loop", assignment)
    # The edited test cell was put back from the gradebook and really ran (and failed).
    assert "NotImplementedError" in _outputs(course, "edited_test_cell", assignment)
    # The deleted test cell is not put back: it is simply missing, and scores nothing.
    deleted = nbformat.read(
        course / "autograded" / "deleted_test_cell" / assignment / f"{assignment}.ipynb", as_version=4
    )
    assert "part-a-tests" not in {c.metadata.get("nbgrader", {}).get("grade_id") for c in deleted.cells}
    # Hidden tracebacks: the course's grader puts IPython's own showtraceback back before each
    # test, so the failing test shows a real traceback again.
    [error] = [
        o for o in _cell(course, "hidden_tracebacks", assignment, "part-a-tests").outputs if o.output_type == "error"
    ]
    assert error.ename == "NameError"
    assert len(error.traceback) > 1
    # The edited test cell is reported as changed; untouched test cells are not (no checksum noise).
    assert "Cell part-a-tests was changed by the student" in log
    assert log.count("was changed by the student") == 1, "only the edited cell is reported"
    assert "has changed!" not in log

    # A dead kernel fails the whole notebook: no autograded copy, score 0, and
    # `nbgrader autograde` names the student and exits with status 1 — after grading everyone else.
    # A kernel that dies in the middle of a test's call into it fails the same way, without
    # waiting out the cell's timeout in the grader (SealedExecute notices the dead kernel).
    dead = ["os_exit", "sigkill_kernel", "segfault_kernel"]
    if assignment == DIES_IN_TEST_EXERCISE:
        dead.append("dies_in_test")
    for student in dead:
        assert scores[student] == 0.0, student
        assert not (course / "autograded" / student / assignment / f"{assignment}.ipynb").exists()
        assert f"There was an error processing assignment '{assignment}' for student '{student}'" in log
    assert "Kernel died" in log

    # Answers that only pretend score nothing: nothing answered, or every answer a lie.
    for student in (
        "blank",
        "cell_rewriter",
        "ast_rewriter",
        "shell_patch",
        "lying_objects",
        "lying_subclasses",
        "patched_helpers",
    ):
        assert scores[student] == 0.0, student
    # Replacing the reference function a hidden test used to compare with gains nothing: the
    # tests compare with known answers in their own kernel, so the patched student scores as the
    # unpatched one, less what the patch breaks in their own code (ALSO_BROKEN).
    assert scores["wrong_no_patch"] == full - patched_part
    broken = sum(points[f"{p}-tests"][0] for p in ALSO_BROKEN.get(assignment, ()))
    assert scores["reference_patch"] == full - patched_part - broken

    # Reading and writing outside the submission: the sandboxed kernel (GuardedExecute.sandbox,
    # tests/test_sealed_grading.py) does not even find the course, so the answer cell fails.
    assert not (course / "gradebook_tamper").exists()
    assert "READ SOURCE NOTEBOOK, hidden tests inside: True" not in _outputs(course, "file_access", assignment)
    assert "StopIteration" in _outputs(course, "file_access", assignment)
    assert scores["file_access"] == full - part_a
    # What still gets through (documented in the guide, with mitigations):
    # huge output: graded normally, but the 50 MB line is kept whole (LimitOutput counts lines, not bytes).
    # Huge output: discarded past the course's bound while it arrives (toychat/output_bound.py), so
    # the autograded notebook stays small; the submission is flagged, and graded as usual.
    assert scores["huge_output"] == full
    huge = course / "autograded" / "huge_output" / assignment / f"{assignment}.ipynb"
    assert huge.stat().st_size < HUGE_OUTPUT_BYTES // 10
    assert "FLAGGED submission of huge_output" in log


@pytest.mark.parametrize("assignment", assignments())
def test_issue_25_classes_score_nothing_and_leak_nothing(assignment: str, graded) -> None:
    """Issue 25's seven classes, on this exercise, through the same autograde run: each scores 0
    (the malformed notebook is flagged and graded), a correct student graded after all of them
    keeps full marks, nothing reached the course, and no feedback holds a line of a hidden test,
    not even base64-encoded."""
    course, scores, log = graded(assignment)
    points = grade_points(assignment)
    full = sum(p for p, by_hand in points.values() if not by_hand)
    assert {student: scores[student] for student in CLASS_STUDENTS} == dict.fromkeys(CLASS_STUDENTS, 0.0)
    assert scores["zz_correct"] == full, "a correct student graded after every attack keeps full marks"
    assert scores["c7_malformed"] == full
    assert "FLAGGED submission of c7_malformed" in log
    assert "appears more than once" in log
    # Class 5: nothing written, not even by the detached process after autograde returned.
    assert not (course / "written_by_detached").exists()
    assert (course / "nbgrader_config.py").read_bytes() == (course.parent / "config.at_start").read_bytes()
    assert (course / "gradebook.db").read_bytes()[:16] == b"SQLite format 3\x00"
    # Class 4: what the kernel could loot holds no hidden test (nor does any feedback page).
    feedback = course / "feedback"
    for student in (*hostile_students(assignment), *class_students(assignment, course)):
        page = feedback / student / assignment / f"{assignment}.html"
        if not page.exists():  # the notebooks whose kernel died have no feedback
            assert scores[student] == 0.0, student
            continue
        text = with_decoded_blobs(page_text(page.read_text(encoding="utf-8")))
        submitted = (course / "submitted" / student / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8")
        leaked = [line for line in hidden_test_lines(assignment, exclude=submitted) if line in text]
        assert leaked == [], f"hidden-test lines in {student}'s feedback: {leaked}"
    assert "LOOT" in _outputs(course, "c4_leak", assignment), "the looting code ran (and found nothing)"


@pytest.mark.parametrize("assignment", assignments())
def test_reautograde_keeps_manual_grades(assignment: str, graded) -> None:
    course, before, _ = graded(assignment)
    points = grade_points(assignment)
    written = next(g for g, (_, by_hand) in points.items() if by_hand)  # the first written answer
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        grade = gb.find_grade(written, assignment, assignment, "correct")
        assert grade.needs_manual_grade, "a written answer waits for the grader"
        grade.manual_score = 2.5
        gb.db.commit()

    start = time.perf_counter()
    run_nbgrader(course, "autograde", assignment, "--force", "--student=correct", cell_timeout=TIMEOUT)
    record_timing("nbgrader", f"{assignment}: re-autograde one student with --force", time.perf_counter() - start)
    run_nbgrader(course, "export", "--to", "after.csv")
    after = read_grades(course / "after.csv")

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        grade = gb.find_grade(written, assignment, assignment, "correct")
        assert grade.manual_score == 2.5, "re-running autograde keeps the hand-given grade"
        assert grade.needs_manual_grade, "and flags it for review"
    assert after["correct"] == before["correct"] + 2.5
    assert {s: v for s, v in after.items() if s != "correct"} == {s: v for s, v in before.items() if s != "correct"}


#: Students whose code the guide's screening command must list; the others' tricks are
#: handled by nbgrader (tampered tests), the timeout (loop) or the size check (output).
SCREENED = {
    "sys_exit",
    "os_exit",
    "sigkill_kernel",
    "segfault_kernel",
    "hidden_tracebacks",
    "cell_rewriter",
    "ast_rewriter",
    "shell_patch",
    "patched_helpers",
    "reference_patch",
    "file_access",
    # issue 25's classes (c6_beside's files are not notebooks; c7_malformed is the model answer)
    "c1_display",
    "c2_tamper",
    "c3_oracle",
    "c4_leak",
    "c5_write",
    "c7_killer",
    "c7_graded_only",
}


@pytest.mark.parametrize("assignment", assignments())
def test_guide_screen_lists_the_tricks(assignment: str, graded) -> None:
    course, _, _ = graded(assignment)
    guide = (REPO / "docs" / "instructor_guide.md").read_text(encoding="utf-8")
    [command] = re.findall(r"<!-- screen -->\s*\n\s*```bash\n\s*(.*?)\n\s*```", guide, flags=re.S)
    result = subprocess.run(
        ["bash", "-c", command.replace("ex01_encryption", assignment)],
        cwd=course,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode in (0, 1), result.stderr
    listed = {Path(line).parts[1] for line in result.stdout.split()}
    assert listed == SCREENED | ({"dies_in_test"} if assignment == DIES_IN_TEST_EXERCISE else set())
