package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/store"
)

func TestTerminalLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		expires := clk.Now().Add(24 * time.Hour)
		term := &paygate.Terminal{MerchantID: "m1", TerminalID: "T0002", SerialNo: "SN1", Model: "P2", RegionCode: "310000",
			ActivationExpiresAt: &expires}
		if err := db.CreateTerminal(ctx, term, "hash-1"); err != nil {
			t.Fatal(err)
		}
		if term.Status != paygate.TerminalPendingActivation || term.ID == "" {
			t.Fatalf("created %+v", term)
		}
		// The terminal number is unique per merchant, not across merchants.
		wantCode(t, db.CreateTerminal(ctx, &paygate.Terminal{MerchantID: "m1", TerminalID: "T0002", RegionCode: "310000"}, "hash-2"), paygate.ECONFLICT)
		if err := db.CreateTerminal(ctx, &paygate.Terminal{MerchantID: "m2", TerminalID: "T0002", RegionCode: "110000"}, "hash-3"); err != nil {
			t.Fatal(err)
		}
		// Scoped reads.
		if _, err := db.Terminal(ctx, "m2", term.ID); paygate.ErrorCode(err) != paygate.ENOTFOUND {
			t.Fatalf("other merchant read: %v", err)
		}
		got, err := db.TerminalByNumber(ctx, "m1", "T0002")
		if err != nil || got.ID != term.ID || got.RegionCode != "310000" {
			t.Fatalf("by number: %+v %v", got, err)
		}
		// No key before activation.
		wantCode(t, func() error { _, _, err := db.TerminalKey(ctx, "tk_1"); return err }(), paygate.EINVALIDKEY)

		// Two concurrent activations with one code: exactly one wins.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = db.ActivateTerminal(ctx, "hash-1", "tk_"+string(rune('a'+i)), "sealed", clk.Now())
			}()
		}
		wg.Wait()
		won := ""
		for i, err := range errs {
			switch paygate.ErrorCode(err) {
			case "":
				if won != "" {
					t.Fatalf("two activations with one code")
				}
				won = "tk_" + string(rune('a'+i))
			case paygate.ENOTFOUND:
			default:
				t.Fatalf("activate: %v", err)
			}
		}
		if won == "" {
			t.Fatal("no activation succeeded")
		}
		k, sealed, err := db.TerminalKey(ctx, won)
		if err != nil || k.MerchantID != "m1" || k.TerminalID != "T0002" || sealed != "sealed" {
			t.Fatalf("key: %+v %q %v", k, sealed, err)
		}
		got, _ = db.Terminal(ctx, "m1", term.ID)
		if got.Status != paygate.TerminalActive || got.KeyID != won || got.ActivatedAt == nil {
			t.Fatalf("activated: %+v", got)
		}

		// Deactivation revokes the key; a second one changes nothing.
		clk.Advance(1)
		d, err := db.DeactivateTerminal(ctx, "m1", term.ID, clk.Now())
		if err != nil || d.Status != paygate.TerminalDeactivated || d.DeactivatedAt == nil {
			t.Fatalf("deactivate: %+v %v", d, err)
		}
		wantCode(t, func() error { _, _, err := db.TerminalKey(ctx, won); return err }(), paygate.EINVALIDKEY)
		if d2, err := db.DeactivateTerminal(ctx, "m1", term.ID, clk.Now()); err != nil || !d2.DeactivatedAt.Equal(*d.DeactivatedAt) {
			t.Fatalf("second deactivate: %+v %v", d2, err)
		}
		wantCode(t, func() error { _, err := db.DeactivateTerminal(ctx, "m2", term.ID, clk.Now()); return err }(), paygate.ENOTFOUND)
		// A used code cannot be used again, and a deactivated terminal's code is gone.
		wantCode(t, func() error { _, err := db.ActivateTerminal(ctx, "hash-1", "tk_z", "s", clk.Now()); return err }(), paygate.ENOTFOUND)
	})
}

func TestActivationCodeExpiry(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		expires := clk.Now().Add(time.Hour).Truncate(time.Microsecond) // the stores keep microseconds
		term := &paygate.Terminal{MerchantID: "m1", TerminalID: "T0003", RegionCode: "310000", ActivationExpiresAt: &expires}
		if err := db.CreateTerminal(ctx, term, "old"); err != nil {
			t.Fatal(err)
		}
		got, err := db.Terminal(ctx, "m1", term.ID)
		if err != nil || got.ActivationExpiresAt == nil || !got.ActivationExpiresAt.Equal(expires) {
			t.Fatalf("expiry read back: %+v %v", got, err)
		}
		activate := func(hash string) error {
			_, err := db.ActivateTerminal(ctx, hash, "tk_"+hash, "sealed", clk.Now())
			return err
		}
		// At the expiry instant the code no longer works; an expired code
		// is told apart from an unknown one.
		clk.Advance(time.Hour)
		wantCode(t, activate("old"), paygate.EACTIVATIONEXPIRED)
		wantCode(t, activate("nope"), paygate.ENOTFOUND)

		// A new code replaces the old one, expired or not.
		r, err := db.ReissueActivationCode(ctx, "m1", term.ID, "new", clk.Now().Add(time.Hour))
		if err != nil || r.Status != paygate.TerminalPendingActivation || !r.ActivationExpiresAt.Equal(expires.Add(time.Hour)) {
			t.Fatalf("reissue: %+v %v", r, err)
		}
		wantCode(t, activate("old"), paygate.ENOTFOUND)
		wantCode(t, func() error { _, err := db.ReissueActivationCode(ctx, "m2", term.ID, "x", clk.Now()); return err }(), paygate.ENOTFOUND)
		if err := activate("new"); err != nil {
			t.Fatal(err)
		}
		got, _ = db.Terminal(ctx, "m1", term.ID)
		if got.Status != paygate.TerminalActive || got.ActivationExpiresAt != nil {
			t.Fatalf("activated: %+v", got)
		}
		// An active terminal gets no new code.
		wantCode(t, func() error { _, err := db.ReissueActivationCode(ctx, "m1", term.ID, "x", clk.Now()); return err }(), paygate.EINVALIDSTATE)

		// A code stored without an expiry (issued before codes had one) is void.
		legacy := &paygate.Terminal{MerchantID: "m1", TerminalID: "T0004", RegionCode: "310000"}
		if err := db.CreateTerminal(ctx, legacy, "legacy"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, activate("legacy"), paygate.EACTIVATIONEXPIRED)
	})
}
