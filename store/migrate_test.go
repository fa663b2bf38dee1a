package store_test

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/paygate-cn/paygate/store"
	"github.com/paygate-cn/paygate/store/storetest"
)

// Two processes starting against one empty PostgreSQL schema migrate it
// once between them: the advisory lock makes the second wait, then find
// nothing to do.
func TestMigrateTwoProcessesPostgres(t *testing.T) {
	if !slices.Contains(storetest.Selected(), store.DialectPostgres) {
		t.Skip("postgres not selected by PAYGATE_TEST_BACKENDS")
	}
	ctx := context.Background()
	schema := "test_migrate_" + strings.ToLower(rand.Text()[:12])
	dsn := storetest.PostgresURL()
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			db, err := store.Open(ctx, dsn, store.Options{Schema: schema, MaxConns: 2})
			if err != nil {
				t.Error(err)
				return
			}
			defer db.Close()
			if err := db.Migrate(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	db, err := store.Open(ctx, dsn, store.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateOrder(ctx, newOrder("m_1", "migrated", 1)); err != nil {
		t.Fatal(err)
	}
}
