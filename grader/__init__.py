"""pa5-grader: grades the PA5 backpropagation assignment."""

__version__ = "0.1.0"
