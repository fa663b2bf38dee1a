package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/paygate-cn/paygate/config"
)

func getCredentials(t *testing.T, base string) map[string]map[string]string {
	t.Helper()
	resp, err := http.Get(base + "/sandbox/credentials")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Object   string                       `json:"object"`
		Channels map[string]map[string]string `json:"channels"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 || doc.Object != "sandbox_credentials" {
		t.Fatalf("GET /sandbox/credentials: %d %v", resp.StatusCode, err)
	}
	return doc.Channels
}

// TestSandboxCredentialsSurviveRestart: the simulators' credentials are
// served at /sandbox/credentials, printed at start, and the same after a
// restart on the same data dir.
func TestSandboxCredentialsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	start := func() *Main {
		cfg := config.Default()
		cfg.Addr = "127.0.0.1:0"
		cfg.DataDir = dir
		cfg.Sandbox.KeyID, cfg.Sandbox.Secret = testKeyID, testSecret
		m := NewMain()
		m.Config, m.Out, m.Logger = cfg, &out, discardLogger()
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := start()
	first := getCredentials(t, m.URL)
	m.Close()
	m = start()
	defer m.Close()
	second := getCredentials(t, m.URL)
	for _, ch := range []string{"wechat", "alipay", "unionpay", "ecny", "acquirer"} {
		a, b := first[ch], second[ch]
		if len(a) == 0 {
			t.Fatalf("%s: no credentials", ch)
		}
		for _, k := range []string{"private_key", "api_v3_key", "platform_public_key", "platform_certificate", "alipay_public_key",
			"unionpay_public_key", "bank_public_key", "mac_key", "serial_no", "unionpay_cert_id"} {
			if a[k] != b[k] {
				t.Errorf("%s %s changed across a restart", ch, k)
			}
		}
		if ch != "acquirer" && (!strings.HasPrefix(b["base_url"], m.URL+"/sandbox/"+ch) || b["confirm_url"] != m.URL+"/sandbox/"+ch+"/confirm") {
			t.Errorf("%s base_url %q confirm_url %q", ch, b["base_url"], b["confirm_url"])
		}
	}
	if w := second["wechat"]; !strings.Contains(w["platform_certificate"], "BEGIN CERTIFICATE") || w["platform_serial_no"] == "" ||
		!strings.Contains(w["private_key"], "PRIVATE KEY") || len(w["api_v3_key"]) != 32 {
		t.Errorf("wechat credentials = %v", w)
	}
	printed := out.String()
	for _, want := range []string{"/sandbox/credentials", "mchid=" + second["wechat"]["mchid"], "app_id=" + second["alipay"]["app_id"]} {
		if !strings.Contains(printed, want) {
			t.Errorf("serve did not print %q:\n%s", want, printed)
		}
	}
}

// TestSandboxAloneServesCredentials: paygate sandbox prints the providers
// and serves /sandbox/credentials with its own base URLs.
func TestSandboxAloneServesCredentials(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	env := map[string]string{"PAYGATE_ADDR": "127.0.0.1:0", "PAYGATE_DATA_DIR": dir}
	go func() { done <- runSandbox(ctx, func(k string) string { return env[k] }, pw); pw.Close() }()
	line, err := readLine(pr)
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	// "# channel simulators on http://127.0.0.1:NNNN; callbacks go to ..."
	base := strings.TrimSuffix(strings.Fields(line)[4], ";")
	creds := getCredentials(t, base)
	if !strings.HasPrefix(creds["alipay"]["gateway_url"], base+"/sandbox/alipay/gateway.do") {
		t.Errorf("alipay gateway_url = %q", creds["alipay"]["gateway_url"])
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func readLine(r io.Reader) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := r.Read(one); err != nil {
			return string(b), err
		}
		if one[0] == '\n' {
			return string(b), nil
		}
		b = append(b, one[0])
	}
}
