FROM python:3.11-slim
WORKDIR /app
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
    QA_INDEX_DIR=/app/index QA_HOST=0.0.0.0 QA_PORT=8000 QA_ONNX_CACHE_DIR=/opt/qa-onnx
# torch first, pinned, so sentence-transformers does not pick another build: the CPU build from
# PyTorch's CPU wheel index (PyPI's default Linux wheel pulls about 3 GB of CUDA libraries that qa
# never uses). --build-arg TORCH_INDEX_URL= (empty) takes PyPI's instead.
ARG TORCH_INDEX_URL="https://download.pytorch.org/whl/cpu"
RUN pip install --no-cache-dir torch==2.13.0 ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
COPY pyproject.toml README.md ./
COPY qa ./qa
COPY examples ./examples
RUN pip install --no-cache-dir .
# The default backend (onnx-int8) exports and quantizes the model once; do it in the image, so
# replicas start in seconds instead of each exporting on first start.
RUN python -c "from qa.config import Settings; from qa.embed import load_embedder; load_embedder(Settings())"
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
# `docker run -p 8000:8000 qa` starts: bound to 0.0.0.0 inside the container, so requests need a key.
# QA_API_KEYS from the environment when given; otherwise a key is made on first start and kept in
# the index volume (/app/index/api-key, 0600; read it with `docker exec <container> cat
# /app/index/api-key`). The sample documents go into a new index only.
CMD ["qa", "serve", "--samples", "examples/docs", "--key-file", "/app/index/api-key"]
