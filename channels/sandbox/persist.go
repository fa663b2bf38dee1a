package sandbox

import (
	"encoding/json"
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
