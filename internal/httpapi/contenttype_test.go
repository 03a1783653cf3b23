package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeJSON_RequiresJSONContentType(t *testing.T) {
	for _, tc := range []struct {
		contentType string
		want        int // 0: accepted
	}{
		{"application/json", 0},
		{"application/json; charset=utf-8", 0},
		{"Application/JSON; charset=UTF-8", 0},
		{"", http.StatusUnsupportedMediaType},
		{"text/plain", http.StatusUnsupportedMediaType},
		{"text/plain; charset=utf-8", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"application/json; charset=latin1", http.StatusUnsupportedMediaType},
		{"application/jsonx", http.StatusUnsupportedMediaType},
		{"application/json;;", http.StatusUnsupportedMediaType},
	} {
		t.Run(tc.contentType, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"username":"luis"}`))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			var dst decodeTarget
			err := DecodeJSON(r, &dst)
			if tc.want == 0 {
				if err != nil || dst.Username != "luis" {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var p *Problem
			if !errors.As(err, &p) || p.Status != tc.want {
				t.Fatalf("got %v, want a %d problem", err, tc.want)
			}
		})
	}
}
