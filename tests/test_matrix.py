"""booktools.matrix: strict nbval under several arithmetic environments."""
import json

import pytest

from booktools import matrix


def test_every_environment_runs_one_thread_and_the_best_capability_is_added_once():
    for best, extra in (("avx512", ["avx512-compatible"]), ("avx2", []), ("default", [])):
        envs = matrix.environments(best)
        assert list(envs) == ["native", "avx2-auto", "avx2-compatible", "default-compatible", *extra]
        assert all(v["OMP_NUM_THREADS"] == "1" and v["MKL_NUM_THREADS"] == "1" for v in envs.values())
    envs = matrix.environments("avx512")
    assert envs["default-compatible"]["ATEN_CPU_CAPABILITY"] == "default"
    assert envs["avx512-compatible"] == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                                         "ATEN_CPU_CAPABILITY": "avx512", "MKL_CBWR": "COMPATIBLE"}
    assert "ATEN_CPU_CAPABILITY" not in envs["native"]


def test_failed_cells_reads_failures_and_errors_from_the_junit_report(tmp_path):
    report = tmp_path / "r.xml"
    report.write_text(
        '<testsuites><testsuite>'
        '<testcase classname="chapters.adam" file="chapters/adam.ipynb" name="chapters/adam.ipynb::Cell 3"/>'
        '<testcase classname="chapters.adam" file="chapters/adam.ipynb" name="chapters/adam.ipynb::Cell 10">'
        '<failure message="x"/></testcase>'
        '<testcase classname="chapters.rmsprop" file="chapters/rmsprop.ipynb" name="chapters/rmsprop.ipynb::Cell 2">'
        '<error message="y"/></testcase>'
        '</testsuite></testsuites>')
    assert matrix.failed_cells(report) == {"adam": ["10"], "rmsprop": ["2"]}
    text = matrix.table(["chapters/adam.ipynb", "chapters/nesterov.ipynb"],
                        {"native": {}, "avx2-auto": {"adam": ["10", "18"]}})
    assert text.splitlines() == ["chapter   native  avx2-auto", "adam      ok      code cells 10 18",
                                 "nesterov  ok      ok"]


def _notebook(path, cells):
    nb = {"cells": [], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                   "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    for i, (source, stored) in enumerate(cells):
        nb["cells"].append({"cell_type": "code", "execution_count": i + 1, "id": f"c{i}", "metadata": {},
                            "source": source, "outputs": [{"output_type": "stream", "name": "stdout",
                                                           "text": stored}]})
    path.write_text(json.dumps(nb))


def test_a_real_run_finds_the_cells_that_depend_on_the_environment(tmp_path):
    # The second cell prints what the environment sets, so it matches its stored output only
    # where MKL_CBWR=COMPATIBLE; the first prints the same everywhere.
    nb = tmp_path / "toy.ipynb"
    _notebook(nb, [("print(1 + 1)", "2\n"), ("import os\nprint(os.environ.get('MKL_CBWR'))", "COMPATIBLE\n")])
    envs = matrix.environments("avx2")
    assert matrix.run_environment([str(nb)], envs["avx2-compatible"], jobs=1) == {}
    assert matrix.run_environment([str(nb)], envs["native"], jobs=1) == {"toy": ["1"]}


def test_the_command_refuses_a_notebook_that_does_not_exist(capsys):
    with pytest.raises(SystemExit) as exit_info:
        matrix.main(["chapters/no_such_chapter.ipynb"])
    assert exit_info.value.code == 2
    assert "no such notebook: chapters/no_such_chapter.ipynb" in capsys.readouterr().err
