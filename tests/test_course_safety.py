"""The course commands never delete what they did not make, never call nothing "fine", and
report a user's mistake in one line with exit status 2, before writing anything."""
import pytest

from booktools.course import build_edition, load_pack
from booktools.course.__main__ import main
from booktools.course.pages import MARKER, prepare_output


def test_an_existing_folder_that_the_tool_did_not_make_is_never_deleted(tmp_path, capsys):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="was not made by this tool"):
        build_edition("student", out=out, build=False)
    assert main(["student-edition", "--out", str(out), "--no-build"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--force" in err and len(err.splitlines()) == 1
    assert (out / "chapter1.tex").read_text() == "years of work"


def test_a_folder_the_tool_made_is_replaced_and_force_replaces_anything(tmp_path):
    out = tmp_path / "site"
    prepare_output(out)
    (out / "old.html").write_text("stale")
    prepare_output(out)
    assert sorted(p.name for p in out.iterdir()) == [MARKER]
    other = tmp_path / "other"
    other.mkdir()
    (other / "x").write_text("x")
    prepare_output(other, force=True)
    assert not (other / "x").exists()
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with pytest.raises(FileExistsError, match="not a folder"):
        prepare_output(plain, force=True)
    assert plain.read_text() == "x"


@pytest.mark.parametrize("make", ["missing", "empty", "file", "no-html"])
def test_audit_of_nothing_fails_with_status_2(tmp_path, capsys, make):
    site = tmp_path / "site"
    if make == "empty":
        site.mkdir()
    elif make == "file":
        site.write_text("not a site")
    elif make == "no-html":
        site.mkdir()
        (site / "notes.txt").write_text("hello")
    assert main(["audit", str(site)]) == 2
    assert "no solution found" not in capsys.readouterr().out


def test_export_assignment_checks_its_arguments_before_writing(tmp_path, capsys):
    out = tmp_path / "course"
    assert main(["export-assignment", "no-such-exercise", "--name", "week1", "--out", str(out)]) == 2
    assert "no-such-exercise" in capsys.readouterr().err
    assert not out.exists()
    assert main(["export-assignment", "adam-ex-implement", "--name", "week 1", "--out", str(out)]) == 2
    assert not out.exists()
    assert main(["export-assignment", "adam-ex-implement", "--name", "week1", "--out", str(out),
                 "--solutions", str(tmp_path / "missing.py")]) == 2
    assert not out.exists()


def test_a_solutions_file_with_a_syntax_error_is_reported_with_its_name_and_line(tmp_path, capsys):
    solutions = tmp_path / "mine.py"
    solutions.write_text("def adam_step(:\n    pass\n")
    out = tmp_path / "course"
    assert main(["export-assignment", "adam-ex-implement", "--name", "week1", "--out", str(out),
                 "--solutions", str(solutions)]) == 2
    err = capsys.readouterr().err
    assert f"{solutions}:1:" in err and "<unknown>" not in err
    assert not out.exists()


@pytest.mark.parametrize("body, pattern", [
    ("title: T\nweeks: ['x']\n", "week 1 must be a mapping"),
    ("title: T\nweeks:\n  - week: W\n    chapters: [{}]\n", "each chapter must be a mapping with 'chapter'"),
    ("title: T\nweeks:\n  - week: W\n    chapters: [{chapter: adam, exercises: 3}]\n", "'exercises' must be a list"),
    ("title: T\nweeks: []\n", "'weeks' must be a non-empty list"),
    ("weeks: []\n", "needs 'title' and 'weeks'"),
])
def test_a_malformed_pack_is_refused_with_a_message(tmp_path, body, pattern):
    pack = tmp_path / "pack.yml"
    pack.write_text(body)
    with pytest.raises(ValueError, match=pattern):
        load_pack(pack)


def test_a_missing_pack_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["student-edition", "--pack", str(tmp_path / "nope.yml"), "--no-build"]) == 2
    assert "no such course pack" in capsys.readouterr().err
