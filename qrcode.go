package paygate

import (
	"context"
	"encoding/json"
	"time"
)

// PrefixQRCode prefixes static QR code ids.
const PrefixQRCode = "qrc_"

// SourceStaticQR marks an order paid through a static QR code (一码付):
// the payer scanned the shop's printed code and typed the amount. Such
// orders carry the code's id, and the static QR limit per payer per day
// applies to them (docs/cashier.md).
const SourceStaticQR = "static_qr"

// QRCode is a merchant's static cashier code: the one QR a shop prints
// for a store or till, which any supported wallet can pay (docs/cashier.md).
// Its JSON form is the API's qr_code object.
type QRCode struct {
	ID         string `json:"id"` // qrc_...
	MerchantID string `json:"merchant_id"`
	// Code is the unguessable token in the code's URL (/qr/{code}).
	Code       string `json:"-"`
	TerminalID string `json:"terminal_id"`
	StoreName  string `json:"store_name"`
	// Amount is a fixed amount in fen; nil lets the payer type it.
	Amount      *int64 `json:"amount"`
	Description string `json:"description"`
	Active      bool   `json:"active"`
	// URL and PNGURL are where the code leads and its printable image;
	// they are made from the public URL, not stored.
	URL           string     `json:"url"`
	PNGURL        string     `json:"png_url"`
	CreatedAt     time.Time  `json:"created_at"`
	DeactivatedAt *time.Time `json:"deactivated_at"`
}

// MarshalJSON adds "object": "qr_code".
func (q *QRCode) MarshalJSON() ([]byte, error) {
	type plain QRCode
	return json.Marshal(struct {
		Object string `json:"object"`
		*plain
	}{"qr_code", (*plain)(q)})
}

// QRCodeFilter selects one merchant's static codes for listing.
type QRCodeFilter struct {
	MerchantID string
	Cursor     string // opaque, from a previous page's next cursor
	Limit      int    // 1..100
}

// QRCodeStore persists static QR codes.
type QRCodeStore interface {
	// CreateQRCode inserts q; Active follows DeactivatedAt (nil = active).
	// Returns ECONFLICT if its id or code already exists.
	CreateQRCode(ctx context.Context, q *QRCode) error

	// QRCode returns a merchant's code by id.
	// Returns ENOTFOUND if it does not exist or belongs to another merchant.
	QRCode(ctx context.Context, merchantID, id string) (*QRCode, error)

	// QRCodeByCode returns the code with the given URL token, of any
	// merchant, active or not. Returns ENOTFOUND if there is none.
	QRCodeByCode(ctx context.Context, code string) (*QRCode, error)

	// QRCodes lists a merchant's codes newest first and returns the cursor
	// of the next page ("" when there is none). Returns EPARAMINVALID for
	// a bad cursor.
	QRCodes(ctx context.Context, f QRCodeFilter) ([]*QRCode, string, error)

	// DeactivateQRCode deactivates a code at `at`; deactivating an inactive
	// code changes nothing and returns it as it is.
	// Returns ENOTFOUND if it does not exist or belongs to another merchant.
	DeactivateQRCode(ctx context.Context, merchantID, id string, at time.Time) (*QRCode, error)
}
