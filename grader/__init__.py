"""pa5-grader: grades the PA5 backpropagation assignment."""

import os

# The grader's arrays are small (thousands of numbers at most): OpenBLAS's threads only wake up and spin for them, on
# the cores the sandboxes need. Set before numpy is first imported; a value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
