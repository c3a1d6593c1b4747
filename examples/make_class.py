"""Regenerate the demo class in examples/class/ from the reference, the stubs
and the realistic bugs in tests/mutants (run after changing any of them).

    python examples/make_class.py
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from grader.assignment import course_exercises  # noqa: E402  (torch-free)

CLASS = ROOT / "examples" / "class"
MODULES = course_exercises(ROOT)


def module_sources(bugs: dict[str, str]) -> dict[str, str]:
    """The reference's modules, with some replaced by a named mutant."""
    out = {m: (ROOT / "solutions" / f"{m}.py").read_text() for m in MODULES}
    for module, mutant in bugs.items():
        out[module] = (ROOT / "tests" / "mutants" / module / f"{mutant}.py").read_text()
    return out


def folder(name: str, sources: dict[str, str]) -> None:
    (CLASS / name).mkdir(parents=True)
    for module, src in sources.items():
        (CLASS / name / f"{module}.py").write_text(src)


def notebook(path: Path, sources: dict[str, str], marker: bool = True) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# My PyTorch exercises"),
        nbformat.v4.new_code_cell("import torch\nfrom torch import nn"),
    ]
    for module, src in sources.items():
        if marker:
            nb.cells.append(nbformat.v4.new_code_cell(f"# exercise: {module}\n{src}"))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(src, metadata={"tags": [f"exercise:{module}"]}))
        nb.cells.append(nbformat.v4.new_code_cell("%time print('trying it out')"))
    nbformat.write(nb, str(path))


def main() -> None:
    shutil.rmtree(CLASS, ignore_errors=True)
    CLASS.mkdir(parents=True)
    # alice: the reference, full marks.
    folder("alice", module_sources({}))
    # bob: handed in the stubs untouched.
    folder("bob", {m: (ROOT / "exercises" / f"{m}.py").read_text() for m in MODULES})
    # carol: two classic bugs.
    folder("carol", module_sources({"conv": "wrong_no_plus_one", "losses": "wrong_ce_naive_log_softmax"}))
    # dave: one notebook with `# exercise:` lines, two bugs.
    notebook(CLASS / "dave.ipynb", module_sources({"pooling": "wrong_zero_padding", "training": "wrong_no_zero_grad"}))
    # erin: a zip of a folder of notebooks tagged per cell, two bugs.
    tmp = CLASS / "_erin"
    tmp.mkdir()
    for module, src in module_sources(
        {"activations": "wrong_relu_inplace_returns_copy", "sequential": "wrong_kernel3"}
    ).items():
        notebook(tmp / f"{module}.ipynb", {module: src}, marker=False)
    with zipfile.ZipFile(CLASS / "erin.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(tmp.iterdir()):
            zf.write(p, f"erin/{p.name}")
    shutil.rmtree(tmp)
    # frank: only did the first two lessons; data loader bug.
    folder(
        "frank",
        {m: s for m, s in module_sources({"data": "wrong_ignores_train"}).items() if m in ("tudui", "conv", "data")},
    )


if __name__ == "__main__":
    main()
