package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/store"
)

func TestQRCodeLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		amount := int64(1500)
		fixed := &paygate.QRCode{MerchantID: "m1", Code: "code-fixed", StoreName: "静安店", Amount: &amount, TerminalID: "T0001"}
		if err := db.CreateQRCode(ctx, fixed); err != nil {
			t.Fatal(err)
		}
		if fixed.ID == "" || !fixed.Active {
			t.Fatalf("created %+v", fixed)
		}
		clk.Advance(time.Millisecond)
		open := &paygate.QRCode{MerchantID: "m1", Code: "code-open", StoreName: "Shop", Description: "counter 2"}
		if err := db.CreateQRCode(ctx, open); err != nil {
			t.Fatal(err)
		}
		// The code is unique across merchants.
		wantCode(t, db.CreateQRCode(ctx, &paygate.QRCode{MerchantID: "m2", Code: "code-open", StoreName: "x"}), paygate.ECONFLICT)

		got, err := db.QRCode(ctx, "m1", fixed.ID)
		if err != nil || got.Amount == nil || *got.Amount != 1500 || got.StoreName != "静安店" || got.TerminalID != "T0001" ||
			!got.CreatedAt.Equal(fixed.CreatedAt) || !got.Active {
			t.Fatalf("read %+v %v", got, err)
		}
		if _, err := db.QRCode(ctx, "m2", fixed.ID); paygate.ErrorCode(err) != paygate.ENOTFOUND {
			t.Fatalf("other merchant read: %v", err)
		}
		byCode, err := db.QRCodeByCode(ctx, "code-open")
		if err != nil || byCode.ID != open.ID || byCode.Amount != nil || byCode.Description != "counter 2" {
			t.Fatalf("by code %+v %v", byCode, err)
		}
		wantCode(t, func() error { _, err := db.QRCodeByCode(ctx, "nope"); return err }(), paygate.ENOTFOUND)

		// Newest first, one per page.
		page, next, err := db.QRCodes(ctx, paygate.QRCodeFilter{MerchantID: "m1", Limit: 1})
		if err != nil || len(page) != 1 || page[0].ID != open.ID || next == "" {
			t.Fatalf("page 1: %v %q %v", page, next, err)
		}
		page, next, err = db.QRCodes(ctx, paygate.QRCodeFilter{MerchantID: "m1", Limit: 1, Cursor: next})
		if err != nil || len(page) != 1 || page[0].ID != fixed.ID || next != "" {
			t.Fatalf("page 2: %v %q %v", page, next, err)
		}
		wantCode(t, func() error {
			_, _, err := db.QRCodes(ctx, paygate.QRCodeFilter{MerchantID: "m1", Cursor: "!!"})
			return err
		}(), paygate.EPARAMINVALID)

		// Deactivation is idempotent and keeps the first time.
		at := clk.Now()
		d, err := db.DeactivateQRCode(ctx, "m1", open.ID, at)
		if err != nil || d.Active || d.DeactivatedAt == nil || !d.DeactivatedAt.Equal(at.UTC().Truncate(time.Microsecond)) {
			t.Fatalf("deactivated %+v %v", d, err)
		}
		clk.Advance(time.Hour)
		d2, err := db.DeactivateQRCode(ctx, "m1", open.ID, clk.Now())
		if err != nil || !d2.DeactivatedAt.Equal(*d.DeactivatedAt) {
			t.Fatalf("again %+v %v", d2, err)
		}
		wantCode(t, func() error { _, err := db.DeactivateQRCode(ctx, "m2", fixed.ID, at); return err }(), paygate.ENOTFOUND)
	})
}

// Static-QR orders keep their source and code.
func TestOrderSourceStored(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		o := &paygate.Order{MerchantID: "m1", MerchantOrderNo: "sqr-1", Amount: 100, Currency: "CNY", Subject: "s",
			Method: paygate.MethodJSAPI, Channel: "wechat", Provider: "wechat", ExpiresAt: clk.Now().Add(time.Hour),
			Source: paygate.SourceStaticQR, QRCodeID: "qrc_1"}
		if err := db.CreateOrder(ctx, o); err != nil {
			t.Fatal(err)
		}
		got, err := db.MerchantOrder(ctx, "m1", o.ID)
		if err != nil || got.Source != paygate.SourceStaticQR || got.QRCodeID != "qrc_1" {
			t.Fatalf("read %+v %v", got, err)
		}
	})
}
