# The training image: `ner` built with libtorch (PyTorch 2.13.0 from PyPI, the libtorch that
# tch 0.26 needs), for `ner train` and `ner study` in a container. Several GB; the serving
# image (docker/Dockerfile) does without all of it.
#
#   docker build -f docker/train.Dockerfile -t ner-train .
#   docker run --rm -v "$PWD/data:/data" -v "$PWD/runs:/runs" ner-train \
#     train --train /data/train.txt --dev /data/dev.txt --out /runs/mine

FROM rust:1.95-bookworm
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY docker/ca/ /usr/local/share/ca-certificates/ner-extra/
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv g++ binutils \
    && update-ca-certificates \
    && rm -rf /var/lib/apt/lists/*
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    CARGO_HTTP_CAINFO=/etc/ssl/certs/ca-certificates.crt \
    NER_CACHE_DIR=/opt/ner-cache
WORKDIR /src
COPY . .
RUN scripts/setup.sh --torch
ENTRYPOINT ["/src/target/release/ner"]
CMD ["--help"]
