"""A Jupyter notebook handed in: its code cells, in order, as the source of backprop.py.

IPython magics (`%matplotlib inline`) and shell lines (`!pip install torch`) are not Python: each becomes a
`pass` at its own indentation (so a block keeps a body), and cells of other languages (`%%bash`) are dropped.
Nothing here runs the notebook; it is parsed with nbformat, the notebook format's own library.
"""

from __future__ import annotations

import re

from grader.errors import SubmissionError

PYTHON_CELL_MAGICS = ("time", "timeit", "capture", "prun")  # their bodies are Python
_IPYTHON_LINE = re.compile(r"^(?P<indent>\s*)(?:[\w.\[\], ]+\s*=\s*)?[%!]")


def notebook_source(name: str, data: bytes) -> tuple[str, str]:
    """(the Python source of the notebook's code cells, a note saying what was taken and dropped)."""
    import nbformat

    try:
        nb = nbformat.reads(data.decode("utf-8-sig"), as_version=4)
    except Exception as e:  # nbformat raises its own, json's and pydantic-like errors alike
        raise SubmissionError(
            f"{name} is not a readable Jupyter notebook ({type(e).__name__}); export its code with "
            f"`jupyter nbconvert --to script {name}` and hand in the .py file as backprop.py"
        ) from None
    parts, cells, lines_dropped, cells_dropped = [], 0, 0, []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source") or ""
        head = source.lstrip().split("\n", 1)
        if head[0].startswith("%%"):
            magic = head[0][2:].split()[0] if head[0][2:].split() else ""
            if magic not in PYTHON_CELL_MAGICS:
                cells_dropped.append(f"%%{magic}")
                continue
            source, lines_dropped = (head[1] if len(head) > 1 else ""), lines_dropped + 1
        kept = []
        for line in source.splitlines():
            m = _IPYTHON_LINE.match(line)
            if m:
                kept.append(f"{m['indent']}pass  # pa5-grader dropped an IPython line: {line.strip()[:60]}")
                lines_dropped += 1
            else:
                kept.append(line)
        cells += 1
        parts.append("\n".join(kept))
    # Neither says the file's name: a batch names it by the student, and the same notebook must read the same.
    note = f"a notebook: the code of its {cells} code cell(s) is graded as backprop.py, run top to bottom at import"
    if lines_dropped:
        note += f"; {lines_dropped} IPython magic or shell line(s) (% or !) were dropped"
    if cells_dropped:
        kinds = ", ".join(sorted(set(cells_dropped)))
        note += f"; {len(cells_dropped)} cell(s) in another language were dropped ({kinds})"
    header = "# The code cells of a notebook, taken by pa5-grader.\n"
    return header + "\n\n".join(parts) + "\n", note
