// Package testvectors keeps the JSON test vectors shared with the SDKs
// (sdk-clients/testdata) in step with the Go code that computes them.
package testvectors

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// Sync returns the vectors stored in path, after rewriting the file from
// want (with its description) when update is set. It fails the test when
// the file is missing or unreadable, or holds another number of vectors
// than want; comparing them one by one is the caller's.
func Sync[T any](t *testing.T, path, description string, want []T, update bool, regenerate string) []T {
	t.Helper()
	if update {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"description": description, "vectors": want}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run %s)", err, regenerate)
	}
	var file struct{ Vectors []T }
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) != len(want) {
		t.Fatalf("%d vectors in the file, %d in the test: run %s", len(file.Vectors), len(want), regenerate)
	}
	return file.Vectors
}
