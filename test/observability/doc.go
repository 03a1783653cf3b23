// Package observability holds the end-to-end test of messager's monitoring:
// a real Prometheus scrapes real api and worker processes while `messager
// bench` drives traffic, and every Grafana panel query and every alert rule
// in observability/ is evaluated through Prometheus' HTTP API.
//
// It owns no product code and must not import the server's packages beyond
// internal/testenv: what it checks is what Prometheus sees over the wire.
package observability
