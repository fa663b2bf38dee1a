package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/store"
)

// wechatConfig writes a configuration with one WeChat provider whose
// merchant account is mchid.
func wechatConfig(t *testing.T, dir, mchid string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	indent := func(b []byte) string { return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n        ") }
	priv := indent(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))}))
	path := filepath.Join(dir, "paygate.yaml")
	err = os.WriteFile(path, []byte(`sandbox:
  enabled: false
providers:
  - id: wechat
    kind: wechat
    base_url: https://api.mch.weixin.qq.com
    credentials:
      mchid: "`+mchid+`"
      appid: wx8888888888888888
      serial_no: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
      api_v3_key: "0123456789abcdef0123456789abcdef"
      platform_public_key_id: PUB_KEY_ID_0000000000000000000000000000
      private_key: |
        `+priv+`
      platform_public_key: |
        `+indent(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))+`
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestReconCLI runs `paygate recon run --bill`, `recon report` and
// `statement` on a real-format WeChat bill, and a bill of another merchant
// account, which fails its run and records nothing else.
func TestReconCLI(t *testing.T) {
	ctx := context.Background()
	bill, err := filepath.Abs("../../reconcile/testdata/wechat_all.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, mchid string
		fails       bool
	}{{"own bill", "1900000109", false}, {"foreign bill", "1900000999", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			env := map[string]string{"PAYGATE_CONFIG": wechatConfig(t, dir, tc.mchid), "PAYGATE_DATA_DIR": dir,
				"PAYGATE_DATABASE_URL": "sqlite:" + filepath.Join(dir, "paygate.db")}
			getenv := func(k string) string { return env[k] }
			var out, errOut bytes.Buffer
			err := run(ctx, []string{"recon", "run", "--date", "2026-11-21", "--provider", "wechat", "--bill", bill}, getenv, &out, &errOut)
			db, oerr := store.Open(ctx, env["PAYGATE_DATABASE_URL"], store.Options{})
			if oerr != nil {
				t.Fatal(oerr)
			}
			defer db.Close()
			runs, _ := db.Reconciliations(ctx, "", "2026-11-21", nil)
			if len(runs) != 1 {
				t.Fatalf("%d runs", len(runs))
			}
			if tc.fails {
				if err == nil || runs[0].Status != paygate.RunFailed || !strings.Contains(runs[0].Failure, "wechat_all.csv:") {
					t.Fatalf("foreign bill: err %v, run %+v", err, runs[0])
				}
				if ds, _, _ := db.Discrepancies(ctx, paygate.DiscrepancyFilter{RunID: runs[0].ID}); len(ds) != 0 {
					t.Fatalf("a failed run recorded %d discrepancies", len(ds))
				}
				return
			}
			if err != nil || runs[0].Status != paygate.RunSucceeded || runs[0].Outcomes[paygate.ReconMissingInPaygate] == 0 || runs[0].BillSHA1 == "" {
				t.Fatalf("err %v, run %+v\n%s", err, runs[0], out.String())
			}
			if !strings.Contains(out.String(), "missing_in_paygate") || !strings.Contains(out.String(), runs[0].ID) {
				t.Errorf("report:\n%s", out.String())
			}
			out.Reset()
			if err := run(ctx, []string{"statement", "--merchant", "m_1", "--date", "2026-11-21", "--format", "csv"}, getenv, &out, &errOut); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(out.String(), "\uFEFF类型,时间") || !strings.Contains(out.String(), "总计") {
				t.Errorf("statement:\n%s", out.String())
			}
			if err := run(ctx, []string{"recon", "run", "--date", "21/11/2026"}, getenv, &out, &errOut); err == nil {
				t.Error("a bad date was accepted")
			}
		})
	}
}
