package reconcile

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"time"
)

// cst is China Standard Time, the zone every channel's bill counts its days
// and times in (docs/reconciliation.md, "Bill formats").
var cst = time.FixedZone("CST", 8*3600)

// maxBillLine bounds one line of a text bill; a longer line is malformed.
const maxBillLine = 64 << 10

// lines reads a text bill line by line with a reused buffer: the bytes a
// call returns are valid until the next call.
type lines struct {
	file string
	sc   *bufio.Scanner
	n    int // number of the line last returned, 1-based
}

func newLines(file string, r io.Reader) *lines {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxBillLine)
	return &lines{file: file, sc: sc}
}

// next returns the next line without its line end (LF or CRLF). At the end
// it returns io.EOF, or a *ParseError for an overlong line or a read error.
func (l *lines) next() ([]byte, error) {
	if l.sc.Scan() {
		l.n++
		b := l.sc.Bytes()
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
		return b, nil
	}
	if err := l.sc.Err(); err != nil {
		return nil, l.errf(l.n+1, 0, "cannot read the bill: "+err.Error())
	}
	return nil, io.EOF
}

func (l *lines) errf(line, col int, msg string) *ParseError {
	return &ParseError{File: l.file, Line: line, Column: col, Msg: msg}
}

// fail reports a problem at the current line.
func (l *lines) fail(col int, msg string) *ParseError { return l.errf(l.n, col, msg) }

// truncated reports a bill that ends before its trailer.
func (l *lines) truncated(what string) *ParseError {
	return l.errf(l.n+1, 0, "truncated bill: "+what+" missing")
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// splitCSV splits one comma-separated line into dst (reused), honouring
// double-quoted fields (with "" for a quote inside; the quotes are kept
// off the field only when the field is quoted whole). Fields alias line.
func splitCSV(dst [][]byte, line []byte) [][]byte {
	dst = dst[:0]
	for {
		if len(line) > 0 && line[0] == '"' {
			// A quoted field: find the closing quote followed by a comma or
			// the end. "" inside stays doubled; bills do not use it for
			// any field paygate reads.
			i := 1
			for i < len(line) {
				if line[i] == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						i += 2
						continue
					}
					break
				}
				i++
			}
			if i < len(line) && (i+1 == len(line) || line[i+1] == ',') {
				dst = append(dst, line[1:i])
				if i+1 == len(line) {
					return dst
				}
				line = line[i+2:]
				continue
			}
		}
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			return append(dst, line)
		}
		dst = append(dst, line[:i])
		line = line[i+1:]
	}
}

// trimField drops the spaces, tabs and BOM a bill puts around a value
// (Alipay's trailing TAB, padding).
func trimField(b []byte) []byte {
	b = bytes.TrimPrefix(b, utf8BOM)
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseYuan reads an amount in yuan ("12.34", "-0.04000", "7") into fen.
// Decimals past the fen must be zeros or are rounded half away from zero:
// WeChat writes fees with 5 decimals rounded to the fen.
func parseYuan(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 24 {
		return 0, false
	}
	var yuan int64
	i := 0
	for ; i < len(b) && b[i] != '.'; i++ {
		c := b[i]
		if c < '0' || c > '9' || i >= 15 {
			return 0, false
		}
		yuan = yuan*10 + int64(c-'0')
	}
	if i == 0 {
		return 0, false
	}
	var fen int64
	round := false
	if i < len(b) {
		frac := b[i+1:]
		if len(frac) == 0 || len(frac) > 8 {
			return 0, false
		}
		for j, c := range frac {
			if c < '0' || c > '9' {
				return 0, false
			}
			switch {
			case j < 2:
				fen = fen*10 + int64(c-'0')
			case j == 2:
				round = c >= '5'
			}
		}
		if len(frac) == 1 {
			fen *= 10
		}
	}
	v := yuan*100 + fen
	if round {
		v++
	}
	if neg {
		v = -v
	}
	return v, true
}

// parseFen reads a non-negative integer of fen (at most 15 digits).
func parseFen(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// digitsAt reads n decimal digits of b from i.
func digitsAt(b []byte, i, n int) (int, bool) {
	if i+n > len(b) {
		return 0, false
	}
	v := 0
	for _, c := range b[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseDateTime reads "yyyy-MM-dd HH:mm:ss" at +08:00 without allocating.
func parseDateTime(b []byte) (time.Time, bool) {
	var c dayCache
	return c.dateTime(b)
}

// parseCompactTime reads "yyyyMMddHHmmss" at +08:00.
func parseCompactTime(b []byte) (time.Time, bool) {
	var c dayCache
	return c.compact(b)
}

// dayCache remembers the midnight of the last date read: a bill's lines
// are mostly of one day, and time.Date is the costly part of a time.
type dayCache struct {
	y, m, d  int
	midnight time.Time
}

func (c *dayCache) dateTime(b []byte) (time.Time, bool) {
	if len(b) != 19 || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	return c.at(b, 0, 5, 8, 11, 14, 17)
}

func (c *dayCache) compact(b []byte) (time.Time, bool) {
	if len(b) != 14 {
		return time.Time{}, false
	}
	return c.at(b, 0, 4, 6, 8, 10, 12)
}

func (c *dayCache) at(b []byte, y, mo, d, h, mi, s int) (time.Time, bool) {
	year, ok1 := digitsAt(b, y, 4)
	month, ok2 := digitsAt(b, mo, 2)
	day, ok3 := digitsAt(b, d, 2)
	hour, ok4 := digitsAt(b, h, 2)
	minute, ok5 := digitsAt(b, mi, 2)
	sec, ok6 := digitsAt(b, s, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !validClock(year, month, day, hour, minute, sec) {
		return time.Time{}, false
	}
	if c.midnight.IsZero() || year != c.y || month != c.m || day != c.d {
		c.y, c.m, c.d = year, month, day
		c.midnight = time.Date(year, time.Month(month), day, 0, 0, 0, 0, cst)
	}
	// China time has no daylight saving: a day is 24 hours.
	return c.midnight.Add(time.Duration(hour*3600+minute*60+sec) * time.Second), true
}

// validClock rejects dates time.Date would silently normalise.
func validClock(year, month, day, hour, minute, sec int) bool {
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return false
	}
	days := monthDays[month-1]
	if month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		days = 29
	}
	return day <= days
}

var monthDays = [12]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// interned keeps one string for a value that repeats on every line (the
// merchant account), so that reading it does not allocate per line.
type interned struct{ s string }

func (in *interned) get(b []byte) string {
	if in.s != string(b) { // no allocation: the compiler compares in place
		in.s = string(b)
	}
	return in.s
}

// itoa is strconv.Itoa, named for messages.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// yuanText formats fen as yuan for messages.
func yuanText(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return sign + strconv.FormatInt(fen/100, 10) + "." + string(rune('0'+fen%100/10)) + string(rune('0'+fen%10))
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// dayOf is the CST calendar day of t, at midnight; the zero time stays zero.
func dayOf(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	t = t.In(cst)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, cst)
}

// column is the index of the first header field named one of names
// (spaces, TABs, BOM and a leading backtick ignored); -1 when none is.
func column(header [][]byte, names ...string) int {
	for i, f := range header {
		f = trimField(bytes.TrimPrefix(trimField(f), []byte("`")))
		for _, name := range names {
			if string(f) == name {
				return i
			}
		}
	}
	return -1
}
