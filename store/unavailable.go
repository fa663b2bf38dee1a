package store

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Unavailable reports whether err means that the database could not be
// reached or cannot serve now, as opposed to a fault in a query: the
// connection refused, dropped or closed, the server shutting down or out of
// connections, the SQLite file locked past the busy timeout, unreadable or
// its disk full. The API answers those 503 service_unavailable (retry
// later) instead of 500 (docs/errors.md); this is the one place that knows
// the drivers' errors.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, errPipelineClosed) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connectErr) || errors.As(err, &netErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 53: insufficient resources;
		// 57P01-57P03: shutting down or not accepting connections.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "53") ||
			pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() & 0xff { // the primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
			return true
		}
		return false
	}
	// database/sql's "database is closed" and pgx's "conn closed" have no
	// exported value to compare with.
	msg := err.Error()
	return strings.Contains(msg, "sql: database is closed") || strings.HasSuffix(msg, "conn closed")
}
