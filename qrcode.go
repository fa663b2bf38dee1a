package paygate

import (
	"context"
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
// The API's qr_code object is written by internal/apijson.
type QRCode struct {
	ID         string // qrc_...
	MerchantID string
	// Code is the unguessable token in the code's URL (/qr/{code}).
	Code       string
	TerminalID string
	StoreName  string
	// Amount is a fixed amount in fen; nil lets the payer type it.
	Amount      *int64
	Description string
	Active      bool
	// URL and PNGURL are where the code leads and its printable image;
	// they are made from the public URL, not stored.
	URL           string
	PNGURL        string
	CreatedAt     time.Time
	DeactivatedAt *time.Time
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
