package unionpay

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// MaxMessage is the largest answer or notify paygate reads (64 KiB).
const MaxMessage = 64 << 10

// ParseMessage reads a synchronous answer of the platform: key=value pairs
// joined by '&', values NOT URL-encoded. A value may be a composite field in
// braces ({k=v&k=v}), whose '&' do not separate pairs. The signature's base64
// may contain '=', so a pair splits at its first '='.
func ParseMessage(body string) (map[string]string, error) {
	if len(body) > MaxMessage {
		return nil, errors.New("message too large")
	}
	body = strings.TrimRight(body, "\r\n")
	if body == "" {
		return nil, errors.New("empty message")
	}
	fields := make(map[string]string)
	depth, start := 0, 0
	for i := 0; i <= len(body); i++ {
		if i < len(body) {
			switch body[i] {
			case '{':
				depth++
				continue
			case '}':
				if depth == 0 {
					return nil, errors.New("unbalanced '}'")
				}
				depth--
				continue
			case '&':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		pair := body[start:i]
		start = i + 1
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("malformed pair %q", truncate(pair))
		}
		if _, dup := fields[k]; dup {
			return nil, fmt.Errorf("duplicate field %q", truncate(k))
		}
		fields[k] = v
	}
	if depth != 0 {
		return nil, errors.New("unbalanced '{'")
	}
	return fields, nil
}

// EncodeMessage writes fields the way the platform answers: sorted raw
// key=value pairs joined by '&' (the inverse of ParseMessage).
func EncodeMessage(fields map[string]string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + fields[k])
	}
	return b.String()
}

// ParseForm reads an application/x-www-form-urlencoded body (requests and
// backUrl notifies), rejecting repeated keys.
func ParseForm(body string) (map[string]string, error) {
	if len(body) > MaxMessage {
		return nil, errors.New("message too large")
	}
	vals, err := url.ParseQuery(body)
	if err != nil {
		return nil, errors.New("malformed form body")
	}
	if len(vals) == 0 {
		return nil, errors.New("empty form body")
	}
	fields := make(map[string]string, len(vals))
	for k, vs := range vals {
		if len(vs) != 1 {
			return nil, fmt.Errorf("field %q repeated", truncate(k))
		}
		fields[k] = vs[0]
	}
	return fields, nil
}

// EncodeForm URL-encodes fields for a request or notify body.
func EncodeForm(fields map[string]string) string {
	v := make(url.Values, len(fields))
	for k, s := range fields {
		v.Set(k, s)
	}
	return v.Encode()
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
