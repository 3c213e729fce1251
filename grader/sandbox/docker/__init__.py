"""The Docker backend (backend.py) and its runner image (image.py): the only modules that import the docker SDK."""
