package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// values.yaml is documented value by value with bitnami-style `## @param path text`
// comments: every value must be covered by one (itself or an enclosing map), and every
// @param must name a value that exists.
func TestValuesYAML_EveryValueIsDocumented(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*## @param (\S+) \S`).FindAllStringSubmatch(string(data), -1) {
		documented[m[1]] = true
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	var paths []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		paths = append(paths, prefix)
		if m, ok := v.(map[string]any); ok {
			for k, c := range m {
				walk(prefix+"."+k, c)
			}
		}
	}
	for k, v := range values {
		walk(k, v)
	}
	sort.Strings(paths)
	exists := map[string]bool{}
	for _, p := range paths {
		exists[p] = true
	}
	covered := func(p string) bool {
		for q := p; q != ""; {
			if documented[q] {
				return true
			}
			i := strings.LastIndex(q, ".")
			if i < 0 {
				break
			}
			q = q[:i]
		}
		return false
	}
	for _, p := range paths {
		// A map is covered when its children are; only leaves (and empty maps) need docs.
		if m, isMap := lookup(values, p).(map[string]any); isMap && len(m) > 0 {
			continue
		}
		if !covered(p) {
			t.Errorf("values.yaml: %s has no ## @param", p)
		}
	}
	for p := range documented {
		if !exists[p] {
			t.Errorf("values.yaml: ## @param %s names no value", p)
		}
	}
}

func lookup(m map[string]any, path string) any {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// values.yaml is split into bitnami-style `## @section Title` blocks (readme-generator-for-helm
// turns each into a parameters table): every top-level value sits under one, and no section
// is empty, so a new block cannot be added outside the map a reader navigates by.
func TestValuesYAML_EveryTopLevelValueIsInASection(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sectionLine := regexp.MustCompile(`^## @section (\S.*)$`)
	topLevelKey := regexp.MustCompile(`^([A-Za-z][\w-]*):`)
	section := ""
	var sections []string
	keysIn := map[string][]string{}
	for i, line := range strings.Split(string(data), "\n") {
		if m := sectionLine.FindStringSubmatch(line); m != nil {
			section = m[1]
			if _, dup := keysIn[section]; dup {
				t.Errorf("values.yaml:%d: section %q appears twice", i+1, section)
			}
			keysIn[section] = nil
			sections = append(sections, section)
			continue
		}
		if m := topLevelKey.FindStringSubmatch(line); m != nil {
			if section == "" {
				t.Errorf("values.yaml:%d: %s comes before any ## @section", i+1, m[1])
				continue
			}
			keysIn[section] = append(keysIn[section], m[1])
		}
	}
	if len(sections) == 0 {
		t.Fatal("values.yaml has no ## @section")
	}
	for _, s := range sections {
		if len(keysIn[s]) == 0 {
			t.Errorf("values.yaml: section %q holds no value", s)
		}
	}
}
