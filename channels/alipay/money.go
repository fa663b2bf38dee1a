package alipay

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cst is the time zone of every Alipay timestamp ("2006-01-02 15:04:05",
// China Standard Time). A fixed zone avoids depending on tzdata.
var cst = time.FixedZone("CST", 8*3600)

const timeLayout = "2006-01-02 15:04:05"

// yuan formats fen as Alipay's decimal yuan string: 1234 → "12.34".
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// maxYuanDigits bounds the integer part so that fen never overflows int64.
const maxYuanDigits = 12

// parseFen parses a yuan amount ("12.34", "12.3", "12", "-0.06") exactly
// into fen. Anything else (exponents, more than two decimals, spaces) is an
// error: amounts are never read through floating point.
func parseFen(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || len(whole) > maxYuanDigits || !digits(whole) ||
		(hasDot && (len(frac) == 0 || len(frac) > 2 || !digits(frac))) {
		return 0, fmt.Errorf("invalid amount %q", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt(frac, 10, 64)
	fen := w*100 + f
	if neg {
		fen = -fen
	}
	return fen, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseTime reads an Alipay timestamp; it returns nil for an empty or
// unparseable one (the time is informative, never a decision).
func parseTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.ParseInLocation(timeLayout, s, cst)
	if err != nil {
		return nil
	}
	return &t
}
