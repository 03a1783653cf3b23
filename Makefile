# Everyday commands. Every target is a plain go/docker command you can also type yourself.
#
#   make run            messager on embedded Redis + SQLite, http://localhost:8080
#   make test           unit and integration tests (embedded Redis + SQLite)
#   make test-services  the same again on real Redis and PostgreSQL, with -race
#   make e2e            browser end-to-end suite (needs chromium)
#   make chart-test     Helm chart, k8s manifests, Dockerfile, compose and dashboards
#   make chart-files    copy observability/ dashboards and rules into the chart
#   make cluster-test   one-node Kubernetes (test/cluster, root): helm install, DMs, then down
#   make lint / generate / docker

GO            ?= go
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE         ?= messager/messager:$(VERSION)
# test-services targets; the defaults match the local services .ci/run starts.
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/15
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable

.PHONY: run test test-services e2e chart-test chart-files cluster-test generate lint docker compose-up help

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

docker:
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

compose-up:
	docker compose up --build
