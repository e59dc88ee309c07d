"""The bytecode laid into a working copy is what the interpreter submissions run loads, and it never
changes what a program does: a source that does not compile, or that changed since, runs as before."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness.run import bytecode

# as the sandbox runs submissions: nothing written, so a cached file can only come from the harness
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1"}


def run(copy: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-v", "-c", code], cwd=copy, env=ENV, capture_output=True, text=True,
                          timeout=60, check=False)


def test_the_interpreter_loads_the_modules_of_a_copy_from_the_cached_files(tmp_path):
    copy = tmp_path / "copy"
    (copy / "pkg").mkdir(parents=True)
    (copy / "helper.py").write_text("VALUE = 6 * 7\n")
    (copy / "pkg" / "__init__.py").write_text("from helper import VALUE\n")
    assert bytecode.lay_into(copy) == 2
    done = run(copy, "import pkg; print(pkg.VALUE)")
    assert done.stdout == "42\n"
    for module in (copy / "helper.py", copy / "pkg" / "__init__.py"):
        cached = next((module.parent / "__pycache__").glob(f"{module.stem}.*.pyc"))
        assert f"code object from '{cached}'" in done.stderr  # loaded, not compiled again


def test_the_same_text_in_another_copy_gets_the_same_code(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for copy in (first, second):
        copy.mkdir()
        (copy / "helper.py").write_text("def answer():\n    return 42\n")
        bytecode.lay_into(copy)
    cached = [next((copy / "__pycache__").glob("helper.*.pyc")) for copy in (first, second)]
    # the code after the header, file name included: one compilation, laid twice
    assert cached[0].read_bytes()[16:] == cached[1].read_bytes()[16:]
    done = run(second, "import helper; print(helper.answer(), helper.answer.__code__.co_filename)")
    assert done.stdout == f"42 {second / 'helper.py'}\n"  # the interpreter names the file it loaded
    assert f"code object from '{cached[1]}'" in done.stderr


def test_a_source_that_does_not_compile_gets_no_file_and_its_own_error(tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "broken.py").write_text("def f(:\n")
    assert bytecode.lay_into(copy) == 0
    assert not (copy / "__pycache__").exists() or not any((copy / "__pycache__").iterdir())
    done = run(copy, "import broken")
    assert "SyntaxError" in done.stderr and "broken.py" in done.stderr


def test_a_source_changed_after_the_copy_was_laid_runs_as_changed(tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    source = copy / "helper.py"
    source.write_text("VALUE = 1\n")
    bytecode.lay_into(copy)
    source.write_text("VALUE = 22\n")  # another size: the cached file no longer matches it
    assert run(copy, "import helper; print(helper.VALUE)").stdout == "22\n"


def test_links_and_hidden_folders_are_left_alone(tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("X = 1\n")
    copy = tmp_path / "copy"
    (copy / ".hidden").mkdir(parents=True)
    (copy / ".hidden" / "secret.py").write_text("Y = 2\n")
    (copy / "link.py").symlink_to(outside)
    assert bytecode.lay_into(copy) == 0
    assert not (copy / "__pycache__").exists() and not (copy / ".hidden" / "__pycache__").exists()
    shutil.rmtree(copy)
