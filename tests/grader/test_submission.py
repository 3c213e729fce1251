"""What a submission is: the layouts students hand in, taken or refused with words that say why."""

import io
import zipfile

import pytest

from grader.errors import SubmissionError
from grader.submission import load_submission

GOOD = b"def conv_backward(x, w, dy):\n    return x, w\n"


def _zip(path, *entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())
    return path


def test_backprop_one_level_down_is_taken_and_the_report_says_where(tmp_path):
    (tmp_path / "my_pa5").mkdir()
    (tmp_path / "my_pa5" / "backprop.py").write_bytes(GOOD)
    (tmp_path / "my_pa5" / "helpers.py").write_bytes(b"x = 1\n")
    (tmp_path / "notes.txt").write_text("mine\n")
    sub = load_submission(tmp_path)
    assert [rel for rel, _ in sub.files] == ["backprop.py", "helpers.py"]
    assert sub.notes == ("backprop.py was found one level down, in my_pa5/, and that folder was graded; "
                         "1 file(s) outside it were ignored",)  # fmt: skip


def test_a_zip_of_a_folder_is_that_folder(tmp_path):
    (tmp_path / "my_pa5").mkdir()
    (tmp_path / "my_pa5" / "backprop.py").write_bytes(GOOD)
    z = _zip(tmp_path / "my_pa5.zip", ("my_pa5/backprop.py", GOOD), ("__MACOSX/my_pa5/._backprop.py", b"\0"))
    assert load_submission(z).sha256 == load_submission(tmp_path / "my_pa5").sha256
    assert load_submission(z).notes == ()


@pytest.mark.parametrize(
    "entries,words",
    [
        ((("a/backprop.py", GOOD), ("b/backprop.py", GOOD)), "more than one below it (a/backprop.py, b/backprop.py)"),
        ((("a/b/backprop.py", GOOD), ("x.py", GOOD)), "the one in a/b/backprop.py lies deeper"),
        ((("solution.py", GOOD),), "(found: solution.py)"),
        ((("../evil.py", GOOD), ("backprop.py", GOOD)), "a path outside its folder"),
        ((("/etc/x", GOOD), ("backprop.py", GOOD)), "a path outside its folder"),
    ],
)
def test_layouts_that_are_not_a_submission_are_refused_with_the_reason(tmp_path, entries, words):
    with pytest.raises(SubmissionError) as e:
        load_submission(_zip(tmp_path / "s.zip", *entries))
    assert words in str(e.value)


def test_a_notebook_is_its_code_cells_and_an_unreadable_one_says_how_to_export_it(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("!pip install torch\n" + GOOD.decode())])
    (tmp_path / "pa5.ipynb").write_text(nbformat.writes(nb))
    sub = load_submission(tmp_path / "pa5.ipynb")
    source = dict(sub.files)["backprop.py"].decode()
    assert (
        "def conv_backward" in source and "\npass  # pa5-grader dropped an IPython line: !pip install torch" in source
    )
    compile(source, "backprop.py", "exec")
    (tmp_path / "bad.ipynb").write_text("{")
    with pytest.raises(SubmissionError, match=r"jupyter nbconvert --to script bad\.ipynb"):
        load_submission(tmp_path / "bad.ipynb")


def test_other_files_are_refused_naming_what_is_taken(tmp_path):
    (tmp_path / "pa5.txt").write_text("x")
    with pytest.raises(SubmissionError, match=r"\.py file, a Jupyter notebook \(\.ipynb\), a \.zip"):
        load_submission(tmp_path / "pa5.txt")
