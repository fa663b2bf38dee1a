package config_test

import (
	"strings"
	"testing"

	"github.com/paygate-cn/paygate/config"
)

// The webhook policy: strict with a file, loopback and http in the
// sandbox, and the environment overriding both.
func TestWebhookPolicyConfig(t *testing.T) {
	prod := "sandbox:\n  enabled: false\n"
	for _, tc := range []struct {
		name, yaml string
		env        env
		allowed    []string // URLs the policy accepts
		refused    []string
	}{
		{"production", prod, env{},
			[]string{"https://shop.example.com/hook"},
			[]string{"http://shop.example.com/hook", "https://127.0.0.1/", "https://10.1.1.1/"}},
		{"sandbox", "", env{},
			[]string{"http://127.0.0.1:9000/", "http://[::1]/", "https://shop.example.com/"},
			[]string{"http://10.1.1.1/", "http://169.254.169.254/"}},
		{"file", prod + "webhooks:\n  allow_http: true\n  allowed_networks: [10.20.0.0/16]\n", env{},
			[]string{"http://10.20.1.2/"},
			[]string{"http://10.21.1.2/", "http://127.0.0.1/"}},
		{"env over file", prod + "webhooks:\n  allowed_networks: [10.20.0.0/16]\n",
			env{config.EnvWebhooksAllowedNetworks: "192.168.5.0/24, 127.0.0.1", config.EnvWebhooksAllowHTTP: "true"},
			[]string{"http://192.168.5.9/", "http://127.0.0.1/"},
			[]string{"http://10.20.1.2/", "http://127.0.0.2/"}},
		{"env over the sandbox", "", env{config.EnvWebhooksAllowedNetworks: "none", config.EnvWebhooksAllowHTTP: "false"},
			[]string{"https://shop.example.com/"},
			[]string{"http://shop.example.com/", "https://127.0.0.1/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tc.yaml), tc.env.get)
			if tc.yaml == "" {
				c, err = config.Load("", tc.env.get)
			}
			if err != nil {
				t.Fatal(err)
			}
			p := c.Webhooks.Policy()
			for _, u := range tc.allowed {
				if err := p.Check("notify_url", u); err != nil {
					t.Errorf("%s refused: %v", u, err)
				}
			}
			for _, u := range tc.refused {
				if err := p.Check("notify_url", u); err == nil {
					t.Errorf("%s allowed", u)
				}
			}
		})
	}
}

// Configured webhook URLs and networks are checked at start, every fault
// named.
func TestWebhookPolicyValidation(t *testing.T) {
	yaml := `sandbox:
  enabled: false
webhooks:
  allowed_networks: [10.0.0.0/33, nonsense]
merchants:
  - id: m_1
    name: Shop
    mcc: "5812"
    merchant_no: "898310058120001"
    region_code: "310000"
    webhook_url: http://shop.example.com/hook
  - id: m_2
    name: Shop 2
    mcc: "5812"
    merchant_no: "898310058120002"
    region_code: "310000"
    webhook_url: https://169.254.169.254/hook
`
	_, err := config.Parse([]byte(yaml), env{}.get)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"webhooks.allowed_networks[0]", "webhooks.allowed_networks[1]",
		"merchants[0].webhook_url", "merchants[1].webhook_url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %s in %v", want, err)
		}
	}
	if _, err := config.Load("", env{config.EnvWebhooksAllowHTTP: "maybe"}.get); err == nil || !strings.Contains(err.Error(), config.EnvWebhooksAllowHTTP) {
		t.Errorf("malformed %s: %v", config.EnvWebhooksAllowHTTP, err)
	}
}
