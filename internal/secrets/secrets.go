// Package secrets holds the server secret and what is derived from it:
// loading (or generating) the secret, per-purpose keys, and the sealing of
// stored API key secrets (docs/terminals.md, "Server secret").
package secrets

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvServerSecret names the server secret: at least 32 bytes, given as 64
// or more hex digits. Card fingerprints and the sealing of terminal key
// secrets are derived from it, so every replica sharing a database must
// use the same one.
const EnvServerSecret = "PAYGATE_SERVER_SECRET"

// File holds a generated server secret in the data directory.
const File = "server_secret"

// MinSize is the shortest server secret accepted, in bytes.
const MinSize = 32

// Load returns PAYGATE_SERVER_SECRET, or the secret kept in the data
// directory, generating it (mode 0600) on first start.
func Load(getenv func(string) string, dataDir string) ([]byte, error) {
	if v := strings.TrimSpace(getenv(EnvServerSecret)); v != "" {
		return Decode(v, EnvServerSecret)
	}
	path := filepath.Join(dataDir, File)
	if b, err := os.ReadFile(path); err == nil {
		return Decode(strings.TrimSpace(string(b)), path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("server secret: %w", err)
	}
	raw := make([]byte, MinSize)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server secret: %w", err)
	}
	// Written to a temporary file and linked into place, so that a process
	// starting at the same moment reads either nothing or the whole secret.
	tmp, err := os.CreateTemp(dataDir, File+".*")
	if err != nil {
		return nil, fmt.Errorf("server secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(raw) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if errors.Is(err, os.ErrExist) { // another process created it first
		return Load(getenv, dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("server secret: %w", err)
	}
	return raw, nil
}

// Decode reads a hex server secret; from names where it came from for the
// error (never the value).
func Decode(v, from string) ([]byte, error) {
	b, err := hex.DecodeString(v)
	if err != nil || len(b) < MinSize {
		return nil, fmt.Errorf("server secret from %s must be at least %d hex digits", from, 2*MinSize)
	}
	return b, nil
}

// Purposes of keys derived from the server secret.
const (
	PurposeCardFingerprint = "paygate card fingerprint v1"
	PurposeKeySealing      = "paygate terminal key sealing v1"
	PurposeCashier         = "paygate cashier v1"
)

// DeriveKey derives a 32-byte purpose key from the server secret
// (HMAC-SHA256(secret, purpose)), so that one secret serves card
// fingerprints, key sealing and the cashier without any revealing another.
func DeriveKey(serverSecret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, serverSecret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
