"""The promises the repository makes to its users: layout, pins and the two commands."""
import re
from pathlib import Path

import yaml

from booktools.course.pages import toc_names

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
    packages = [ln for ln in lines if ln and not ln.startswith("#") and not ln.startswith("-e ")]
    assert packages, "requirements.txt lists no packages"
    unpinned = [ln for ln in packages if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", ln)]
    assert not unpinned, f"not pinned exactly: {unpinned}"
    assert "torch==2.13.0" in packages
    assert "-e .[book]" in lines, "requirements.txt must install codebase and booktools (the [book] extra) itself"


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
        used = _imported_modules([path.read_text(encoding="utf-8")])
        assert used <= allowed, f"{path.relative_to(ROOT)} imports {sorted(used - allowed)}"


def _declared_dependencies(extra: str | None = None):
    """The distribution names in pyproject.toml's [project] dependencies (or those of an extra)."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return {re.split(r"[<>=!~ \[]", spec, maxsplit=1)[0] for spec in specs}


# The modules booktools imports, by the distribution of pyproject.toml's [book] extra that brings them.
_BOOK_MODULES = {"sphinx": "sphinx", "docutils": "docutils", "myst_nb": "myst-nb", "jupyter_cache": "jupyter-cache",
                 "nbformat": "nbformat", "yaml": "PyYAML", "pybtex": "pybtex", "mathjax": "django-static-mathjax",
                 "nbgrader": "nbgrader", "pytest": "pytest", "xdist": "pytest-xdist", "nbval": "nbval",
                 "jupyter_book": "jupyter-book"}


def test_booktools_imports_only_what_its_extra_declares():
    import sys

    declared = _declared_dependencies("book")
    assert set(_BOOK_MODULES.values()) == declared, "update _BOOK_MODULES with pyproject.toml's [book] extra"
    allowed = set(sys.stdlib_module_names) | {"codebase", "booktools"} | set(_PACKAGE_MODULES) | set(_BOOK_MODULES)
    for path in sorted((ROOT / "booktools").rglob("*.py")):
        used = _imported_modules([path.read_text(encoding="utf-8")])
        assert used <= allowed, f"{path.relative_to(ROOT)} imports {sorted(used - allowed)}"


def test_import_codebase_loads_none_of_the_book_machinery():
    """A student's codebase (Colab installs only it) must not need the build and course tools."""
    import subprocess
    import sys

    code = ("import sys, codebase\n"
            "for name in codebase.__all__: getattr(codebase, name)\n"
            "heavy = ('sphinx', 'nbformat', 'jupyter_cache', 'yaml', 'nbgrader', 'pybtex', 'booktools', 'myst_nb')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"importing every codebase module loads {out.strip()}"


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
    assert (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()[-1].strip() == "-e .[book]"


# A glued float with more digits than this carries the last bits of one machine's arithmetic.
_GLUE_DIGITS = 6
_FLOAT = re.compile(r"^(?:np\.float(?:16|32|64)\()?(-?\d+\.?\d*(?:e[-+]?\d+)?)\)?$")


def _significant_digits(text: str) -> int:
    mantissa = text.lower().split("e")[0].lstrip("-").replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) if mantissa else 0


def test_no_glued_float_carries_float_noise():
    """codebase.glue(..., digits=n) rounds a float before it reaches the page; nothing is glued raw."""
    import json

    noisy = []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            for output in cell.get("outputs", []):
                scrapbook = output.get("metadata", {}).get("scrapbook")
                if not scrapbook:
                    continue
                text = output["data"].get(scrapbook["mime_prefix"] + "text/plain", "")
                match = _FLOAT.match(text.strip())
                if match and "." in text and _significant_digits(match.group(1)) > _GLUE_DIGITS:
                    noisy.append(f"{path.stem} cell {index}: {scrapbook['name']} = {text}")
    assert not noisy, "glue these with digits=n:\n" + "\n".join(noisy)


def test_the_digit_counter_counts_significant_digits():
    assert [_significant_digits(t) for t in ("0.05815805122256279", "0.0582", "1200.0", "3.87e+32", "0")] == \
        [16, 3, 2, 3, 0]


def test_no_docstring_holds_a_control_character():
    """A lone backslash in a docstring ("\\alpha" written as "\alpha") turns into a control
    character (here BEL) that breaks the API page's math."""
    import importlib
    import inspect
    import pkgutil

    import codebase

    bad = []
    for info in pkgutil.walk_packages(codebase.__path__, "codebase."):
        module = importlib.import_module(info.name)
        objects = [module] + [o for o in vars(module).values() if inspect.isfunction(o) or inspect.isclass(o)]
        for obj in objects:
            docs = [obj.__doc__ or ""]
            if inspect.isclass(obj):
                docs += [getattr(v, "__doc__", None) or "" for v in vars(obj).values()
                         if callable(v) or isinstance(v, property)]
            if any(ord(c) < 32 and c not in "\n\t" for d in docs for c in d):
                bad.append(f"{info.name}.{getattr(obj, '__name__', '?')}")
    assert not bad, f"docstrings with control characters (use \\\\ or a raw string): {sorted(set(bad))}"
