package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/messager/messager/internal/validation"
)

// Parse decodes a YAML document over the defaults, so omitted fields keep
// their default values, and validates the result. Unknown fields, wrong
// types and invalid values are all reported together in a *ValidationError.
func Parse(data []byte) (*Config, error) {
	cfg := Default()
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, cfg.Validate()
		}
		return nil, &ValidationError{Problems: []validation.FieldError{{Field: "(document)", Message: err.Error()}}}
	}
	var problems []validation.FieldError
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		// A second document would be silently ignored: refuse it.
		problems = append(problems, validation.FieldError{Field: "(document)", Message: "holds more than one YAML document; put one MessagerConfig per file"})
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		problems = append(problems, validation.FieldError{Field: "(document)", Message: "must be a mapping with apiVersion, kind, metadata and spec"})
		return nil, &ValidationError{Problems: problems}
	}
	checkKnownFields(doc, reflect.TypeOf(Config{}), "", &problems)
	if err := doc.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				problems = append(problems, validation.FieldError{Field: "(document)", Message: msg})
			}
		} else {
			problems = append(problems, validation.FieldError{Field: "(document)", Message: err.Error()})
		}
	}
	if verr := cfg.Validate(); verr != nil {
		var ve *ValidationError
		if errors.As(verr, &ve) {
			problems = append(problems, ve.Problems...)
		}
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return cfg, nil
}

// LoadFile reads and parses the document at path.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Env var names that override the document.
const (
	EnvConfig      = "MESSAGER_CONFIG"
	EnvHTTPAddr    = "MESSAGER_HTTP_ADDR"
	EnvDataDir     = "MESSAGER_DATA_DIR"
	EnvRedisURL    = "MESSAGER_REDIS_URL"
	EnvDatabaseURL = "MESSAGER_DATABASE_URL"
	EnvMetricsAddr = "MESSAGER_METRICS_ADDR"
)

// ApplyEnv overrides fields from the environment as seen through lookup
// (os.LookupEnv in production). Env beats the file; flags, applied by the
// caller afterwards, beat env.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) {
	set := func(name string, dst *string) {
		if v, ok := lookup(name); ok && v != "" {
			*dst = v
		}
	}
	set(EnvHTTPAddr, &c.Spec.HTTP.Addr)
	set(EnvDataDir, &c.Spec.DataDir)
	set(EnvRedisURL, &c.Spec.Redis.URL)
	set(EnvDatabaseURL, &c.Spec.Database.URL)
	set(EnvMetricsAddr, &c.Spec.Observability.MetricsAddr)
}

// checkKnownFields walks a YAML mapping against the struct type t and
// records every key that has no matching field, with its full path, so a
// misspelt field is named exactly rather than silently ignored.
func checkKnownFields(n *yaml.Node, t reflect.Type, path string, problems *[]validation.FieldError) {
	// Follow aliases: a field reached through *alias is as real as any.
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		if t == reflect.TypeOf(Duration(0)) {
			return
		}
		fields := map[string]reflect.StructField{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				fields[name] = f
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if n.Content[i].Kind != yaml.ScalarNode {
				key = fmt.Sprintf("(non-scalar key at line %d)", n.Content[i].Line)
			}
			p := join(path, key)
			f, ok := fields[key]
			if !ok {
				*problems = append(*problems, validation.FieldError{Field: p, Message: fmt.Sprintf("unknown field (line %d)", n.Content[i].Line)})
				continue
			}
			checkKnownFields(n.Content[i+1], f.Type, p, problems)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			checkKnownFields(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), problems)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
