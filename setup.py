"""Build hook: the public cases and the starter file go into the package, so an installed grader can build bundles."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# checkout path -> where it lands inside the built package (read by grader/workflows/bundle.py and grade.py)
ASSETS = {
    "test_cases": "grader/assets/test_cases",
    "submissions_example/starter": "grader/assets/starter",
}


class BuildPyWithAssets(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads them from the checkout
            return
        for src, dst in ASSETS.items():
            target = Path(self.build_lib) / dst
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(HERE / src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithAssets})
