# syntax=docker/dockerfile:1
#
# messager container image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t messager .
#   docker run -p 8080:8080 messager            # `messager all`: embedded Redis + SQLite in /data
#   docker run messager api                     # production: set MESSAGER_REDIS_URL and MESSAGER_DATABASE_URL
#
# The binary is pure Go (SQLite through modernc.org/sqlite), so it is built with
# CGO_ENABLED=0 and needs no libc: the final stage is FROM scratch, with no shell and no package
# manager. It holds only the tree build/image/rootfs.sh assembles in the builder stage: the
# binary, the CA bundle, /etc/passwd and /etc/group naming nonroot (65532, from build/image/etc),
# /data and /home/nonroot owned by nonroot, and /tmp. That script is the one definition of the
# image's files: the one-node cluster CI runs (test/cluster, no registry) packs the same tree with
# test/cluster/imagetool, and test/cluster/image-equivalence builds this file's final stage with
# docker and fails when the two images differ in any file, owner, mode or config.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 \
    GOFLAGS=-buildvcs=false

# Module download is its own layer: it is only redone when go.mod or go.sum change,
# not on every source edit.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
ARG VERSION=dev
# go build (static, -trimpath, version stamped) and the rest of the image's files, into
# /out/rootfs; the builder runs as root, so /data can be given to nonroot.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    VERSION="${VERSION}" build/image/rootfs.sh /out

FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="messager" \
      org.opencontainers.image.description="Kubernetes-native, horizontally scalable browser chat" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/messager/messager"
# One COPY of the whole tree. COPY --from keeps the owners the builder gave (the classic builder
# and BuildKit alike; image-equivalence builds with both): /data, where `messager all` keeps its
# SQLite file, belongs to nonroot so the default command works without a volume.
COPY --from=build /out/rootfs/ /
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# Explicit: BuildKit would write / and the classic builder nothing.
WORKDIR /
# nonroot, by number: Kubernetes can check runAsNonRoot only against a numeric user.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/messager"]
CMD ["all", "--data-dir", "/data"]
