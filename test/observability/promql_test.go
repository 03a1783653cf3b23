package observability

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	promStrings   = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promMatchers  = regexp.MustCompile(`\{[^{}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\[\]]*\]`)
	promGrouping  = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords  = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true}
	promNumberEnd = regexp.MustCompile(`[0-9.]$`)
)

// metricNames returns the metric names a PromQL expression selects: identifiers that are
// not functions, aggregations, keywords, labels, strings or durations. Prometheus answers
// a query naming a metric nobody exports with an empty result, not an error, so this is
// how a typo or a renamed metric is told apart from "nothing happened".
func metricNames(expr string) []string {
	s := promStrings.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRanges.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") || promKeywords[strings.ToLower(name)] || promNumberEnd.MatchString(s[:loc[0]]) {
			continue
		}
		out = append(out, name)
	}
	return out
}

func TestMetricNames_FindsSelectorsOnly(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`sum by (queue) (rate(foo_total{state=~"a|b", x='y'}[1m] offset 5m)) / on(queue) group_left bar > 1e3 and histogram_quantile(0.99, baz_bucket)`, []string{"foo_total", "bar", "baz_bucket"}},
		{`sum(increase(a_total{job=~"(messager)"}[1m])) or on() vector(0)`, []string{"a_total"}},
		{`up == 0 and on (job, instance) max_over_time(messager_build_info[1h])`, []string{"up", "messager_build_info"}},
		{`absent(messager_worker_up == 1)`, []string{"messager_worker_up"}},
	} {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// grafanaVar matches $name, ${name} and ${name:format} in a panel query.
var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// substitute replaces Grafana variables in expr with vals; it fails on a variable
// it does not know, so a panel cannot silently query a literal "$foo".
func substitute(expr string, vals map[string]string) (string, error) {
	var missing []string
	out := grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		v, ok := vals[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("unknown Grafana variable(s) %q in %q", missing, expr)
	}
	return out, nil
}

func TestSubstitute_ReplacesVariablesAndRefusesUnknownOnes(t *testing.T) {
	vals := map[string]string{"job": "(a|b)", "__rate_interval": "1m", "queues_job": "(q)"}
	got, err := substitute(`rate(x{job=~"$job", q=~"${queues_job}"}[$__rate_interval])`, vals)
	if err != nil || got != `rate(x{job=~"(a|b)", q=~"(q)"}[1m])` {
		t.Errorf("substitute = %q, %v", got, err)
	}
	if _, err := substitute(`x{job=~"$nope"}`, vals); err == nil {
		t.Error("an unknown variable was accepted")
	}
}
