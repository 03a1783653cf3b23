# syntax=docker/dockerfile:1
#
# messager container image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t messager .
#   docker run -p 8080:8080 messager            # `messager all`: embedded Redis + SQLite in /data
#   docker run messager api                     # production: set MESSAGER_REDIS_URL and MESSAGER_DATABASE_URL
#
# The binary is pure Go (SQLite through modernc.org/sqlite), so it is built with
# CGO_ENABLED=0 and runs on distroless/static: no shell, no libc, no package manager.

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
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath \
      -ldflags "-s -w -X github.com/messager/messager/pkg/version.Version=${VERSION}" \
      -o /out/messager ./cmd/messager \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="messager" \
      org.opencontainers.image.description="Kubernetes-native, horizontally scalable browser chat" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/messager/messager"
COPY --from=build /out/messager /messager
# /data is where `messager all` keeps its SQLite file; owned by nonroot (65532)
# so the default command works without a volume.
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/messager"]
CMD ["all", "--data-dir", "/data"]
