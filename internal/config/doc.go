// Package config owns the MessagerConfig document: its Go type, its defaults,
// its validation and how it is loaded from YAML and overridden from the
// environment.
//
// The document has the shape of a Kubernetes custom resource
// (apiVersion/kind/metadata/spec) so the same file works as a ConfigMap, a
// CRD instance or a local file. The package never reads flags; cmd/messager
// applies flag overrides after Load.
package config
