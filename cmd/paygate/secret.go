package main

import (
	"crypto/rand"
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

// serverSecretFile holds a generated server secret in the data directory.
const serverSecretFile = "server_secret"

// loadServerSecret returns PAYGATE_SERVER_SECRET, or the secret kept in the
// data directory, generating it (mode 0600) on first start.
func loadServerSecret(getenv func(string) string, dataDir string) ([]byte, error) {
	if v := strings.TrimSpace(getenv(EnvServerSecret)); v != "" {
		return decodeServerSecret(v, EnvServerSecret)
	}
	path := filepath.Join(dataDir, serverSecretFile)
	if b, err := os.ReadFile(path); err == nil {
		return decodeServerSecret(strings.TrimSpace(string(b)), path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("server secret: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server secret: %w", err)
	}
	// Written to a temporary file and linked into place, so that a process
	// starting at the same moment reads either nothing or the whole secret.
	tmp, err := os.CreateTemp(dataDir, serverSecretFile+".*")
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
		return loadServerSecret(getenv, dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("server secret: %w", err)
	}
	return raw, nil
}

func decodeServerSecret(v, from string) ([]byte, error) {
	b, err := hex.DecodeString(v)
	if err != nil || len(b) < 32 {
		return nil, fmt.Errorf("server secret from %s must be at least 64 hex digits", from)
	}
	return b, nil
}
