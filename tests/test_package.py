"""The installable package: one top-level name, no import cycles, rooms that import only
downward, and a plain install (no extras) that works beside PyPA ``build`` without TensorFlow.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import pkgutil
import subprocess
import sys
import venv
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest
from suite_pip import pip_install

import edgebench

ROOT = Path(__file__).resolve().parents[1]  # the source tree the wheel is built from
FIX = Path(__file__).parent / "fixtures"

#: Which room may import which. "front" is the package root's API, CLI and entry points;
#: "kernel" is the shared vocabulary (records, errors, files). The bench stage's device side is
#: two rooms: "bench.runner", the package that ships to devices (it imports nothing of the
#: package but itself), and "bench.device", the host's half of its formats (the runner and the
#: kernel only). build may import only the device side of bench. No circles.
ALLOWED = {
    "kernel": {"kernel"},
    "models": {"kernel"},
    "deploy": {"kernel"},
    "bench.runner": set(),
    "bench.device": {"kernel", "bench.runner"},
    "bench": {"kernel", "deploy", "bench.device", "bench.runner"},
    "build": {"kernel", "models", "bench.device", "bench.runner"},
    "front": {"kernel", "models", "deploy", "bench", "build", "bench.device", "bench.runner",
              "front"},
}
ROOMS = ("build", "bench", "deploy", "models")
FRONT = {"edgebench", "edgebench.api", "edgebench.cli", "edgebench.__main__", "edgebench.settings",
         "edgebench.reference"}
#: Subpackages of src/edgebench itself: the records by kind, and the subcommands (front).
KERNEL_PACKAGES = ("edgebench.records", "edgebench.commands")
RUNNER = "edgebench.bench.device.runner"  # the package that ships to devices
#: The bench stage's sub-rooms, lowest first: each imports only itself and those before it.
BENCH_ORDER = ("device", "judgement", "orchestration", "outputs")


def package_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name, with its source file."""
    found = {"edgebench": Path(edgebench.__file__)}
    for info in pkgutil.iter_modules([str(Path(edgebench.__file__).parent)], "edgebench."):
        if not info.ispkg:
            found[info.name] = Path(edgebench.__file__).parent / f"{info.name.split('.')[1]}.py"
    for package_name in KERNEL_PACKAGES:  # the package's own subpackages (not the rooms)
        package = importlib.import_module(package_name)
        found[package_name] = Path(package.__file__)
        for info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            found[info.name] = Path(importlib.util.find_spec(info.name).origin)
    for room in ROOMS:
        package = importlib.import_module(f"edgebench.{room}")
        if package.__file__ is not None:  # build/ is a namespace package: no __init__.py
            found[package.__name__] = Path(package.__file__)
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            spec = importlib.util.find_spec(info.name)
            if spec is not None and spec.origin and spec.origin.endswith(".py"):
                found[info.name] = Path(spec.origin)
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``name`` imports anywhere in its file (function bodies too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        out |= {t for t in targets if t in known and t != name}
    return out


def room_of(module: str) -> str:
    parts = module.split(".")
    if module in FRONT or (len(parts) == 2 and parts[1] == "pytest_plugin") or (
        parts[:2] == ["edgebench", "commands"]
    ):
        return "front"
    if module == RUNNER or module.startswith(f"{RUNNER}."):
        return "bench.runner"
    if bench_sub_room(module) == "device":
        return "bench.device"
    if len(parts) >= 2 and parts[1] in ROOMS:
        return parts[1]
    return "kernel"


def bench_sub_room(module: str) -> str | None:
    """``device``, ``judgement``, ``orchestration`` or ``outputs`` for a module of the bench
    stage's sub-rooms, else None."""
    parts = module.split(".")
    if parts[:2] != ["edgebench", "bench"] or len(parts) < 3:
        return None
    return parts[2] if parts[2] in BENCH_ORDER else None


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_package_has_every_room() -> None:
    modules = package_modules()
    for room in ROOMS:
        assert any(m.startswith(f"edgebench.{room}.") for m in modules), sorted(modules)
    assert len(modules) > 40  # the walk really found the package, not a stub


def test_no_import_cycles_between_modules() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_rooms_import_only_downward() -> None:
    wrong = defaultdict(list)
    for module, targets in import_graph().items():
        here = room_of(module)
        for t in targets:
            there = room_of(t)
            if there != here and there not in ALLOWED[here]:
                wrong[f"{here} -> {there}"].append(f"{module} imports {t}")
    assert not wrong, dict(wrong)


def test_the_runner_imports_nothing_of_the_package() -> None:
    """What ships to devices imports nothing of edgebench but its own modules."""
    graph = import_graph()
    shipped = {m for m in graph if room_of(m) == "bench.runner"}
    assert f"{RUNNER}.cli" in shipped and len(shipped) > 5  # the walk found the runner's modules
    for module in shipped:
        assert graph[module] <= shipped, (module, graph[module] - shipped)


def test_bench_sub_rooms_import_only_downward() -> None:
    """device <- judgement <- orchestration <- outputs: a sub-room never imports a later one."""
    wrong = []
    for module, targets in import_graph().items():
        here = bench_sub_room(module)
        for t in targets:
            there = bench_sub_room(t)
            if here and there and BENCH_ORDER.index(there) > BENCH_ORDER.index(here):
                wrong.append(f"{module} imports {t}")
    assert not wrong, wrong


# --------------------------------------------------------------------------- the checkout


def test_the_checkout_links_each_room_into_the_package() -> None:
    """src/edgebench/<room> is a relative symlink to the top-level room: the file system, not an
    import hook, puts the rooms inside the package (what type checkers and IDEs follow)."""
    for room in ROOMS:
        link = ROOT / "src" / "edgebench" / room
        assert link.is_symlink(), f"{link} is not a symlink"
        assert os.readlink(link) == f"../../{room}"
        assert link.resolve() == (ROOT / room).resolve()


def test_a_checkout_resolves_every_module_without_an_import_hook(tmp_path: Path) -> None:
    """With only src/ on the path, every module of the package imports from the checkout and
    no finder but Python's own is on sys.meta_path."""
    names = sorted(n for n in package_modules() if not n.endswith("__main__"))
    code = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(ROOT / 'src')!r})\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "import edgebench\n"
        "print(edgebench.__file__)\n"
        "print(sorted({type(f).__module__ for f in sys.meta_path}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    where, finders = proc.stdout.splitlines()[-2:]
    assert Path(where) == ROOT / "src" / "edgebench" / "__init__.py"
    # Python's own finders only (importlib's frozen/builtin/path finders, and setuptools'
    # distutils shim where a venv has one): nothing of edgebench's.
    assert "edgebench" not in finders, finders


@pytest.mark.slow
def test_an_editable_install_adds_no_top_level_name_but_edgebench(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``pip install -e .`` puts src/ on the path, and nothing else of the checkout."""
    root = tmp_path_factory.mktemp("editable-venv")
    venv.EnvBuilder(with_pip=True).create(root)
    python = str(root / "bin" / "python")
    pip_install(python, "hatchling", device=False)
    pip_install(python, "--no-deps", "--no-build-isolation", "-e", str(ROOT), device=False)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    for name in ("bench", "build", "deploy", "models", "tests"):
        proc = in_venv(root, python, "-c", f"import {name}", cwd=elsewhere)
        assert proc.returncode == 1, (name, proc.stdout, proc.stderr)
        assert f"ModuleNotFoundError: No module named '{name}'" in proc.stderr
    found = in_venv(root, python, "-c", "import importlib.util as u; "
                    "print(*u.find_spec('edgebench').submodule_search_locations)", cwd=elsewhere)
    package = Path(found.stdout.strip())
    assert package == ROOT / "src" / "edgebench", found.stderr
    assert (package / "bench" / "device" / "runner" / "cli.py").is_file()


# --------------------------------------------------------------------------- the wheel


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this source tree, built with PyPA build as a user's CI would."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,  # where contributors run it
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (path,) = out.glob("edgebench-*.whl")
    return path


@pytest.mark.slow
def test_the_wheel_installs_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"edgebench", f"edgebench-{edgebench.__version__}.dist-info"}, top
    for must in ("edgebench/bench/device/runner/cli.py", "edgebench/models/pipeline.toml",
                 "edgebench/models/budgets.toml", "edgebench/models/sweep.toml",
                 "edgebench/build/pipeline.py", "edgebench/deploy/ssh.py", "edgebench/cli.py",
                 "edgebench/pytest_plugin.py", "edgebench/bench/judgement/evidence.py"):
        assert must in names
    assert not any(n.startswith(("edgebench/tests", "tests/")) for n in names)
    entry_points = zipfile.ZipFile(wheel).read(
        f"edgebench-{edgebench.__version__}.dist-info/entry_points.txt"
    ).decode()
    assert "edgebench = edgebench.cli:main" in entry_points
    assert "[pytest11]\nedgebench = edgebench.pytest_plugin" in entry_points


@pytest.fixture(scope="session")
def plain_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with PyPA build and edgebench's wheel, no extras: no TensorFlow."""
    root = tmp_path_factory.mktemp("plain-venv")
    venv.EnvBuilder(with_pip=True).create(root)
    python = str(root / "bin" / "python")
    # A host-side venv: the tested set (tox's constraints) applies.
    pip_install(python, "build", str(wheel), device=False)
    return root


def in_venv(root: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=300, cwd=cwd,
                          env=env)


@pytest.mark.slow
def test_a_plain_install_works_beside_pypa_build(plain_venv: Path, tmp_path: Path) -> None:
    python = str(plain_venv / "bin" / "python")
    built = in_venv(plain_venv, python, "-m", "build", "--version", cwd=tmp_path)
    assert built.returncode == 0 and built.stdout.startswith("build "), built.stderr
    version = in_venv(plain_venv, "edgebench", "--version", cwd=tmp_path)
    assert version.stdout.strip() == f"edgebench {edgebench.__version__}", version.stderr
    no_tf = in_venv(plain_venv, python, "-c",
                    "import importlib.util as u; print(u.find_spec('tensorflow'))", cwd=tmp_path)
    assert no_tf.stdout.strip() == "None"
    benched = in_venv(plain_venv, "edgebench", "bench", str(FIX / "tiny_float32.tflite"),
                      "--runs", "5", "--repeats", "1", "--out", "out", cwd=tmp_path)
    assert benched.returncode == 0, benched.stderr
    assert "tiny_float32" in benched.stdout and " ok" in benched.stdout
    assert (tmp_path / "out" / "history.sqlite").is_file()
    # pytest-benchmark's format needs pytest-benchmark: one line that names the install,
    # before anything is benched
    export = in_venv(plain_venv, "edgebench", "bench", str(FIX / "tiny_float32.tflite"),
                     "--no-history", "--out", "out2", "--pytest-benchmark-json", "pb.json",
                     cwd=tmp_path)
    assert export.returncode == 2 and "Traceback" not in export.stderr, export.stderr
    assert "pip install pytest-benchmark (or edgebench[pytest])" in export.stderr
    assert not (tmp_path / "out2").exists()


@pytest.mark.slow
def test_a_users_own_build_and_models_packages_do_not_shadow_ours(
    plain_venv: Path, tmp_path: Path
) -> None:
    for name in ("build", "models", "bench", "deploy"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('the user\\'s {name}')\n")
    python = str(plain_venv / "bin" / "python")
    for argv in (["edgebench"], [python, "-m", "edgebench"]):
        proc = in_venv(plain_venv, *argv, "bench", str(FIX / "tiny_int8.tflite"), "--runs", "3",
                       "--repeats", "1",
                       "--out", "out", "--no-history", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    built = in_venv(plain_venv, python, "-m", "build", "--version", cwd=tmp_path / "out")
    assert built.returncode == 0, built.stderr  # PyPA build is still PyPA build
