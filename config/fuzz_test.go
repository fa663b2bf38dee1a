package config_test

import (
	"os"
	"testing"

	"github.com/paygate-cn/paygate/config"
)

// FuzzParse: any bytes either load into a configuration that validates or
// give an error; nothing panics.
func FuzzParse(f *testing.F) {
	// The commented example is left out: minimizing an 8 KB input takes
	// the fuzzer minutes. TestExample covers it.
	f.Add([]byte(validYAML))
	f.Add([]byte(secretYAML))
	f.Add([]byte("merchants:\n  - id: m1\n    terminls: []\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("providers: [{fees: [{rate: 1e99999}]}]\n"))
	f.Add([]byte("<<: {addr: ':1'}\n"))
	for _, name := range []string{"testdata/minimal.yaml", "testdata/sandbox.yaml"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	getenv := func(name string) string { return "fuzz-secret-value-0123456789abcdef" }
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse(data, getenv)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse succeeded but Validate fails: %v", err)
		}
		_ = c.Directory()
	})
}
