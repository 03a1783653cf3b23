package config

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The README's configuration example is the complete default document, so
// it cannot drift from Default as fields come and go.
func TestREADME_ConfigurationExampleIsTheDefault(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "## Configuration")
	if !ok {
		t.Fatal("README has no Configuration section")
	}
	_, block, ok := strings.Cut(after, "```yaml\n")
	if !ok {
		t.Fatal("README's Configuration section has no yaml example")
	}
	block, _, _ = strings.Cut(block, "```")
	cfg, err := Parse([]byte(block))
	if err != nil {
		t.Fatalf("README's example does not parse: %v", err)
	}
	if want := Default(); !reflect.DeepEqual(cfg, want) {
		t.Fatalf("README's example is not the default:\n got %+v\nwant %+v", cfg.Spec, want.Spec)
	}
	// Parse keeps defaults for omitted fields, so compare the keys too.
	def, err := Default().YAML()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := leafKeys(t, []byte(block)), leafKeys(t, def); !slices.Equal(got, want) {
		t.Fatalf("README's example names %q,\nthe default document %q", got, want)
	}
}

// leafKeys lists the dotted paths of doc's scalar and list values, sorted.
func leafKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		sub, ok := v.(map[string]any)
		if !ok {
			keys = append(keys, prefix)
			return
		}
		for k, v := range sub {
			walk(prefix+"."+k, v)
		}
	}
	walk("", m)
	slices.Sort(keys)
	return keys
}
