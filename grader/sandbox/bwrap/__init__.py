"""The bubblewrap backends: setup.py (what a sandbox is made of), fresh.py (a sandbox per run), template.py (forks of
a pre-imported template)."""
