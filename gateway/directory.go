package gateway

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/paygate-cn/paygate"
)

// TerminalKeyPrefix starts the id of every key issued to a terminal by
// activation; other key ids are looked up in the static directory only.
const TerminalKeyPrefix = "tk_"

// DeriveKey derives a 32-byte purpose key from the server secret
// (HMAC-SHA256(secret, purpose)), so that one secret serves card
// fingerprints and key sealing without either revealing the other.
func DeriveKey(serverSecret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, serverSecret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Purposes of keys derived from the server secret.
const (
	PurposeCardFingerprint = "paygate card fingerprint v1"
	PurposeKeySealing      = "paygate terminal key sealing v1"
	PurposeCashier         = "paygate cashier v1"
)

// SecretBox seals API key secrets for storage: AES-256-GCM under a key
// derived from the server secret, with the key id as associated data so a
// sealed secret moved to another row does not open. Verifying a request's
// HMAC needs the secret itself, so a one-way hash cannot be stored; sealing
// keeps a database dump without the server secret useless.
type SecretBox struct {
	aead cipher.AEAD
}

// NewSecretBox returns a box whose key is derived from serverSecret.
func NewSecretBox(serverSecret []byte) (*SecretBox, error) {
	if len(serverSecret) < 32 {
		return nil, errors.New("gateway: the server secret must be at least 32 bytes")
	}
	block, err := aes.NewCipher(DeriveKey(serverSecret, PurposeKeySealing))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SecretBox{aead: aead}, nil
}

const sealedVersion = "v1:"

// Seal encrypts secret for the key keyID.
func (b *SecretBox) Seal(keyID, secret string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := b.aead.Seal(nonce, nonce, []byte(secret), []byte(keyID))
	return sealedVersion + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a sealed secret of the key keyID.
func (b *SecretBox) Open(keyID, sealed string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, sealedVersion))
	if err != nil || !strings.HasPrefix(sealed, sealedVersion) || len(raw) < b.aead.NonceSize() {
		return "", errors.New("gateway: malformed sealed secret")
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(keyID))
	if err != nil {
		return "", errors.New("gateway: sealed secret does not open with this server secret")
	}
	return string(plain), nil
}

// Directory is the merchant directory the API authenticates with: the
// configured merchants and keys (Static), and the terminal keys issued by
// activation, which live in the database (Terminals). Revoking a terminal
// key takes effect on the next request: terminal keys are not cached.
type Directory struct {
	Static    paygate.MerchantDirectory
	Terminals paygate.TerminalStore
	Box       *SecretBox
}

var _ paygate.MerchantDirectory = (*Directory)(nil)

// Merchant returns the merchant. Returns ENOTFOUND if unknown.
func (d *Directory) Merchant(ctx context.Context, id string) (*paygate.Merchant, error) {
	return d.Static.Merchant(ctx, id)
}

// APIKey returns an active key. Returns EINVALIDKEY if unknown or revoked.
func (d *Directory) APIKey(ctx context.Context, id string) (*paygate.APIKey, error) {
	if !strings.HasPrefix(id, TerminalKeyPrefix) || d.Terminals == nil {
		return d.Static.APIKey(ctx, id)
	}
	k, sealed, err := d.Terminals.TerminalKey(ctx, id)
	if err != nil {
		return nil, err
	}
	secret, err := d.Box.Open(k.ID, sealed)
	if err != nil {
		// A row that does not open is unusable, not a server fault the
		// caller could fix: the key is treated as unknown.
		return nil, paygate.Errorf(paygate.EINVALIDKEY, "unknown API key")
	}
	k.Secret = secret
	return k, nil
}
