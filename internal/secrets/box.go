package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
)

// Box seals API key secrets for storage: AES-256-GCM under a key derived
// from the server secret, with the key id as associated data so a sealed
// secret moved to another row does not open. Verifying a request's HMAC
// needs the secret itself, so a one-way hash cannot be stored; sealing
// keeps a database dump without the server secret useless
// (docs/terminals.md).
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a box whose key is derived from serverSecret.
func NewBox(serverSecret []byte) (*Box, error) {
	if len(serverSecret) < MinSize {
		return nil, errors.New("secrets: the server secret must be at least 32 bytes")
	}
	block, err := aes.NewCipher(DeriveKey(serverSecret, PurposeKeySealing))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

const sealedVersion = "v1:"

// Seal encrypts secret for the key keyID.
func (b *Box) Seal(keyID, secret string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := b.aead.Seal(nonce, nonce, []byte(secret), []byte(keyID))
	return sealedVersion + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a sealed secret of the key keyID.
func (b *Box) Open(keyID, sealed string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, sealedVersion))
	if err != nil || !strings.HasPrefix(sealed, sealedVersion) || len(raw) < b.aead.NonceSize() {
		return "", errors.New("secrets: malformed sealed secret")
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(keyID))
	if err != nil {
		return "", errors.New("secrets: sealed secret does not open with this server secret")
	}
	return string(plain), nil
}
