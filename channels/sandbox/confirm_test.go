package sandbox

import (
	"net/url"
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
