package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/paygate-cn/paygate"
)

// Dialect names returned by DB.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Options tune Open.
type Options struct {
	// Now is the clock used for created/updated times; time.Now when nil.
	Now paygate.Clock
	// Schema is the PostgreSQL schema the store lives in (its search_path),
	// created if missing. Ignored for SQLite.
	Schema string
	// MaxConns caps open connections: the PostgreSQL pool, or SQLite's read
	// pool (SQLite always writes through one connection). Default 10.
	MaxConns int
}

// DB is paygate's SQL store. It serves SQLite and PostgreSQL with the same
// queries, written with ? placeholders and rebound for PostgreSQL.
type DB struct {
	dialect string
	// w takes every write transaction; for SQLite it holds a single
	// connection whose transactions begin IMMEDIATE, so writers queue in
	// the pool instead of failing with SQLITE_BUSY. r serves plain reads.
	// For PostgreSQL both are the same pool.
	w, r *sql.DB
	now  paygate.Clock
	// pipe groups stand-alone statements into shared round trips and
	// commits (pipeline.go); PostgreSQL only.
	pipe *pipeline
}

var (
	_ paygate.OrderStore       = (*DB)(nil)
	_ paygate.RefundStore      = (*DB)(nil)
	_ paygate.EventStore       = (*DB)(nil)
	_ paygate.IdempotencyStore = (*DB)(nil)
)

// Open connects to the database named by dsn: a postgres:// or
// postgresql:// URL selects PostgreSQL; "sqlite:PATH" or a plain file path
// selects SQLite (the parent directory is created). Open does not migrate;
// call Migrate.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 10
	}
	var db *DB
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err = openPostgres(ctx, dsn, opts)
	} else {
		db, err = openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"), opts)
	}
	if err != nil {
		return nil, err
	}
	db.now = opts.Now
	return db, nil
}

func openPostgres(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: parse postgres url: %w", err)
	}
	if opts.Schema != "" {
		if err := createSchema(ctx, cfg, opts.Schema); err != nil {
			return nil, err
		}
		cfg.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(opts.MaxConns)
	pool.SetMaxIdleConns(opts.MaxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to postgres: %w", err)
	}
	return &DB{dialect: DialectPostgres, w: pool, r: pool, pipe: newPipeline(pool)}, nil
}

// createSchema creates the schema on a short-lived connection before the
// pool starts using it as its search_path.
func createSchema(ctx context.Context, cfg *pgx.ConnConfig, schema string) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store: connect to postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	var pgErr *pgconn.PgError
	// Two processes creating it at once: one of them sees a unique
	// violation on the catalog, and the schema exists either way.
	if errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P06") {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("store: create schema %s: %w", schema, err)
	}
	return nil
}

func openSQLite(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("store: empty sqlite path")
	}
	if err := privateFiles(path); err != nil {
		return nil, err
	}
	params := url.Values{}
	params.Add("_pragma", "busy_timeout(10000)")
	params.Add("_pragma", "foreign_keys(1)")
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "synchronous(NORMAL)")
	base := "file:" + (&url.URL{Path: path}).EscapedPath()

	wp := url.Values{"_txlock": {"immediate"}}
	for k, v := range params {
		wp[k] = v
	}
	w, err := sql.Open("sqlite", base+"?"+wp.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The first connection switches the file to WAL before readers open it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}

	rp := url.Values{}
	for k, v := range params {
		rp[k] = v
	}
	rp.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", base+"?"+rp.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	r.SetMaxOpenConns(opts.MaxConns)
	r.SetMaxIdleConns(opts.MaxConns)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	return &DB{dialect: DialectSQLite, w: w, r: r}, nil
}

// privateFiles prepares the SQLite database's files so that only paygate's
// user can read them (docs/configuration.md, data_dir): the directory is
// created 0700, the database file 0600 before SQLite opens it (SQLite gives
// its -wal and -shm files the database file's mode), and files of an
// earlier start that others could read are narrowed to 0600.
func privateFiles(path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("store: create sqlite directory: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	f.Close()
	for _, name := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		fi, err := os.Stat(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("store: sqlite file %s: %w", name, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(name, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("store: restrict sqlite file %s: %w", name, err)
			}
		}
	}
	return nil
}

// Close closes the connection pools.
func (db *DB) Close() error {
	if db.pipe != nil {
		db.pipe.close()
	}
	err := db.w.Close()
	if db.r != db.w {
		if rerr := db.r.Close(); err == nil {
			err = rerr
		}
	}
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return err
	}
	if db.r != db.w {
		return db.r.PingContext(ctx)
	}
	return nil
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Tx is a write transaction. Private helpers take it so that one public
// method owns the whole transaction.
type Tx struct {
	tx *sql.Tx
	db *DB
}

func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, tx.db.rebind(query), args...)
}

func (tx *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, tx.db.rebind(query), args...)
}

func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, tx.db.rebind(query), args...)
}

// forUpdate is the row-lock suffix of a SELECT inside a write transaction.
// SQLite needs none: its write transaction already holds the database lock.
func (tx *Tx) forUpdate() string {
	if tx.db.dialect == DialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// inTx runs fn in a write transaction, committing if it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *Tx) error) error {
	stx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{tx: stx, db: db}
	if err := fn(tx); err != nil {
		stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.r.QueryRowContext(ctx, db.rebind(query), args...)
}

func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.r.QueryContext(ctx, db.rebind(query), args...)
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, ... . Queries in
// this package never put a ? inside a string literal.
func (db *DB) rebind(query string) string {
	if db.dialect != DialectPostgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// placeholders returns "?, ?, ..." for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// isUniqueViolation reports whether err is a unique-key violation, by the
// driver's error code.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		c := sqErr.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
