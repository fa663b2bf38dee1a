package store

import (
	"context"
	"database/sql/driver"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/internal/apijson"
)

// sqliteTime is how SQLite stores times: UTC, fixed width, microseconds,
// so that text order is time order.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

// normTime is the time as the store keeps it: UTC, microsecond precision.
// Callers' structs are normalised on write so they equal what is read back.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// now returns the store clock's time, normalised.
func (db *DB) nowTime() time.Time { return normTime(db.now()) }

// ts converts a time to a query argument; the zero time is NULL.
func (db *DB) ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = normTime(t)
	if db.dialect == DialectSQLite {
		return t.Format(sqliteTime)
	}
	return t
}

// tsp converts an optional time to a query argument.
func (db *DB) tsp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.ts(*t)
}

// timeCol scans a time column of either dialect; NULL is the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.t = time.Time{}
	case time.Time:
		*c.t = normTime(x)
	case string:
		return c.parse(x)
	case []byte:
		return c.parse(string(x))
	default:
		return fmt.Errorf("store: cannot scan %T into a time", v)
	}
	return nil
}

func (c timeCol) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, strings.Replace(s, " ", "T", 1))
	if err != nil {
		return fmt.Errorf("store: bad stored time %q: %w", s, err)
	}
	*c.t = normTime(t)
	return nil
}

// timePtrCol scans a nullable time column into a *time.Time.
type timePtrCol struct{ p **time.Time }

func (c timePtrCol) Scan(v any) error {
	if v == nil {
		*c.p = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(v); err != nil {
		return err
	}
	*c.p = &t
	return nil
}

// jsonArg marshals v for a JSON column; nil pointers and nil maps are NULL.
func jsonArg(v any) (any, error) {
	if r, ok := v.(*paygate.Route); ok { // every order has one
		if r == nil {
			return nil, nil
		}
		return string(apijson.AppendRoute(make([]byte, 0, 1536), r)), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(b) == "null" {
		return nil, nil
	}
	return string(b), nil
}

// rawArg passes raw JSON to a JSON column; empty is NULL.
func rawArg(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// jsonCol scans a JSON column (TEXT, JSON or JSONB) into dst with
// json.Unmarshal; NULL leaves dst untouched.
type jsonCol struct{ dst any }

func (c jsonCol) Scan(v any) error {
	var b []byte
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		return fmt.Errorf("store: cannot scan %T as JSON", v)
	}
	if raw, ok := c.dst.(*json.RawMessage); ok {
		*raw = append(json.RawMessage(nil), b...)
		return nil
	}
	return json.Unmarshal(b, c.dst)
}

// nullString scans a nullable text column into a *string (nil for NULL).
type nullString struct{ p **string }

func (c nullString) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.p = nil
	case string:
		*c.p = &x
	case []byte:
		s := string(x)
		*c.p = &s
	default:
		return fmt.Errorf("store: cannot scan %T as text", v)
	}
	return nil
}

// strPtrArg passes an optional string; nil is NULL.
func strPtrArg(p *string) driver.Value {
	if p == nil {
		return nil
	}
	return *p
}

// Cursors are opaque to API users: base64url of the last id of a page.
func encodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

func decodeCursor(cursor, prefix string) (string, error) {
	// Strict: a cursor has one spelling, so no two cursors name one page.
	b, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	id := string(b)
	if err != nil || !strings.HasPrefix(id, prefix) || len(id) <= len(prefix) || len(id) > 64 ||
		strings.IndexFunc(id, func(r rune) bool { return !isIDChar(r) }) >= 0 {
		return "", paygate.ParamErrorf(paygate.EPARAMINVALID, "cursor", "cursor is not valid")
	}
	return id, nil
}

// pageLimit applies the list default (20) and maximum (100).
func pageLimit(n int) int {
	switch {
	case n <= 0:
		return 20
	case n > 100:
		return 100
	}
	return n
}

// isIDChar reports whether r may appear in an id (see paygate.NewID).
func isIDChar(r rune) bool {
	return r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
}

// listPage runs a list query that asks for limit+1 rows, scans them, and
// returns at most limit with the cursor of the next page ("" when none).
func listPage[T any](ctx context.Context, db *DB, what, q string, args []any, limit int,
	scan func(scanner) (T, error), id func(T) string) ([]T, string, error) {
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list %s: %w", what, err)
	}
	defer rows.Close()
	var list []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, "", fmt.Errorf("store: list %s: %w", what, err)
		}
		list = append(list, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list %s: %w", what, err)
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = encodeCursor(id(list[limit-1]))
	}
	return list, next, nil
}
