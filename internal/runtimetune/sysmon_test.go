package runtimetune

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestSysmonEnv_AddsTheSettingOnceAndKeepsAnOperatorsOwn(t *testing.T) {
	for _, c := range []struct {
		name    string
		in      []string
		want    []string
		changed bool
	}{
		{"no GODEBUG", []string{"A=1"}, []string{"A=1", "GODEBUG=" + SysmonAwakeSetting}, true},
		{"empty GODEBUG", []string{"GODEBUG=", "A=1"}, []string{"GODEBUG=" + SysmonAwakeSetting, "A=1"}, true},
		{"other settings", []string{"GODEBUG=madvdontneed=1"}, []string{"GODEBUG=madvdontneed=1," + SysmonAwakeSetting}, true},
		{"already set", []string{"GODEBUG=x=1," + SysmonAwakeSetting}, []string{"GODEBUG=x=1," + SysmonAwakeSetting}, false},
		{"operator's schedtrace", []string{"GODEBUG=schedtrace=1000"}, []string{"GODEBUG=schedtrace=1000"}, false},
		{"two entries: the first counts", []string{"GODEBUG=a=1", "GODEBUG=schedtrace=5"}, []string{"GODEBUG=a=1," + SysmonAwakeSetting}, true},
	} {
		got, changed := SysmonEnv(c.in)
		if !slices.Equal(got, c.want) || changed != c.changed {
			t.Errorf("%s: SysmonEnv(%q) = %q, %v; want %q, %v", c.name, c.in, got, changed, c.want, c.changed)
		}
	}
}

// The test binary re-executes itself through KeepSysmonAwake: the fresh
// start has the setting in its GODEBUG, the same arguments, and does not
// re-execute again (it would never exit).
func TestKeepSysmonAwake_RestartsTheProcessOnceWithTheSetting(t *testing.T) {
	if os.Getenv("RUNTIMETUNE_CHILD") == "1" {
		if err := KeepSysmonAwake(); err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(3)
		}
		os.Stdout.WriteString("GODEBUG=" + os.Getenv("GODEBUG") + " args=" + strings.Join(os.Args[1:], " ") + "\n")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKeepSysmonAwake_RestartsTheProcessOnceWithTheSetting$")
	cmd.Env = append(os.Environ(), "RUNTIMETUNE_CHILD=1", "GODEBUG=madvdontneed=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := "GODEBUG=madvdontneed=1," + SysmonAwakeSetting + " args=-test.run=^TestKeepSysmonAwake_RestartsTheProcessOnceWithTheSetting$\n"
	if string(out) != want {
		t.Fatalf("child printed %q, want %q", out, want)
	}
}
