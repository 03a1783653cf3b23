package config

import (
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	def, err := Default().YAML()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	for _, s := range []string{
		"",
		"---\n",
		"apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {presence: {ttl: 30s}}\n",
		"apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {presence: {ttl: -5s}, messaging: {maxBodyLenght: 1}}\n",
		"apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {worker: {concurrency: many}}\n",
		"apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {redis: {mode: sentinel, addrs: [a], masterName: m}}\n",
		"apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {http: {allowedOrigins: [\"https://x.example\", \"ftp://x\"]}}\n",
		"spec: &a {http: *a}\n",
		"a: &a [*a]\n",
		"- 1\n- 2\n",
		"spec: [\n",
		"spec:\n  presence:\n    ttl: !!binary aGVsbG8=\n",
		"spec: {auth: {sessionTTL: 9999999999999999999h}}\n",
		"? [a]\n: b\n",
		"metadata: {labels: {a: [1]}}\n",
		"--- 1\n--- 2\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T %v is not a *ValidationError", err, err)
			}
			if len(ve.Problems) == 0 {
				t.Fatal("ValidationError with no problems")
			}
			for _, p := range ve.Problems {
				// An empty Path is tolerated here: see TestParse_NonScalarKeyIsNamed.
				if p.Message == "" {
					t.Fatalf("problem without a message: %+v", p)
				}
			}
			return
		}
		if cfg == nil {
			t.Fatal("nil config and nil error")
		}
		if verr := cfg.Validate(); verr != nil {
			t.Fatalf("Parse accepted a config that fails Validate: %v", verr)
		}
		// An accepted document survives a round trip through its own YAML.
		out, err := cfg.YAML()
		if err != nil {
			t.Fatalf("render accepted config: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("accepted config does not re-parse: %v\n%s", err, out)
		}
	})
}

func TestParse_NonScalarKeyIsNamed(t *testing.T) {
	_, err := Parse([]byte("? [a]\n: b\n"))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	for _, p := range ve.Problems {
		if p.Field == "" {
			t.Fatalf("problem with an empty path: %+v", p)
		}
	}
}

func TestParse_SecondDocumentIsNotSilentlyIgnored(t *testing.T) {
	doc := "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\n---\nspec: {presence: {ttl: -5s}}\n"
	if _, err := Parse([]byte(doc)); err == nil {
		t.Fatal("accepted a file whose second document is ignored")
	}
}

func TestParse_UnknownFieldThroughAliasIsReported(t *testing.T) {
	doc := "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a, labels: &l {ttlx: 5s}}\nspec: {presence: *l}\n"
	if _, err := Parse([]byte(doc)); err == nil {
		t.Fatal("accepted an unknown field reached through an alias")
	}
}
