"""The promises the repository makes to its users: layout, pins and the two commands."""
import re
from pathlib import Path

import yaml

from codebase.course import toc_names

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text)


def test_layout_is_complete():
    for name in ["_config.yml", "_toc.yml", "chapters", "codebase", "tests", "requirements.txt",
                 "README.md", "LICENSE", "pyproject.toml", "references.bib", ".ci/run"]:
        assert (ROOT / name).exists(), f"{name} is missing from the repository root"


def test_readme_gives_exactly_two_commands_and_ci_runs_the_test_command():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    build, test = commands
    assert "jupyter-book build . -W -n --keep-going" in build
    assert "pytest tests chapters --nbval" in test
    ci_lines = [ln for ln in (ROOT / ".ci/run").read_text().splitlines()
                if ln and not ln.startswith("#") and not ln.startswith(("set ", "cd "))]
    assert test in ci_lines, ".ci/run must run the README's test command as written"
    if " -n " in test:  # pytest-xdist: a notebook's cells must run in order, in one kernel
        assert "--dist loadfile" in test, "with -n, keep each notebook on one worker: --dist loadfile"


def test_every_requirement_is_pinned_exactly():
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    packages = [ln for ln in lines if ln and not ln.startswith("#") and ln != "-e ."]
    assert packages, "requirements.txt lists no packages"
    unpinned = [ln for ln in packages if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", ln)]
    assert not unpinned, f"not pinned exactly: {unpinned}"
    assert "torch==2.13.0" in packages
    assert "-e ." in lines, "requirements.txt must install codebase itself"


def test_every_toc_entry_exists_and_every_chapter_is_in_the_toc():
    files = toc_names(ROOT)
    for f in files:
        assert any((ROOT / (f + ext)).exists() for ext in (".md", ".ipynb")), f"{f} is in _toc.yml but missing"
    pages = {p.relative_to(ROOT).with_suffix("").as_posix()
             for p in (ROOT / "chapters").glob("*") if p.suffix in {".md", ".ipynb"}}
    assert pages <= set(files), f"pages not in _toc.yml: {sorted(pages - set(files))}"


def test_import_codebase_is_light():
    import subprocess
    import sys

    code = "import sys, codebase; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"], "import codebase must not import torch or matplotlib"


def test_every_notebook_installs_codebase_when_opened_alone():
    """Colab opens one notebook without the repository: its first code cell installs codebase."""
    import json

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        first = next(c for c in cells if c["cell_type"] == "code")
        source = "".join(first["source"])
        assert 'importlib.util.find_spec("codebase") is None' in source, f"{path.name}: no install cell first"
        assert f"git+{url}" in source, f"{path.name}: the install cell must use the repository URL of _config.yml"
        assert "remove-cell" in first.get("metadata", {}).get("tags", []), f"{path.name}: hide the install cell"


def _imported_modules(sources):
    """Top-level names of the modules imported (absolutely) anywhere in these Python sources."""
    import ast

    names = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:  # a cell with IPython magics
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


# What a notebook opened alone (Colab, Binder, a fresh Jupyter) has once its install cell ran:
# the standard library, Jupyter's IPython, and codebase with the dependencies of pyproject.toml
# (matplotlib brings Pillow; matplotlib_inline comes with ipykernel).
_PACKAGE_MODULES = {"torch": "torch", "numpy": "numpy", "sklearn": "scikit-learn", "matplotlib": "matplotlib"}
_WITH_JUPYTER = {"IPython", "PIL", "matplotlib_inline"}
# Build and course tools: they run in the book's own environment (requirements.txt), not in a chapter.
_TOOL_MODULES = {"course.py", "sphinxext.py", "execution.py"}


def test_chapters_import_only_what_codebase_installs():
    """The Colab install cell installs codebase and its dependencies: nothing else may be imported."""
    import json
    import sys

    declared = _declared_dependencies()
    assert set(_PACKAGE_MODULES.values()) == declared, "update _PACKAGE_MODULES with pyproject.toml"
    allowed = set(sys.stdlib_module_names) | {"codebase"} | set(_PACKAGE_MODULES) | _WITH_JUPYTER
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        used = _imported_modules("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert used <= allowed, f"{path.name} imports {sorted(used - allowed)}, which Colab would lack"
    for path in sorted((ROOT / "codebase").rglob("*.py")):
        if path.name in _TOOL_MODULES:
            continue
        used = _imported_modules([path.read_text(encoding="utf-8")])
        assert used <= allowed, f"{path.relative_to(ROOT)} imports {sorted(used - allowed)}"


def _declared_dependencies():
    """The distribution names in pyproject.toml's [project] dependencies."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {re.split(r"[<>=!~ \[]", spec, maxsplit=1)[0] for spec in project["dependencies"]}


def test_binder_builds_the_environment_the_outputs_were_made_in():
    """Binder (repo2docker) reads .binder/: the Python of the book and the exact pins, with torch's CPU build."""
    import os
    import subprocess
    import sys

    runtime = (ROOT / ".binder" / "runtime.txt").read_text(encoding="utf-8").strip()
    assert runtime == f"python-{sys.version_info.major}.{sys.version_info.minor}", \
        f"{runtime}: Binder would run another Python than the one the stored outputs come from"
    post_build = ROOT / ".binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "repo2docker runs postBuild only when it is executable"
    subprocess.run(["bash", "-n", str(post_build)], check=True)  # it parses
    commands = [line for line in post_build.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    install = next(line for line in commands if "pip install" in line)
    assert "-r requirements.txt" in install and "download.pytorch.org/whl/cpu" in install
    # requirements.txt installs codebase itself, so a Binder kernel can import it
    assert (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()[-1].strip() == "-e ."
