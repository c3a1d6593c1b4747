"""`grader audit`: evidence that an assignment's suites judge fairly.

Why: a test that cannot fail, or a point that do-nothing code collects, is
invisible in a class's grades; so is a correct variant that loses points.
The audit grades, in one batch, submissions whose right score is known:

- the reference (every point), the stubs and a submission without any
  module (no point);
- for every function the stubs leave to the student, the reference with
  that one function still a stub, and with it written as each kind of junk
  (return the input, None, zero, an empty container, a constant tensor or
  list): junk may not score more than the stub in that module. Where the
  reference's other functions call it (``max_pool2d`` calls
  ``pool2d_output_size``), they call a private copy of the reference's
  instead, in both variants: otherwise the stub's NotImplementedError would
  take the callers' points too, and a correct caller's points would count
  as points the junk earned;
- the assignment's mutants (``tests/mutants/<module>/``): a ``wrong_`` one
  loses points in its own module and no other, a ``right_`` one gets every
  point, a ``junk_`` one scores no more than the stubs in its module.
"""

from __future__ import annotations

import ast
import csv
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

from .assignment import Assignment, course_exercises

# What junk a function body becomes; ``{arg}`` is its first parameter.
JUNK = {
    "returns_input": "return {arg}",
    "returns_none": "return None",
    "returns_zero": "return 0",
    "returns_zero_float": "return 0.0",
    "returns_empty_list": "return []",
    "returns_constant_tensor": "import torch\nreturn torch.zeros(1)",
    "returns_constant_list": "return [0.0, 0.0, 0.0]",
}
STUB_BODY = "raise NotImplementedError"


@dataclass(frozen=True)
class Expectation:
    """What a variant must score: ``rule`` is full, zero, at_most (no more
    than ``than`` in ``module``), or loses (less than full in ``module``,
    full everywhere else)."""

    rule: str
    module: str | None = None
    than: str | None = None

    def describe(self) -> str:
        if self.rule == "at_most":
            return f"<= {self.than} in {self.module}"
        if self.rule == "loses":
            return f"loses in {self.module} only"
        return self.rule


@dataclass(frozen=True)
class Variant:
    name: str
    modules: dict[str, str]  # module name -> source
    expect: Expectation


@dataclass
class Row:
    variant: str
    module: str
    expected: str
    got: str
    holds: bool


def stub_functions(stub_source: str) -> list[str]:
    """The functions and methods (``Class.method``) a stub leaves to the
    student: those whose body raises NotImplementedError."""
    names = []
    for node, qualname in _functions(ast.parse(stub_source)):
        if any(isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n) for n in ast.walk(node)):
            names.append(qualname)
    return names


def _functions(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node, node.name
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield item, f"{node.name}.{item.name}"


def replace_body(source: str, qualname: str, body: str) -> str:
    """``source`` with the body of ``qualname`` (its docstring kept) replaced."""
    for node, name in _functions(ast.parse(source)):
        if name != qualname:
            continue
        stmts = node.body
        if (
            len(stmts) > 1
            and isinstance(stmts[0], ast.Expr)
            and isinstance(stmts[0].value, ast.Constant)
            and isinstance(stmts[0].value.value, str)
        ):
            stmts = stmts[1:]
        lines = source.splitlines(keepends=True)
        indent = " " * stmts[0].col_offset
        args = [a.arg for a in node.args.args if a.arg not in ("self", "cls")]
        text = body.format(arg=args[0] if args else "None")
        new = "".join(f"{indent}{line}\n" for line in text.splitlines())
        return "".join(lines[: stmts[0].lineno - 1]) + new + "".join(lines[stmts[-1].end_lineno :])
    raise KeyError(f"no function {qualname} in the source")


def insulate(source: str, qualname: str) -> str:
    """``source`` whose other code calls a private copy of the module-level function
    ``qualname`` (``_reference_<name>``), so that replacing ``qualname``'s body changes
    ``qualname`` alone.  Methods, and functions nothing else names, are left as they are."""
    tree = ast.parse(source)
    target = next(
        (n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == qualname), None
    )
    if target is None:
        return source
    inside = {id(n) for n in ast.walk(target)}
    uses = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and n.id == qualname and isinstance(n.ctx, ast.Load) and id(n) not in inside
    ]
    if not uses:
        return source
    alias = f"_reference_{qualname}"
    lines = [line.encode() for line in source.splitlines(keepends=True)]
    for n in sorted(uses, key=lambda n: (n.lineno, n.col_offset), reverse=True):
        line = lines[n.lineno - 1]
        lines[n.lineno - 1] = line[: n.col_offset] + alias.encode() + line[n.end_col_offset :]
    first = min([target.lineno] + [d.lineno for d in target.decorator_list])
    copy = b"".join(lines[first - 1 : target.end_lineno]).decode()
    copy = copy.replace(f"def {qualname}(", f"def {alias}(", 1)
    return b"".join(lines).decode().rstrip("\n") + "\n\n\n" + copy.rstrip("\n") + "\n"


def junk_bodies(qualname: str) -> dict[str, str]:
    """The junk a function is tried as (``__init__``: only doing nothing)."""
    if qualname.endswith(".__init__"):
        return {"does_nothing": "super().__init__()"}
    return JUNK


def variants(root: Path) -> list[Variant]:
    exercises = course_exercises(root)
    reference = {m: (root / "solutions" / f"{m}.py").read_text() for m in exercises}
    stubs = {m: (root / "exercises" / f"{m}.py").read_text() for m in exercises}
    out = [
        Variant("reference", reference, Expectation("full")),
        Variant("stubs", stubs, Expectation("zero")),
        Variant("empty", {}, Expectation("zero")),
    ]
    for module in exercises:
        for fn in stub_functions(stubs[module]):
            stub_name = f"{module}.{fn}.stub"
            base = insulate(reference[module], fn)
            out.append(
                Variant(
                    stub_name,
                    {**reference, module: replace_body(base, fn, STUB_BODY)},
                    Expectation("baseline", module),
                )
            )
            for kind, body in junk_bodies(fn).items():
                out.append(
                    Variant(
                        f"{module}.{fn}.{kind}",
                        {**reference, module: replace_body(base, fn, body)},
                        Expectation("at_most", module, stub_name),
                    )
                )
    out += _mutants(root, exercises, reference)
    return out


def _mutants(root: Path, exercises: list[str], reference: dict[str, str]) -> list[Variant]:
    out = []
    for module in exercises:
        for path in sorted((root / "tests" / "mutants" / module).glob("*.py")):
            kind = path.stem.split("_", 1)[0]
            expect = {
                "wrong": Expectation("loses", module),
                "right": Expectation("full"),
                "junk": Expectation("at_most", module, "stubs"),
            }.get(kind)
            if expect is not None:
                out.append(Variant(f"{module}.{path.stem}", {**reference, module: path.read_text()}, expect))
    return out


def judge(variants_: list[Variant], scores: dict[str, dict[str, tuple[float, float]]]) -> list[Row]:
    """One row per (variant, module it is judged on): what was expected, what it got."""
    rows = []
    for v in variants_:
        got = scores[v.name]
        e = v.expect
        if e.rule in ("full", "zero"):
            for module, (score, top) in got.items():
                want = top if e.rule == "full" else 0.0
                rows.append(Row(v.name, module, e.describe(), f"{score:g}/{top:g}", score == want))
        elif e.rule == "at_most":
            assert e.module is not None and e.than is not None, "an at_most expectation names both"
            score, top = got[e.module]
            bound = scores[e.than][e.module][0]
            rows.append(Row(v.name, e.module, f"<= {bound:g} ({e.than})", f"{score:g}/{top:g}", score <= bound))
        elif e.rule == "loses":
            for module, (score, top) in got.items():
                ok = score < top if module == e.module else score == top
                rows.append(Row(v.name, module, "< full" if module == e.module else "full", f"{score:g}/{top:g}", ok))
    return rows


def render_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["variant", "module", "expected", "got", "verdict"])
    for r in rows:
        w.writerow([r.variant, r.module, r.expected, r.got, "ok" if r.holds else "WRONG"])
    return buf.getvalue()


def run_audit(assignment_dir: str | None, out: Path, jobs: int) -> list[Row]:
    """Grade every variant in one batch (as `grader run` would) and judge them.

    The variants are written to ``out/submissions/<variant>`` and kept there,
    so that any one of them can be graded again by hand; the grading goes to
    ``out/grading``."""
    from .batch import BatchOptions, run_batch

    root = Assignment.locate(assignment_dir).root
    all_variants = variants(root)
    folders = out / "submissions"
    shutil.rmtree(folders, ignore_errors=True)
    subs = []
    for v in all_variants:
        folder = folders / v.name
        folder.mkdir(parents=True)
        for module, source in v.modules.items():
            (folder / f"{module}.py").write_text(source)
        subs.append(str(folder))
    outcome = run_batch(BatchOptions(subs, out / "grading", jobs=jobs, assignment=str(root), resume=False))
    scores = {r.name: r.exercise_scores() for r in outcome.results}
    return judge(all_variants, scores)
