package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/paygate-cn/paygate/store"
	"github.com/paygate-cn/paygate/store/storetest"
)

func TestOpenSQLitePaths(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		dsn  string
		file string
	}{
		{filepath.Join(dir, "plain.db"), filepath.Join(dir, "plain.db")},
		{"sqlite:" + filepath.Join(dir, "prefixed.db"), filepath.Join(dir, "prefixed.db")},
		{filepath.Join(dir, "new dir", "100%", "x.db"), filepath.Join(dir, "new dir", "100%", "x.db")},
	}
	for _, tc := range tests {
		db, err := store.Open(context.Background(), tc.dsn, store.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.dsn, err)
		}
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatalf("%s: %v", tc.dsn, err)
		}
		if db.Dialect() != store.DialectSQLite {
			t.Errorf("%s: dialect %s", tc.dsn, db.Dialect())
		}
		db.Close()
		if _, err := os.Stat(tc.file); err != nil {
			t.Errorf("%s: %v", tc.dsn, err)
		}
	}
}

// Two stores on one SQLite file stand for two processes: their writers
// wait for each other instead of failing with SQLITE_BUSY.
func TestSQLiteTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	ctx := context.Background()
	var dbs []*store.DB
	for range 2 {
		db, err := store.Open(ctx, path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, db)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			db := dbs[i%2]
			o := newOrder("m_1", fmt.Sprintf("two-%d", i), 100)
			if err := db.CreateOrder(ctx, o); err != nil {
				t.Error(err)
				return
			}
			if _, _, err := db.UpdateOrder(ctx, paygateSucceeded(o.ID)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestSelectedBackends(t *testing.T) {
	tests := []struct {
		env  string
		want []string
	}{
		{"", storetest.All},
		{"sqlite", []string{"sqlite"}},
		{" postgres ", []string{"postgres"}},
		{"postgres,sqlite,postgres", []string{"postgres", "sqlite"}},
	}
	for _, tc := range tests {
		t.Setenv("PAYGATE_TEST_BACKENDS", tc.env)
		if got := storetest.Selected(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("PAYGATE_TEST_BACKENDS=%q: %v, want %v", tc.env, got, tc.want)
		}
	}
}

// The SQLite files are private to paygate's user (docs/configuration.md,
// data_dir): a created directory 0700, the database and its WAL and
// shared-memory files 0600, and files an earlier start left readable by
// others narrowed to 0600.
func TestSQLiteFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "paygate.db")
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateOrder(ctx, newOrder("m_1", "modes-1", 100)); err != nil {
		t.Fatal(err)
	}
	wantMode := func(name string, want os.FileMode) {
		t.Helper()
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", filepath.Base(name), got, want)
		}
	}
	wantMode(dir, 0o700)
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		wantMode(f, 0o600)
	}
	db.Close()

	// Files of an older build, readable by all, are narrowed at open.
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(f, 0o644); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	db, err = store.Open(ctx, "sqlite:"+path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateOrder(ctx, newOrder("m_1", "modes-2", 100)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		wantMode(f, 0o600)
	}
}
