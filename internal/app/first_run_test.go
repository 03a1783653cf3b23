package app

import (
	"log/slog"
	"net"
	"strings"
	"testing"
)

func TestChatURL_IsWhatABrowserOnThisMachineOpens(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{":8080", "http://localhost:8080"},
		{"0.0.0.0:8080", "http://localhost:8080"},
		{"[::]:9000", "http://localhost:9000"},
		{"127.0.0.1:8081", "http://127.0.0.1:8081"},
		{"[::1]:80", "http://[::1]:80"},
		{"chat.example.com:443", "http://chat.example.com:443"},
	} {
		if got := ChatURL(fakeAddr(tc.addr)); got != tc.want {
			t.Errorf("ChatURL(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// `messager all` says where to open the chat and how to become an admin,
// and says nothing twice.
func TestAll_StartSaysWhereToOpenTheChatAndHowToBecomeAdmin(t *testing.T) {
	out := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a := startAppLogging(t, ModeAll, newBackends(t), logger)
	_, port, _ := net.SplitHostPort(a.Addr())
	var opened, admin bool
	seen := map[string]int{}
	var all []string
	for _, l := range out.lines(t) {
		msg, _ := l["msg"].(string)
		all = append(all, msg)
		// A line about one migration file says something new per file.
		said := msg
		if f, ok := l["file"].(string); ok {
			said += " " + f
		}
		seen[said]++
		if l["url"] == "http://127.0.0.1:"+port {
			opened = true
		}
		if strings.Contains(msg, "first account registered becomes the admin") && strings.Contains(msg, "messager admin grant USERNAME") {
			admin = true
		}
	}
	if !opened {
		t.Errorf("start does not say where to open the chat: %q", all)
	}
	if !admin {
		t.Errorf("start does not say how to become an admin: %q", all)
	}
	for msg, n := range seen {
		if n > 1 {
			t.Errorf("logged %d times at start: %q", n, msg)
		}
	}
}
