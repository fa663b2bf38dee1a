package webhookurl_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks/webhookurl"
	"github.com/paygate-cn/paygate/internal/dnstest"
)

// Every notation of a forbidden address is refused when the URL is given.
func TestCheckRefusesInternalAddresses(t *testing.T) {
	strict := &webhookurl.Policy{}
	for _, tc := range []struct {
		url, code string
	}{
		{"https://hooks.example.com/paygate", ""},
		{"https://93.184.216.34:8443/hook?token=x", ""},
		{"https://[2606:2800:220:1:248:1893:25c8:1946]/hook", ""},
		{"http://hooks.example.com/", paygate.EINSECUREURL},
		{"ftp://hooks.example.com/", paygate.EPARAMINVALID},
		{"/relative", paygate.EPARAMINVALID},
		{"https://", paygate.EPARAMINVALID},
		{"https://hooks.example.com:99999/", paygate.EPARAMINVALID},
		{"https://127.0.0.1/", paygate.EFORBIDDENDESTINATION},
		{"https://127.9.9.9:8080/", paygate.EFORBIDDENDESTINATION},
		{"https://localhost/", paygate.EFORBIDDENDESTINATION},
		{"https://LOCALHOST./", paygate.EFORBIDDENDESTINATION},
		{"https://api.localhost/", paygate.EFORBIDDENDESTINATION},
		{"https://[::1]/", paygate.EFORBIDDENDESTINATION},
		{"https://[::]/", paygate.EFORBIDDENDESTINATION},
		{"https://0.0.0.0/", paygate.EFORBIDDENDESTINATION},
		{"https://0/", paygate.EFORBIDDENDESTINATION},
		{"https://[::ffff:127.0.0.1]/", paygate.EFORBIDDENDESTINATION},
		{"https://[::ffff:7f00:1]/", paygate.EFORBIDDENDESTINATION},
		{"https://[64:ff9b::a9fe:a9fe]/", paygate.EFORBIDDENDESTINATION}, // NAT64 of 169.254.169.254
		{"https://[2002:a00:1::]/", paygate.EFORBIDDENDESTINATION},       // 6to4 of 10.0.0.1
		{"https://2130706433/", paygate.EFORBIDDENDESTINATION},           // decimal 127.0.0.1
		{"https://0177.0.0.1/", paygate.EFORBIDDENDESTINATION},           // octal
		{"https://0x7f.0.0.1/", paygate.EFORBIDDENDESTINATION},           // hex
		{"https://0x7f000001/", paygate.EFORBIDDENDESTINATION},
		{"https://127.1/", paygate.EFORBIDDENDESTINATION},
		{"https://10.1.2.3/", paygate.EFORBIDDENDESTINATION},
		{"https://172.16.0.1/", paygate.EFORBIDDENDESTINATION},
		{"https://172.31.255.255/", paygate.EFORBIDDENDESTINATION},
		{"https://192.168.1.1/", paygate.EFORBIDDENDESTINATION},
		{"https://100.64.0.1/", paygate.EFORBIDDENDESTINATION},
		{"https://100.127.255.254/", paygate.EFORBIDDENDESTINATION},
		{"https://169.254.169.254/latest/meta-data/", paygate.EFORBIDDENDESTINATION},
		{"https://2852039166/", paygate.EFORBIDDENDESTINATION}, // decimal 169.254.169.254
		{"https://[fe80::1]/", paygate.EFORBIDDENDESTINATION},
		{"https://[fe80::1%25eth0]/", paygate.EFORBIDDENDESTINATION},
		{"https://[fd00::1]/", paygate.EFORBIDDENDESTINATION},
		{"https://[fc00::1]/", paygate.EFORBIDDENDESTINATION},
		{"https://224.0.0.1/", paygate.EFORBIDDENDESTINATION},
		{"https://[ff02::1]/", paygate.EFORBIDDENDESTINATION},
		{"https://255.255.255.255/", paygate.EFORBIDDENDESTINATION},
		{"https://256.0.0.1/", paygate.EPARAMINVALID},
		{"https://1.2.3.4.5/", paygate.EPARAMINVALID},
		{"https://shop.123/", paygate.EPARAMINVALID},
		{"https://" + strings.Repeat("a", 520) + ".com/", paygate.ESTRINGTOOLONG},
	} {
		err := strict.Check("notify_url", tc.url)
		if got := paygate.ErrorCode(err); got != tc.code {
			t.Errorf("%s: code %q, want %q (%v)", tc.url, got, tc.code, err)
			continue
		}
		var pe *paygate.Error
		if err != nil && (!errors.As(err, &pe) || pe.Param != "notify_url") {
			t.Errorf("%s: error %v does not name notify_url", tc.url, err)
		}
	}
}

// allowed_networks lets the listed networks through and nothing more; the
// sandbox lists loopback only.
func TestCheckAllowedNetworks(t *testing.T) {
	sb := webhookurl.Sandbox()
	for _, ok := range []string{"http://127.0.0.1:9000/", "http://localhost/", "http://[::1]/", "http://2130706433/", "http://[::ffff:127.0.0.1]/"} {
		if err := sb.Check("notify_url", ok); err != nil {
			t.Errorf("sandbox refuses %s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.0.0.1/", "http://169.254.169.254/", "http://192.168.0.1/", "http://[fe80::1]/", "http://0.0.0.0/"} {
		if err := sb.Check("notify_url", bad); paygate.ErrorCode(err) != paygate.EFORBIDDENDESTINATION {
			t.Errorf("sandbox accepts %s: %v", bad, err)
		}
	}
	p, err := webhookurl.New(false, []string{"10.20.0.0/16", "fd12::7"})
	if err != nil {
		t.Fatal(err)
	}
	for url, code := range map[string]string{
		"https://10.20.3.4/":      "",
		"https://10.21.0.1/":      paygate.EFORBIDDENDESTINATION,
		"https://[fd12::7]/":      "",
		"https://[fd12::8]/":      paygate.EFORBIDDENDESTINATION,
		"http://10.20.3.4/":       paygate.EINSECUREURL,
		"https://127.0.0.1/":      paygate.EFORBIDDENDESTINATION,
		"https://hooks.example/":  "",
		"https://[::ffff:a14:1]/": "", // 10.20.0.1, mapped
	} {
		if got := paygate.ErrorCode(p.Check("notify_url", url)); got != code {
			t.Errorf("%s: %q, want %q", url, got, code)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "not-an-ip", "fe80::1%eth0"} {
		if _, err := webhookurl.New(false, []string{bad}); err == nil {
			t.Errorf("New accepts %q", bad)
		}
	}
}

// A hostname that passes the given-URL check but resolves to an internal
// address (at once, or after a first public answer: DNS rebinding) is
// refused when connecting, and nothing reaches the internal server.
func TestClientRefusesResolvedInternalAddress(t *testing.T) {
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "internal secret")
	}))
	defer internal.Close()
	port := internal.URL[strings.LastIndex(internal.URL, ":")+1:]

	p := &webhookurl.Policy{AllowHTTP: true, Resolver: dnstest.Resolver(t, "93.184.216.34", "127.0.0.1")}
	url := "http://hooks.merchant.example:" + port + "/hook"
	if err := p.Check("notify_url", url); err != nil {
		t.Fatalf("a public-looking name is refused when given: %v", err)
	}
	// The first lookup (public) is spent as a check by someone else; the
	// connection's own lookup answers 127.0.0.1.
	if _, err := p.Resolver.LookupHost(context.Background(), "hooks.merchant.example"); err != nil {
		t.Fatal(err)
	}
	c := p.Client(2 * time.Second)
	defer c.CloseIdleConnections()
	for _, u := range []string{url, "http://localhost:" + port + "/", "http://127.0.0.1:" + port + "/", "http://[::ffff:127.0.0.1]:" + port + "/"} {
		resp, err := c.Post(u, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: connected (%d)", u, resp.StatusCode)
			continue
		}
		if !errors.Is(err, webhookurl.ErrForbidden) {
			t.Errorf("%s: %v, want ErrForbidden", u, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the internal server was reached %d times", hits.Load())
	}
	// The same client reaches an allowed network.
	allowed := &webhookurl.Policy{AllowHTTP: true, Allowed: webhookurl.Loopback}
	resp, err := allowed.Client(2*time.Second).Post(internal.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// A redirect is the attempt's answer: never followed, whatever its target.
func TestClientDoesNotFollowRedirects(t *testing.T) {
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	defer internal.Close()
	redirector := httptest.NewServer(http.RedirectHandler(internal.URL+"/admin", http.StatusSeeOther))
	defer redirector.Close()
	c := webhookurl.Sandbox().Client(2 * time.Second)
	resp, err := c.Post(redirector.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || hits.Load() != 0 {
		t.Fatalf("status %d, internal hits %d", resp.StatusCode, hits.Load())
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"https://example.com/", "http://2130706433/", "https://0x7f.1/", "https://[::ffff:127.0.0.1]/",
		"https://1.2.3.4.5/", "https://[fe80::1%25eth0]:80/", "https://a.b.0x/"} {
		f.Add(s)
	}
	strict, sb := &webhookurl.Policy{}, webhookurl.Sandbox()
	f.Fuzz(func(t *testing.T, raw string) {
		err := strict.Check("notify_url", raw)
		if err != nil {
			var pe *paygate.Error
			if !errors.As(err, &pe) || pe.Param != "notify_url" {
				t.Fatalf("%q: %v", raw, err)
			}
		}
		// The sandbox policy allows more, never less.
		if err == nil && sb.Check("notify_url", raw) != nil {
			t.Fatalf("%q: allowed in production, refused in the sandbox", raw)
		}
	})
}
