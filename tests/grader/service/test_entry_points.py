"""Every entry point agrees on what a submission is: check, grade, batch, submit and the upload are fed the same
nested folder, zip with a top folder, notebook and file with a byte-order mark, and give the same outcome."""

import io
import json
import zipfile

import httpx
import nbformat
import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.report.model import Report
from grader.service.queue.ratelimit import RateLimit
from grader.service.web.visibility import StudentReport
from grader.spec import default_spec
from grader.workflows.batch import run_batch
from grader.workflows.grade import check, grade
from tests.grader.service.live import EXAMPLES, running

SOURCE = (EXAMPLES / "unflipped_kernel" / "backprop.py").read_text()  # conv.dx: the kernel is not flipped
HELPED = SOURCE.replace("import numpy as np\n", "import numpy as np\n\nfrom helpers import softmax\n", 1).replace(
    "    p = np.exp(s - s.max())\n    p /= p.sum()\n", "    p = softmax(s)\n"
)
HELPERS = "import numpy as np\n\n\ndef softmax(s):\n    e = np.exp(s - s.max())\n    return e / e.sum()\n"
NESTED = "found one level down, in my_pa5/"


def _nested(tmp):
    folder = tmp / "nested"
    (folder / "my_pa5").mkdir(parents=True)
    (folder / "my_pa5" / "backprop.py").write_text(HELPED)
    (folder / "my_pa5" / "helpers.py").write_text(HELPERS)
    (folder / "README.md").write_text("my PA5\n")
    return folder


def _zip(tmp):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("my_pa5/backprop.py", HELPED)
        zf.writestr("my_pa5/helpers.py", HELPERS)
        zf.writestr("__MACOSX/my_pa5/._backprop.py", b"\0\5\26\7")
    path = tmp / "my_pa5.zip"
    path.write_bytes(buf.getvalue())
    return path


def _notebook(tmp):
    nb = nbformat.v4.new_notebook()
    head, rest = SOURCE.split("def conv_backward", 1)
    nb.cells = [
        nbformat.v4.new_markdown_cell("# PA5"),
        nbformat.v4.new_code_cell("%matplotlib inline\n!pip install numpy\n" + head),
        nbformat.v4.new_code_cell("def conv_backward" + rest),
        nbformat.v4.new_code_cell("%%bash\necho checking"),
    ]
    path = tmp / "pa5.ipynb"
    path.write_text(nbformat.writes(nb))
    return path


def _bom(tmp):
    path = tmp / "backprop.py"
    path.write_bytes(b"\xef\xbb\xbf" + SOURCE.encode())
    return path


KINDS = {"nested-folder": (_nested, NESTED), "zip-with-top-folder": (_zip, None), "notebook": (_notebook, "code cell")}
KINDS["utf8-bom"] = (_bom, None)


@pytest.fixture(scope="module")
def service(tmp_path_factory, process_backend):
    from tests.grader.service.live import make_data, release_hidden

    data = make_data(tmp_path_factory.mktemp("service"))
    with running(data, workers=1, backend=process_backend, rate_limits=(RateLimit(count=1000, seconds=1),)) as s:
        release_hidden(s)  # the student's view holds the whole report, as `grade` writes it
        yield s


def _outcome(report: Report | StudentReport) -> tuple:
    return (
        report.score,
        report.submission_sha256,
        tuple(report.submission_notes),
        tuple((p.id, p.diagnosis.id if p.diagnosis else None) for p in report.problems),
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_entry_point_takes_the_same_submission_the_same_way(kind, tmp_path, service, process_backend):
    make, note = KINDS[kind]
    path = make(tmp_path)
    spec = default_spec()
    checked = check(submission=path, spec=spec, backend=process_backend)
    graded = grade(submission=path, student_id="alice", secret=service.secret, spec=spec, backend=process_backend)

    klass = tmp_path / "class"
    klass.mkdir()
    entry = klass / ("alice" + ("" if path.is_dir() else path.suffix))
    path.rename(entry)
    run_batch(
        submissions=klass, out=tmp_path / "out", spec=spec, backend=process_backend, secret=service.secret, jobs=1
    )
    batched = Report.model_validate_json((tmp_path / "out" / "alice.json").read_text())
    entry.rename(path)

    r = CliRunner().invoke(
        cli,
        [
            "submit",
            str(path),
            "--server",
            service.url,
            "--token",
            service.tokens["alice"],
            "--wait",
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 1, r.output  # conv.dx fails, as it should
    submitted = StudentReport.model_validate_json(r.stdout)  # a student sees their view of the report

    upload = path.name if path.is_file() else "nested.zip"
    data = path.read_bytes() if path.is_file() else _zip_of_folder(path)
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {service.tokens['alice']}"}) as http:
        sid = http.post("/api/submissions", files={"file": (upload, data)}).json()["id"]
        state = http.get(f"/api/submissions/{sid}", params={"wait": 60}, timeout=90).json()
        while state["status"] not in ("done", "failed"):
            state = http.get(f"/api/submissions/{sid}", params={"wait": 60}, timeout=90).json()
    uploaded = StudentReport.model_validate(state["report"])

    assert checked.submission_sha256 == graded.submission_sha256
    assert checked.submission_notes == graded.submission_notes
    assert _outcome(graded) == _outcome(batched) == _outcome(submitted) == _outcome(uploaded)
    dx = next(p for p in graded.problems if p.id == "conv.dx")
    assert dx.diagnosis.id == "conv.dx.unflipped" and 80 <= graded.score < 100 and not graded.error
    if note:
        assert any(note in n for n in graded.submission_notes), graded.submission_notes
        assert note in json.dumps(state["report"])
    else:
        assert not graded.submission_notes


def _zip_of_folder(folder):
    """The folder zipped as a student zips it: the folder itself, at the top of the zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, f"{folder.name}/{p.relative_to(folder).as_posix()}")
    return buf.getvalue()


def test_a_notebook_drops_magics_and_shell_lines_with_a_note(tmp_path, spec, process_backend):
    report = check(submission=_notebook(tmp_path), spec=spec, backend=process_backend)
    (note,) = report.submission_notes
    assert "2 code cell(s)" in note and "2 IPython magic or shell line(s)" in note and "%%bash" in note
    assert not report.error
