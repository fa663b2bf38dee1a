package apiclient_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/paygate-cn/paygate/gateway"
	"github.com/paygate-cn/paygate/internal/apiclient"
)

var authPattern = regexp.MustCompile(`^PAYGATE-HMAC-SHA256 key_id=key_1,timestamp=(\d+),nonce=([0-9a-f]{32}),signature=([0-9a-f]{64})$`)

func TestDoSigns(t *testing.T) {
	type seen struct {
		method, uri, auth, ctype, idem string
		body                           []byte
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("Idempotency-Key"), b}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	for _, tc := range []struct {
		method, path string
		body         []byte
		idem, ctype  string
	}{
		{"POST", "/v1/orders", []byte(`{"amount":1}`), "idem-1", "application/json"},
		{"GET", "/v1/orders?limit=2&status=succeeded", nil, "", ""},
	} {
		resp, err := apiclient.Do(context.Background(), srv.Client(), srv.URL+"/", "key_1", "sk_test", tc.method, tc.path, tc.body, tc.idem)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		s := <-got
		if s.method != tc.method || s.uri != tc.path || s.ctype != tc.ctype || s.idem != tc.idem || string(s.body) != string(tc.body) {
			t.Fatalf("%s %s arrived as %+v", tc.method, tc.path, s)
		}
		m := authPattern.FindStringSubmatch(s.auth)
		if m == nil {
			t.Fatalf("Authorization %q", s.auth)
		}
		// The signature covers the method, path with query, timestamp,
		// nonce and body, as the API verifies it.
		if want := gateway.SignRequest("sk_test", tc.method, tc.path, m[1], m[2], tc.body); m[3] != want {
			t.Fatalf("signature %s, want %s", m[3], want)
		}
	}
}
