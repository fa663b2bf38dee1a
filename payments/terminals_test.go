package payments_test

import (
	"context"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/payments"
	"github.com/paygate-cn/paygate/store"
	"github.com/paygate-cn/paygate/store/storetest"
)

// A payment is bound to an active terminal of its merchant: the
// configuration's first (always active), then those registered through the
// API (docs/terminals.md, "Terminal binding").
func TestTerminalBinding(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dir := (&config.Config{}).Directory()
		if err := dir.AddMerchant(&paygate.Merchant{ID: "m1"}, config.Terminal{ID: "T1", RegionCode: "310000"}); err != nil {
			t.Fatal(err)
		}
		if err := dir.AddMerchant(&paygate.Merchant{ID: "m2"}); err != nil {
			t.Fatal(err)
		}
		expires := time.Now().Add(time.Hour)
		// T1 registered too: the configured one wins.
		for _, id := range []string{"T1", "T2"} {
			if err := db.CreateTerminal(ctx, &paygate.Terminal{MerchantID: "m1", TerminalID: id, RegionCode: "110000",
				ActivationExpiresAt: &expires}, "hash-"+id); err != nil {
				t.Fatal(err)
			}
		}
		terms := &payments.Terminals{Configured: dir, Registered: db}
		p := &payments.Payments{Terminals: terms}

		got, err := p.Terminal(ctx, "m1", "T1")
		if err != nil || got.RegionCode != "310000" || got.Status != paygate.TerminalActive {
			t.Fatalf("configured terminal: %+v, %v", got, err)
		}
		if !terms.IsConfigured(ctx, "m1", "T1") || terms.IsConfigured(ctx, "m1", "T2") || terms.IsConfigured(ctx, "m2", "T1") {
			t.Error("IsConfigured does not tell the configuration's terminals")
		}
		if reg, err := terms.TerminalByNumber(ctx, "m1", "T2"); err != nil || reg.RegionCode != "110000" {
			t.Fatalf("registered terminal: %+v, %v", reg, err)
		}
		for _, tc := range []struct{ merchant, terminal, code string }{
			{"m1", "T2", paygate.ETERMINALINACTIVE}, // registered, not activated
			{"m1", "T3", paygate.ETERMINALUNKNOWN},
			{"m2", "T1", paygate.ETERMINALUNKNOWN}, // another merchant's
		} {
			if _, err := p.Terminal(ctx, tc.merchant, tc.terminal); paygate.ErrorCode(err) != tc.code {
				t.Errorf("%s/%s: err %v, want %s", tc.merchant, tc.terminal, err, tc.code)
			}
		}
		// Without Terminals, terminal ids are not checked.
		if term, err := (&payments.Payments{}).Terminal(ctx, "m1", "T9"); term != nil || err != nil {
			t.Errorf("no terminals: %+v, %v", term, err)
		}
	})
}
