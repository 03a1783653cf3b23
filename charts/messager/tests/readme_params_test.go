package tests

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the parameters tables of charts/messager/README.md from values.yaml")

// readmeParamsMarker starts the generated part of README.md's Parameters section; it runs
// to the next level-2 heading.
const readmeParamsMarker = "<!-- Generated from values.yaml (## @section, ## @param) by TestREADME_ParametersMatchValuesYAML: edit values.yaml, then run\n     cd charts/messager/tests && GOFLAGS=-mod=mod go test -run TestREADME_ParametersMatchValuesYAML -update-readme . -->\n"

// The README's parameter tables are values.yaml's ## @section / ## @param comments, one
// table per section, as readme-generator-for-helm writes them, so they cannot drift.
func TestREADME_ParametersMatchValuesYAML(t *testing.T) {
	values, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := parametersTables(t, values)
	path := filepath.Join(chartDir, "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(readme)
	start := strings.Index(doc, readmeParamsMarker)
	if start < 0 {
		t.Fatalf("README.md has no generated parameters block (marker %q)", readmeParamsMarker)
	}
	start += len(readmeParamsMarker)
	end := len(doc)
	if i := strings.Index(doc[start:], "\n## "); i >= 0 {
		end = start + i + 1
	}
	if got := doc[start:end]; got != want {
		if *updateREADME {
			if err := os.WriteFile(path, []byte(doc[:start]+want+doc[end:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md parameters tables differ from values.yaml; regenerate with -update-readme.\nwant:\n%s", want)
	}
}

// parametersTables renders values.yaml's sections and params as markdown tables.
func parametersTables(t *testing.T, valuesYAML []byte) string {
	t.Helper()
	var values map[string]any
	if err := yaml.Unmarshal(valuesYAML, &values); err != nil {
		t.Fatal(err)
	}
	sectionLine := regexp.MustCompile(`^## @section (\S.*)$`)
	paramLine := regexp.MustCompile(`^\s*## @param (\S+) (.*)$`)
	moreLine := regexp.MustCompile(`^\s*## ?(.*)$`)
	var b strings.Builder
	var row []string // the param being read: name, description
	flush := func() {
		if row != nil {
			fmt.Fprintf(&b, "| `%s` | %s | `%s` |\n", row[0], strings.ReplaceAll(row[1], "|", `\|`), formatValue(lookup(values, row[0])))
			row = nil
		}
	}
	for _, line := range strings.Split(string(valuesYAML), "\n") {
		if m := sectionLine.FindStringSubmatch(line); m != nil {
			flush()
			fmt.Fprintf(&b, "\n### %s\n\n| Name | Description | Value |\n| --- | --- | --- |\n", m[1])
			continue
		}
		if m := paramLine.FindStringSubmatch(line); m != nil {
			flush()
			row = []string{m[1], strings.TrimSpace(m[2])}
			continue
		}
		// A comment right below an @param continues its description.
		if m := moreLine.FindStringSubmatch(line); m != nil && row != nil && !strings.HasPrefix(strings.TrimSpace(line), "## @") {
			row[1] += " " + strings.TrimSpace(m[1])
			continue
		}
		flush()
	}
	flush()
	return b.String() + "\n"
}

// formatValue writes a default as readme-generator does: scalars bare, "" quoted,
// collections as compact JSON.
func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "nil"
	case string:
		if v == "" {
			return `""`
		}
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	js, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(js)
}
