# The runner image: Python, numpy, scipy and the harness. Nothing of the grader or the reference.
# Default base: the public python image. Offline, build pa5-grader-base with docker/build-base-image.sh
# and pass --build-arg BASE_IMAGE=pa5-grader-base:bookworm (`pa5-grader image build` does this).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
RUN python3 -c "import numpy, scipy" 2>/dev/null || pip install --no-cache-dir "numpy>=1.24" "scipy>=1.10"
COPY harness.py /opt/pa5/harness.py
RUN python3 -c "import numpy, scipy; print('numpy', numpy.__version__, 'scipy', scipy.__version__)"
USER 65534:65534
WORKDIR /tmp
