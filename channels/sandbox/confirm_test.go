package sandbox

import (
	"net"
	"net/url"
	"strings"
	"testing"
)

func TestLoopbackOrOrigins(t *testing.T) {
	allow := LoopbackOrOrigins("https://pay.example.com", "http://gw.internal:8080")
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"http://127.0.0.1:8080/qr/abc", true},
		{"http://[::1]/x", true},
		{"http://localhost:3000/", true},
		{"https://pay.example.com/qr/abc?x=1", true},
		{"http://gw.internal:8080/done", true},
		{"http://pay.example.com/x", false}, // another scheme is another origin
		{"https://pay.example.com.evil.example/", false},
		{"https://evil.example/", false},
		{"javascript:alert(1)", false},
		{"ftp://127.0.0.1/", false},
		{"http://user@127.0.0.1/", false},
		{"/relative", false},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := allow(u); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.url, got, tc.want)
		}
	}
}

func TestPersistedKeepsWhatCreateMade(t *testing.T) {
	dir := t.TempDir()
	var a, b struct{ Key string }
	calls := 0
	create := func(v *struct{ Key string }) func() error {
		return func() error { calls++; v.Key = "k" + string(rune('0'+calls)); return nil }
	}
	if err := Persisted(dir, "x", &a, create(&a)); err != nil {
		t.Fatal(err)
	}
	if err := Persisted(dir, "x", &b, create(&b)); err != nil {
		t.Fatal(err)
	}
	if calls != 1 || a.Key != "k1" || b.Key != "k1" {
		t.Fatalf("calls %d, a %q, b %q", calls, a.Key, b.Key)
	}
}

// FuzzConfirmReturnURL: whatever return_url a page is asked for, it only
// ever redirects to an http(s) URL on loopback or an allowed origin.
func FuzzConfirmReturnURL(f *testing.F) {
	for _, s := range []string{"", "http://127.0.0.1/x", "https://pay.example.com/r", "//evil.example", "javascript:x",
		"http://127.0.0.1@evil.example/", "http://evil.example\\@127.0.0.1/", "HTTP://LOCALHOST/"} {
		f.Add(s)
	}
	p := &ConfirmPage{AllowReturn: LoopbackOrOrigins("https://pay.example.com")}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := p.allowed(raw, ConfirmInfo{})
		if !ok || got == "" {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("allowed %q as %q, which does not parse", raw, got)
		}
		host := u.Hostname()
		loop := strings.EqualFold(host, "localhost") ||
			strings.EqualFold(u.Scheme+"://"+u.Host, "https://pay.example.com")
		if u.Scheme != "http" && u.Scheme != "https" || !loop && net.ParseIP(host) == nil {
			t.Fatalf("allowed %q as %q", raw, got)
		}
		if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() {
			t.Fatalf("allowed %q: %s is not loopback", raw, host)
		}
	})
}
