package testsupport

import "testing"

// TestStartedAddr_ReadsBothLogFormats pins how StartMessager learns where a
// child listens: from the "messager started" line, whichever log format,
// and from no other line that names an address.
func TestStartedAddr_ReadsBothLogFormats(t *testing.T) {
	for _, c := range []struct {
		name, log, want string
	}{
		{"json", `{"time":"2026-12-02T20:00:00Z","level":"INFO","msg":"applying migration","file":"x.sql"}
{"time":"2026-12-02T20:00:00Z","level":"INFO","msg":"messager started","mode":"api","addr":"127.0.0.1:40043"}
`, "127.0.0.1:40043"},
		{"text", `time=2026-12-02T18:57:21.344Z level=INFO msg="embedded redis started" addr=127.0.0.1:43557
time=2026-12-02T18:57:21.360Z level=INFO msg="messager started" mode=all addr=127.0.0.1:37851
`, "127.0.0.1:37851"},
		{"not yet", `time=2026-12-02T18:57:21.344Z level=INFO msg="embedded redis started" addr=127.0.0.1:43557
`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := startedAddr(c.log)
			if got != c.want || ok != (c.want != "") {
				t.Fatalf("startedAddr = %q, %v; want %q", got, ok, c.want)
			}
		})
	}
}
