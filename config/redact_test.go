package config_test

import (
	"strings"
	"testing"

	"github.com/paygate-cn/paygate/config"
)

// A password never shows in a message naming a database or Redis URL.
func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"redis://127.0.0.1:6379/0":                         `"redis://127.0.0.1:6379/0"`,
		"redis://:hunter2@redis.internal:6379/0":           `"redis://:xxxxx@redis.internal:6379/0"`,
		"postgres://app:hunter2@db/paygate?sslmode=verify": `"postgres://app:xxxxx@db/paygate?sslmode=verify"`,
		"postgres://app@db/paygate?password=hunter2":       `"postgres://app@db/paygate?password=xxxxx"`,
		"10.0.0.1:6379,10.0.0.2:6379":                      `"10.0.0.1:6379,10.0.0.2:6379"`,
		"redis://:hunter2@[::1":                            `"redis://..."`,
		"u:hunter2@10.0.0.1:6379,10.0.0.2:6379":            "the value",
	} {
		got := config.RedactURL(raw)
		if got != want || strings.Contains(got, "hunter2") {
			t.Errorf("RedactURL(%q) = %s, want %s", raw, got, want)
		}
	}
}
