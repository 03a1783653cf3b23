# Everyday commands. Every target is a plain go/docker command you can also type yourself.
#
#   make run            messager on embedded Redis + SQLite, http://localhost:8080
#   make test           unit and integration tests (embedded Redis + SQLite)
#   make test-services  the same again on real Redis and PostgreSQL, with -race
#   make e2e            browser end-to-end suite (needs chromium)
#   make chart-test     Helm chart, k8s manifests, Dockerfile, compose and dashboards
#   make chart-files    copy observability/ dashboards and rules into the chart
#   make cluster-test   one-node Kubernetes (test/cluster, root): helm install, DMs, then down
#   make docker         the container image with docker build (IMAGE=<your-registry>/messager:<tag>)
#   make docker-push    make docker, then docker push $(IMAGE)
#   make image          the same image offline, without docker (root): bin/messager-image.tar
#   make image-equivalence  docker's image and make image's are the same (root, offline dockerd)
#   make lint / generate

GO            ?= go
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE         ?= messager/messager:$(VERSION)
IMAGE_TAR     ?= bin/messager-image.tar
# test-services targets; the defaults match the local services .ci/run starts.
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/15
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable

.PHONY: run test test-services e2e chart-test chart-files cluster-test generate lint docker docker-push image image-equivalence compose-up help

help:
	@sed -n 's/^#   make /  make /p' $(MAKEFILE_LIST)

run:
	$(GO) run ./cmd/messager

test:
	$(GO) test ./...

test-services:
	MESSAGER_TEST_REDIS_URL=$(TEST_REDIS_URL) MESSAGER_TEST_DATABASE_URL=$(TEST_DATABASE_URL) \
		$(GO) test -race -count=1 ./...

e2e:
	MESSAGER_E2E=1 $(GO) test -count=1 ./e2e/...

# The chart tests are their own Go module (Helm and Kubernetes libraries stay out of the
# product). -mod=mod lets it pick up go.sum entries for modules the root module added
# since its go.sum was last tidied.
chart-test:
	cd charts/messager/tests && GOFLAGS=-mod=mod $(GO) test ./...

# The chart ships copies of observability/ (Helm reads files only inside the chart);
# chart-test fails when they differ.
chart-files:
	rm -f charts/messager/files/dashboards/*.json
	cp observability/grafana/dashboards/*.json charts/messager/files/dashboards/
	cp observability/prometheus/rules.yaml charts/messager/files/prometheus/rules.yaml

# Brings a one-node cluster up (building Kubernetes into ~/.cache/messager-k8s the first
# time: ~20-25 min on 2 cores), installs the chart and the k8s/ manifests, delivers DMs
# through the api Services, and always takes it all down again.
cluster-test:
	test/cluster/up && test/cluster/smoke; status=$$?; test/cluster/down; exit $$status

generate:
	$(GO) generate ./ent

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	cd charts/messager/tests && $(GO) vet ./...

# The image for a cluster: make docker-push IMAGE=<your-registry>/messager:<tag>, then
# helm install --set image.repository=<your-registry>/messager --set image.tag=<tag>
# (charts/messager/README.md).
docker:
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

docker-push: docker
	docker push $(IMAGE)

# The same files and config as `make docker`, built without docker, a registry or a base image,
# for air-gapped nodes: `ctr -n k8s.io images import bin/messager-image.tar` on each (or
# `docker load -i`). Run as root: build/image/rootfs.sh gives /data to uid 65532.
image:
	VERSION=$(VERSION) build/image/rootfs.sh bin/image
	cd test/cluster/imagetool && CGO_ENABLED=0 $(GO) build -trimpath -o ../../../bin/imagetool .
	bin/imagetool -o $(IMAGE_TAR) -ref $(IMAGE) -rootfs bin/image/rootfs -version $(VERSION)

# Builds the Dockerfile's final stage with a dockerd of its own (offline) and compares it with
# imagetool's image: files, owners, modes, contents, user, entrypoint, cmd, env, ports, labels.
image-equivalence:
	test/cluster/image-equivalence

compose-up:
	docker compose up --build
