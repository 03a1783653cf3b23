package validation

import "testing"

func TestBlank_InvisibleOnlyTextIsBlank(t *testing.T) {
	for _, tc := range []struct {
		s     string
		blank bool
	}{
		{"", true},
		{" \t\n\r\u00a0\u3000", true},
		{"\u200b", true},
		{"\u200c\u200d\u2060\ufeff", true},
		{"\u00ad", true},
		{"\u202a\u202e\u2066\u2069\u200e\u200f", true},
		{"\u115f\u1160\u3164\uffa0", true},
		{"\u2800", true},
		{"\ufe0f\U000e0100", true},
		{"\U000e0001\U000e0041", true},
		{"\x01\x1b\x7f", true},
		{"a", false},
		{"\u200ba\u200b", false},
		{"👨\u200d👩\u200d👧", false},
		{"❤\ufe0f", false},
		{"\ufffd", false},
		{"é", false},
		{"\u0301", false}, // a lone combining mark shows (on a dotted circle)
	} {
		if got := Blank(tc.s); got != tc.blank {
			t.Errorf("Blank(%+q) = %v, want %v", tc.s, got, tc.blank)
		}
	}
}

func TestHasNUL(t *testing.T) {
	for s, want := range map[string]bool{"": false, "abc": false, "\x00": true, "a\x00b": true, "é\u0100": false} {
		if got := HasNUL(s); got != want {
			t.Errorf("HasNUL(%+q) = %v, want %v", s, got, want)
		}
	}
}
