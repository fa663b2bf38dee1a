package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paygate-cn/paygate"
)

func TestUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", fmt.Errorf("store: begin: %w", refused), true},
		{"bad conn", driver.ErrBadConn, true},
		{"pipeline closed", fmt.Errorf("store: %w", errPipelineClosed), true},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"not found", paygate.Errorf(paygate.ENOTFOUND, "no such order"), false},
		{"plain", errors.New("store: decode metadata: bad"), false},
	}
	for _, tc := range tests {
		if got := Unavailable(tc.err); got != tc.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// A closed SQLite store and a PostgreSQL URL to a closed port are
// unavailable, whatever call finds it out.
func TestUnavailableDrivers(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "x.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := db.Ping(ctx); !Unavailable(err) {
		t.Errorf("closed sqlite: %v is not unavailable", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Open(ctx, "postgres://postgres@"+addr+"/test?sslmode=disable", Options{})
	if err == nil || !Unavailable(err) {
		t.Errorf("postgres on a closed port: %v is not unavailable", err)
	}
}
