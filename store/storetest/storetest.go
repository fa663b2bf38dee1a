// Package storetest opens migrated stores for tests: a SQLite file in the
// test's temporary directory, and PostgreSQL in a fresh schema that is
// dropped when the test ends.
//
// PAYGATE_TEST_POSTGRES_URL names the PostgreSQL server (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable).
// PAYGATE_TEST_BACKENDS, when set, limits Backends to the listed backends
// ("sqlite", "postgres", comma separated).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paygate-cn/paygate/store"
)

// DefaultPostgresURL is used when PAYGATE_TEST_POSTGRES_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// All lists the backends in the order Backends runs them.
var All = []string{store.DialectSQLite, store.DialectPostgres}

// Backends runs fn as a subtest per backend ("sqlite", "postgres"), each
// with its own freshly migrated store.
func Backends(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	selected := Selected()
	if len(selected) == 0 {
		t.Fatalf("storetest: PAYGATE_TEST_BACKENDS=%q names none of %v", os.Getenv("PAYGATE_TEST_BACKENDS"), All)
	}
	for _, b := range selected {
		t.Run(b, func(t *testing.T) {
			fn(t, Open(t, b))
		})
	}
}

// Selected returns the backends PAYGATE_TEST_BACKENDS asks for, or All.
func Selected() []string {
	env := os.Getenv("PAYGATE_TEST_BACKENDS")
	if strings.TrimSpace(env) == "" {
		return All
	}
	var out []string
	for _, b := range strings.Split(env, ",") {
		if b = strings.TrimSpace(b); slices.Contains(All, b) && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// Options are the store options tests use; set Now for a fake clock.
type Options = store.Options

// Open returns a migrated store on one backend, closed (and for
// PostgreSQL, its schema dropped) when the test ends. An unreachable
// PostgreSQL fails the test: it is a dependency, not an option.
func Open(t testing.TB, backend string) *store.DB {
	t.Helper()
	return OpenWith(t, backend, store.Options{})
}

// OpenWith is Open with options (a clock, a pool size). opts.Schema is
// ignored: PostgreSQL always gets a fresh schema.
func OpenWith(t testing.TB, backend string, opts store.Options) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var dsn string
	switch backend {
	case store.DialectSQLite:
		dsn = "sqlite:" + filepath.Join(t.TempDir(), "paygate.db")
		opts.Schema = ""
	case store.DialectPostgres:
		dsn = PostgresURL()
		opts.Schema = "test_" + randomSuffix(t)
	default:
		t.Fatalf("storetest: unknown backend %q", backend)
	}
	db, err := store.Open(ctx, dsn, opts)
	if err != nil {
		if backend == store.DialectPostgres {
			t.Fatalf("storetest: PostgreSQL at %s is not reachable (set PAYGATE_TEST_POSTGRES_URL, or PAYGATE_TEST_BACKENDS=sqlite to skip it): %v", redact(dsn), err)
		}
		t.Fatalf("storetest: open %s: %v", backend, err)
	}
	if backend == store.DialectPostgres {
		t.Cleanup(func() { dropSchema(t, dsn, opts.Schema) })
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("storetest: migrate %s: %v", backend, err)
	}
	return db
}

// Replicas returns n stores on one fresh PostgreSQL schema, as n gateway
// replicas sharing a database see it; closed, and the schema dropped,
// when the test ends.
func Replicas(t testing.TB, n int, opts store.Options) []*store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := PostgresURL()
	opts.Schema = "test_" + randomSuffix(t)
	var out []*store.DB
	t.Cleanup(func() {
		for _, db := range out {
			db.Close()
		}
		dropSchema(t, dsn, opts.Schema)
	})
	for i := range n {
		db, err := store.Open(ctx, dsn, opts)
		if err != nil {
			t.Fatalf("storetest: PostgreSQL at %s is not reachable: %v", redact(dsn), err)
		}
		out = append(out, db)
		if i == 0 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("storetest: migrate: %v", err)
			}
		}
	}
	return out
}

// PostgresURL returns the test server's URL.
func PostgresURL() string {
	if u := os.Getenv("PAYGATE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

func dropSchema(t testing.TB, dsn, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("storetest: drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("storetest: drop schema %s: %v", schema, err)
	}
}

func randomSuffix(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// redact hides a password in a URL for error messages.
func redact(dsn string) string {
	if cfg, err := pgx.ParseConfig(dsn); err == nil && cfg.Password != "" {
		return strings.Replace(dsn, cfg.Password, "xxxxx", 1)
	}
	return dsn
}
