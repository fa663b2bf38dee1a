package paygate

import (
	"context"
	"time"
)

// Terminal statuses.
const (
	TerminalPendingActivation = "pending_activation"
	TerminalActive            = "active"
	TerminalDeactivated       = "deactivated"
)

// Terminal is a POS terminal bound to one merchant and one registered region
// (银发〔2021〕259号). The API's terminal object is written by
// internal/apijson.
type Terminal struct {
	ID         string // trm_...
	MerchantID string
	// TerminalID is the merchant's own terminal number: the orders'
	// terminal_id and, padded to 8, ISO 8583 field 41.
	TerminalID  string
	SerialNo    string
	Model       string
	RegionCode  string
	Status      string
	KeyID       string // the terminal key, once activated
	CreatedAt   time.Time
	ActivatedAt *time.Time
	// DeactivatedAt is when the terminal and its key were revoked.
	DeactivatedAt *time.Time
	// ActivationCode is shown once, in the answer that created the
	// terminal; only its hash is stored.
	ActivationCode string
	// ActivationExpiresAt is when a pending terminal's activation code
	// stops working.
	ActivationExpiresAt *time.Time
	// ActivationCodeWithheld marks a replayed answer that had a code: the
	// code is shown once and never kept for replay; a new one is issued
	// with POST /v1/terminals/{id}/activation_code.
	ActivationCodeWithheld bool
}

// TerminalActivation is what activating a terminal hands out once: the
// terminal key's id and secret.
type TerminalActivation struct {
	Terminal *Terminal
	Key      *APIKey
}

// TerminalStore persists terminals and their keys. Key secrets are sealed
// by the store's caller (the store keeps only what it is given).
type TerminalStore interface {
	// CreateTerminal inserts t with the hash of its activation code, which
	// works until t.ActivationExpiresAt.
	// Returns ECONFLICT if the merchant already has t.TerminalID.
	CreateTerminal(ctx context.Context, t *Terminal, codeHash string) error

	// Terminal returns a merchant's terminal by its id (trm_...).
	// Returns ENOTFOUND if it does not exist or belongs to another merchant.
	Terminal(ctx context.Context, merchantID, id string) (*Terminal, error)

	// TerminalByNumber returns a merchant's terminal by its terminal id.
	// Returns ENOTFOUND if there is none.
	TerminalByNumber(ctx context.Context, merchantID, terminalID string) (*Terminal, error)

	// ActivateTerminal consumes an activation code: the pending terminal
	// with that code hash becomes active and gets the key whose sealed
	// secret is given, in one transaction. Returns ENOTFOUND if no pending
	// terminal has the code (unknown, already used, replaced or
	// deactivated), EACTIVATIONEXPIRED if its code expired at or before at.
	ActivateTerminal(ctx context.Context, codeHash string, keyID, sealedSecret string, at time.Time) (*Terminal, error)

	// ReissueActivationCode gives a pending terminal a new activation code
	// (its hash) working until expiresAt; the previous code stops working.
	// Returns ENOTFOUND if the terminal does not exist or belongs to another
	// merchant, EINVALIDSTATE if it is not pending activation.
	ReissueActivationCode(ctx context.Context, merchantID, id, codeHash string, expiresAt time.Time) (*Terminal, error)

	// DeactivateTerminal deactivates a terminal and revokes its keys.
	// Returns ENOTFOUND if it does not exist or belongs to another merchant.
	DeactivateTerminal(ctx context.Context, merchantID, id string, at time.Time) (*Terminal, error)

	// TerminalKey returns an active terminal key with its sealed secret.
	// Returns EINVALIDKEY if unknown or revoked.
	TerminalKey(ctx context.Context, keyID string) (key *APIKey, sealedSecret string, err error)
}
