package config_test

import (
	"context"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
)

func TestDirectory(t *testing.T) {
	ctx := context.Background()
	c := valid(t)
	d := c.Directory()

	m, err := d.Merchant(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if m.MCC != "5812" || m.MerchantNo != "898310058120001" || m.RegionCode != "310000" ||
		!m.Enabled("wx") || m.Enabled("other") || len(m.Contracts["wx"]) != 1 || m.Risk == nil {
		t.Fatalf("merchant = %+v", m)
	}
	if _, err := d.Merchant(ctx, "nobody"); paygate.ErrorCode(err) != paygate.ENOTFOUND {
		t.Fatalf("unknown merchant: %v", err)
	}

	k, err := d.APIKey(ctx, "k2")
	if err != nil || k.MerchantID != "m1" || k.TerminalID != "T1" {
		t.Fatalf("terminal key = %+v, %v", k, err)
	}
	if _, err := d.APIKey(ctx, "nokey"); paygate.ErrorCode(err) != paygate.EINVALIDKEY {
		t.Fatalf("unknown key: %v", err)
	}

	if tr, err := d.Terminal(ctx, "m1", "T1"); err != nil || tr.RegionCode != "310000" {
		t.Fatalf("terminal = %+v, %v", tr, err)
	}
	if _, err := d.Terminal(ctx, "m1", "T2"); paygate.ErrorCode(err) != paygate.ENOTFOUND {
		t.Fatalf("unknown terminal: %v", err)
	}

	// The directory holds copies: changing the config afterwards changes nothing.
	c.Merchants[0].Providers[0] = "changed"
	if m, _ := d.Merchant(ctx, "m1"); m.Providers[0] != "wx" {
		t.Fatal("the directory shares the config's slices")
	}
}

func TestDirectoryMutators(t *testing.T) {
	ctx := context.Background()
	d := valid(t).Directory()

	secret := "0123456789abcdef0123456789abcdef"
	if err := d.AddKey(&paygate.APIKey{ID: "k3", MerchantID: "m1", Secret: secret}); err != nil {
		t.Fatal(err)
	}
	if k, err := d.APIKey(ctx, "k3"); err != nil || k.Secret != secret {
		t.Fatalf("added key = %+v, %v", k, err)
	}
	for name, tt := range map[string]struct {
		key  *paygate.APIKey
		code string
	}{
		"duplicate":        {&paygate.APIKey{ID: "k1", MerchantID: "m1"}, paygate.ECONFLICT},
		"unknown merchant": {&paygate.APIKey{ID: "k4", MerchantID: "m9"}, paygate.ENOTFOUND},
		"unknown terminal": {&paygate.APIKey{ID: "k5", MerchantID: "m1", TerminalID: "T9"}, paygate.ENOTFOUND},
	} {
		if err := d.AddKey(tt.key); paygate.ErrorCode(err) != tt.code {
			t.Errorf("%s: %v, want %s", name, err, tt.code)
		}
	}

	now := time.Now()
	if err := d.AddKey(&paygate.APIKey{ID: "revoked", MerchantID: "m1", RevokedAt: &now}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.APIKey(ctx, "revoked"); paygate.ErrorCode(err) != paygate.EINVALIDKEY {
		t.Fatalf("revoked key: %v", err)
	}

	if err := d.AddMerchant(&paygate.Merchant{ID: "m2"}, config.Terminal{ID: "T1", RegionCode: "110000"}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddMerchant(&paygate.Merchant{ID: "m2"}); paygate.ErrorCode(err) != paygate.ECONFLICT {
		t.Fatalf("duplicate merchant: %v", err)
	}
	if tr, err := d.Terminal(ctx, "m2", "T1"); err != nil || tr.RegionCode != "110000" {
		t.Fatalf("terminal of an added merchant = %+v, %v", tr, err)
	}
	if len(d.Merchants()) != 2 {
		t.Fatalf("merchants = %v", d.Merchants())
	}

	before, _ := d.Merchant(ctx, "m1")
	if err := d.EnableProvider("m1", "wechat"); err != nil {
		t.Fatal(err)
	}
	after, _ := d.Merchant(ctx, "m1")
	if !after.Enabled("wechat") || before.Enabled("wechat") {
		t.Fatal("EnableProvider did not replace the merchant")
	}
	if err := d.EnableProvider("m9", "wechat"); paygate.ErrorCode(err) != paygate.ENOTFOUND {
		t.Fatalf("unknown merchant: %v", err)
	}
}
