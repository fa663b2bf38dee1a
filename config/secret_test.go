package config_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paygate-cn/paygate/config"
)

const secretYAML = `
database_url: env:PG_URL
providers:
  - id: wx
    kind: wechat
    credentials:
      mchid: "1900000109"
      appid: "wx8888888888888888"
      serial_no: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
      api_v3_key: env:WX_V3_KEY
      private_key: file:keys/wx.pem
      platform_public_key: "pem"
      platform_public_key_id: "PUB_KEY_ID_0114232134912410000"
merchants:
  - id: m1
    name: Shop
    mcc: "5812"
    merchant_no: "898310058120001"
    region_code: "310000"
    webhook_secrets: [env:M1_WEBHOOK]
    keys:
      - {id: k1, secret: "file:keys/k1.secret"}
`

func TestSecretIndirection(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "paygate.yaml")
	writeFile(t, path, secretYAML)
	pem := "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"
	writeFile(t, filepath.Join(dir, "keys/wx.pem"), pem+"\n")
	writeFile(t, filepath.Join(dir, "keys/k1.secret"), "0123456789abcdef0123456789abcdef\r\n")
	e := env{
		"PG_URL":     "postgres://postgres@127.0.0.1:5432/test",
		"WX_V3_KEY":  "v3key-0123456789abcdef0123456789",
		"M1_WEBHOOK": "whsec_0123456789abcdef",
	}
	c, err := config.Load(path, e.get)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ got, want string }{
		{c.DatabaseURL, e["PG_URL"]},
		{c.Providers[0].Credentials["api_v3_key"], e["WX_V3_KEY"]},
		{c.Providers[0].Credentials["private_key"], pem}, // relative to the config file, newline dropped
		{c.Providers[0].Credentials["mchid"], "1900000109"},
		{c.Merchants[0].WebhookSecrets[0], e["M1_WEBHOOK"]},
		{c.Merchants[0].Keys[0].Secret, "0123456789abcdef0123456789abcdef"},
	}
	for i, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("check %d: got %q, want %q", i, ch.got, ch.want)
		}
	}

	// Every failure names the field; no value leaks.
	os.Remove(filepath.Join(dir, "keys/k1.secret"))
	writeFile(t, filepath.Join(dir, "keys/wx.pem"), "\n")
	_, err = config.Load(path, env{"PG_URL": e["PG_URL"]}.get)
	for _, want := range []string{
		"providers[0].credentials.api_v3_key: environment variable WX_V3_KEY is not set",
		"providers[0].credentials.private_key: secret file " + filepath.Join(dir, "keys/wx.pem") + " is empty",
		"merchants[0].webhook_secrets[0]: environment variable M1_WEBHOOK is not set",
		"merchants[0].keys[0].secret: secret file:",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\ndoes not contain %q", err, want)
		}
	}
}

func TestSecretFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	_, err := config.Parse([]byte("sandbox: {secret: \"file:"+dir+"\"}"), nil)
	if err == nil || !strings.Contains(err.Error(), "sandbox.secret: secret file "+dir+" is not a regular file") {
		t.Fatalf("error = %v", err)
	}
	_, err = config.Parse([]byte("redis_url: \"env:\""), nil)
	if err == nil || !strings.Contains(err.Error(), `redis_url: "env:" names no environment variable`) {
		t.Fatalf("error = %v", err)
	}
}

// The example loads and validates with the environment and files it names.
func TestExample(t *testing.T) {
	data := config.Example()
	disk, err := os.ReadFile("paygate.example.yaml")
	if err != nil || string(disk) != string(data) {
		t.Fatalf("Example() differs from paygate.example.yaml (%v)", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "paygate.yaml")
	writeFile(t, path, string(data))

	e := env{}
	refs := regexp.MustCompile(`"(env|file):([^"]+)"`).FindAllStringSubmatch(string(data), -1)
	if len(refs) < 10 {
		t.Fatalf("the example has only %d secret indirections", len(refs))
	}
	for _, r := range refs {
		switch r[1] {
		case "env":
			e[r[2]] = "secret-value-of-" + r[2] + "-0123456789abcdef"
		case "file":
			writeFile(t, filepath.Join(dir, r[2]), "secret-in-"+r[2]+"-0123456789abcdef0123456789\n")
		}
	}
	e["PAYGATE_PG_URL"] = "postgres://paygate:pw@db.internal:5432/paygate?sslmode=verify-full"
	e["PAYGATE_REDIS"] = "rediss://:pw@redis.internal:6380/0"

	c, err := config.Load(path, e.get)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, p := range c.Providers {
		kinds[p.Kind]++
	}
	for _, k := range []string{"wechat", "alipay", "unionpay", "ecny"} {
		if kinds[k] != 1 {
			t.Errorf("the example has %d %s providers, want 1", kinds[k], k)
		}
	}
	if kinds["acquirer"] != 2 {
		t.Errorf("the example has %d acquirers, want 2", kinds["acquirer"])
	}
	if c.Sandbox.Enabled || len(c.Merchants) != 1 || c.Merchants[0].Risk == nil || len(c.Merchants[0].Contracts) == 0 {
		t.Errorf("example merchants = %+v", c.Merchants)
	}
	if got := c.Merchants[0].Keys[1].Secret; !strings.HasPrefix(got, "secret-in-secrets/cafe_pos1.key") {
		t.Errorf("file: secret = %q", got)
	}
}
