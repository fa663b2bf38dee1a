package secrets_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/paygate-cn/paygate/internal/secrets"
)

func noEnv(string) string { return "" }

func TestLoadGeneratesOnceAndKeeps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := secrets.Load(noEnv, dir)
	if err != nil || len(first) != secrets.MinSize {
		t.Fatalf("generate: %x %v", first, err)
	}
	fi, err := os.Stat(filepath.Join(dir, secrets.File))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", fi, err)
	}
	again, err := secrets.Load(noEnv, dir)
	if err != nil || !bytes.Equal(first, again) {
		t.Fatalf("second start read %x, %v; want %x", again, err, first)
	}
}

// Replicas starting at once on one data directory agree on one secret.
func TestLoadConcurrentStarts(t *testing.T) {
	dir := t.TempDir()
	got := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := secrets.Load(noEnv, dir)
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		}()
	}
	wg.Wait()
	for _, s := range got[1:] {
		if !bytes.Equal(s, got[0]) {
			t.Fatalf("replicas disagree: %x vs %x", s, got[0])
		}
	}
}

func TestLoadFromEnvironment(t *testing.T) {
	want := bytes.Repeat([]byte{0xab}, 40)
	env := func(k string) string {
		if k == secrets.EnvServerSecret {
			return " " + hex.EncodeToString(want) + "\n"
		}
		return ""
	}
	dir := t.TempDir()
	got, err := secrets.Load(env, dir)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("got %x %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, secrets.File)); !os.IsNotExist(err) {
		t.Fatalf("a secret from the environment must not be written: %v", err)
	}
}

func TestLoadRejectsShortOrMalformed(t *testing.T) {
	for _, v := range []string{strings.Repeat("ab", 31), strings.Repeat("zz", 32)} {
		env := func(string) string { return v }
		_, err := secrets.Load(env, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), secrets.EnvServerSecret) || strings.Contains(err.Error(), v) {
			t.Fatalf("%q: %v (must name the source, never the value)", v, err)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, secrets.File), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Load(noEnv, dir); err == nil {
		t.Fatal("a malformed secret file was accepted")
	}
}

func TestDeriveKeyPerPurpose(t *testing.T) {
	s := bytes.Repeat([]byte{1}, 32)
	a := secrets.DeriveKey(s, secrets.PurposeCardFingerprint)
	b := secrets.DeriveKey(s, secrets.PurposeKeySealing)
	c := secrets.DeriveKey(s, secrets.PurposeCashier)
	if len(a) != 32 || bytes.Equal(a, b) || bytes.Equal(b, c) || bytes.Equal(a, c) {
		t.Fatalf("purpose keys must differ: %x %x %x", a, b, c)
	}
	if !bytes.Equal(a, secrets.DeriveKey(s, secrets.PurposeCardFingerprint)) {
		t.Fatal("derivation is not deterministic")
	}
	if bytes.Equal(a, secrets.DeriveKey(bytes.Repeat([]byte{2}, 32), secrets.PurposeCardFingerprint)) {
		t.Fatal("another server secret derived the same key")
	}
}

func TestBox(t *testing.T) {
	if _, err := secrets.NewBox(make([]byte, 31)); err == nil {
		t.Fatal("a short server secret made a box")
	}
	box, err := secrets.NewBox(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.Seal("tk_1", "sk_secret")
	if err != nil || !strings.HasPrefix(sealed, "v1:") || strings.Contains(sealed, "sk_secret") {
		t.Fatalf("sealed %q %v", sealed, err)
	}
	if again, _ := box.Seal("tk_1", "sk_secret"); again == sealed {
		t.Fatal("two seals of one secret are equal: the nonce is not random")
	}
	if got, err := box.Open("tk_1", sealed); err != nil || got != "sk_secret" {
		t.Fatalf("open: %q %v", got, err)
	}
	// The key id is associated data: a sealed secret moved to another row
	// does not open.
	if _, err := box.Open("tk_2", sealed); err == nil {
		t.Fatal("opened under another key id")
	}
	other, _ := secrets.NewBox(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open("tk_1", sealed); err == nil {
		t.Fatal("opened with another server secret")
	}
	for _, bad := range []string{"", "v1:", "v1:!!", "v2:" + sealed[3:], sealed[:len(sealed)-2]} {
		if _, err := box.Open("tk_1", bad); err == nil {
			t.Fatalf("opened malformed %q", bad)
		}
	}
}
