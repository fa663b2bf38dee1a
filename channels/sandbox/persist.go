package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Persisted keeps a simulator's credentials (keys, ids, certificates) in
// dir/name.json so that they survive restarts: when the file exists v is
// read from it, otherwise create fills v and it is written (0600). An empty
// dir keeps them in memory only (create is called every time).
func Persisted(dir, name string, v any, create func() error) error {
	if dir == "" {
		return create()
	}
	path := filepath.Join(dir, name+".json")
	b, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("sandbox credentials %s: %w", path, err)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sandbox credentials: %w", err)
	}
	if err := create(); err != nil {
		return err
	}
	if b, err = json.MarshalIndent(v, "", "  "); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sandbox credentials: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("sandbox credentials: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("sandbox credentials: %w", err)
	}
	return nil
}

// NewRSAKey generates an RSA-2048 key and returns it as PKCS #8 PEM, the
// form simulators keep their keys in.
func NewRSAKey() (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// ParseRSAKey reads a PKCS #8 PEM RSA private key.
func ParseRSAKey(p string) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		return nil, errors.New("not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}
