// Package tests renders the messager Helm chart with the Helm SDK and checks what it
// produces, together with the other deployment artefacts of the repository: the plain
// kustomize manifests and CRD in k8s/, the Dockerfile, docker-compose.yaml and the
// Prometheus/Grafana files in observability/.
//
// It is a Go module of its own so that the product binary never depends on Helm or the
// Kubernetes libraries. No cluster, no helm binary and no network are needed:
//
//	cd charts/messager/tests && go test ./...
package tests
