package apijson

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/paygate-cn/paygate"
	"github.com/shopspring/decimal"
)

// The order object is encoded on every answer and into every event, so it
// has an encoder of its own instead of encoding/json's reflection (and the
// second pass encoding/json makes over a MarshalJSON result). Its output is
// byte for byte what encoding/json gives for the documented field names,
// HTML-safe escaping included; order_test.go holds the two side by side.

// AppendOrder appends the API's order object to b.
func AppendOrder(b []byte, o *paygate.Order) ([]byte, error) {
	b = append(b, `{"object":"order","id":`...)
	b = appendJSONString(b, o.ID)
	b = append(b, `,"merchant_id":`...)
	b = appendJSONString(b, o.MerchantID)
	b = append(b, `,"merchant_order_no":`...)
	b = appendJSONString(b, o.MerchantOrderNo)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(o.Status))
	b = append(b, `,"amount":`...)
	b = strconv.AppendInt(b, o.Amount, 10)
	b = append(b, `,"currency":`...)
	b = appendJSONString(b, o.Currency)
	b = append(b, `,"subject":`...)
	b = appendJSONString(b, o.Subject)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, string(o.Method))
	b = append(b, `,"channel":`...)
	b = appendJSONString(b, o.Channel)
	b = append(b, `,"provider":`...)
	b = appendJSONString(b, o.Provider)
	b = append(b, `,"channel_trade_no":`...)
	b = appendJSONString(b, o.ChannelTradeNo)
	b = append(b, `,"fee":`...)
	b = strconv.AppendInt(b, o.Fee, 10)
	b = append(b, `,"net_amount":`...)
	b = strconv.AppendInt(b, o.NetAmount, 10)
	b = append(b, `,"route":`...)
	b = AppendRoute(b, o.Route)
	b = append(b, `,"qr_code":`...)
	if o.QRCode == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *o.QRCode)
	}
	b = append(b, `,"qr_png_url":`...)
	if o.QRPNGURL == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *o.QRPNGURL)
	}
	b = append(b, `,"credential":`...)
	if o.Credential == nil {
		b = append(b, "null"...)
	} else {
		// Raw JSON from a channel: encoding/json validates, compacts and
		// HTML-escapes it; let it, it is rare and small.
		c, err := json.Marshal(o.Credential)
		if err != nil {
			return nil, err
		}
		b = append(b, c...)
	}
	if o.Card != nil {
		b = append(b, `,"card":`...)
		b = appendCard(b, o.Card)
	}
	if o.TerminalID != "" {
		b = append(b, `,"terminal_id":`...)
		b = appendJSONString(b, o.TerminalID)
	}
	if o.Location != nil {
		b = append(b, `,"location":{"region_code":`...)
		b = appendJSONString(b, o.Location.RegionCode)
		b = append(b, '}')
	}
	if o.Capture != "" {
		b = append(b, `,"capture":`...)
		b = appendJSONString(b, o.Capture)
	}
	if o.AuthorizedAmount != 0 {
		b = append(b, `,"authorized_amount":`...)
		b = strconv.AppendInt(b, o.AuthorizedAmount, 10)
	}
	b = append(b, `,"refunded_amount":`...)
	b = strconv.AppendInt(b, o.RefundedAmount, 10)
	b = append(b, `,"failure":`...)
	b = appendFailure(b, o.Failure)
	if o.NotifyURL != "" {
		b = append(b, `,"notify_url":`...)
		b = appendJSONString(b, o.NotifyURL)
	}
	if o.PayerID != "" {
		b = append(b, `,"payer_id":`...)
		b = appendJSONString(b, o.PayerID)
	}
	if o.Source != "" {
		b = append(b, `,"source":`...)
		b = appendJSONString(b, o.Source)
	}
	if o.QRCodeID != "" {
		b = append(b, `,"qr_code_id":`...)
		b = appendJSONString(b, o.QRCodeID)
	}
	var err error
	b = append(b, `,"created_at":`...)
	if b, err = appendJSONTime(b, o.CreatedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = appendJSONTime(b, o.UpdatedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"paid_at":`...)
	if o.PaidAt == nil {
		b = append(b, "null"...)
	} else if b, err = appendJSONTime(b, *o.PaidAt); err != nil {
		return nil, err
	}
	b = append(b, `,"expires_at":`...)
	if b, err = appendJSONTime(b, o.ExpiresAt); err != nil {
		return nil, err
	}
	b = append(b, `,"metadata":`...)
	b = appendJSONStringMap(b, o.Metadata)
	return append(b, '}'), nil
}

// AppendRoute appends the route object to b ("null" for a nil route). It is
// also the form the store keeps an order's route in.
func AppendRoute(b []byte, r *paygate.Route) []byte {
	if r == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"provider":`...)
	b = appendJSONString(b, r.Provider)
	b = append(b, `,"channel":`...)
	b = appendJSONString(b, r.Channel)
	b = append(b, `,"fee_rate":`...)
	b = appendJSONDecimal(b, r.FeeRate)
	b = append(b, `,"fee_cap":`...)
	if r.FeeCap == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *r.FeeCap, 10)
	}
	b = append(b, `,"fee":`...)
	b = strconv.AppendInt(b, r.Fee, 10)
	b = append(b, `,"rule":`...)
	b = appendJSONString(b, r.Rule)
	b = append(b, `,"candidates":`...)
	if r.Candidates == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Candidates {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCandidate(b, &r.Candidates[i])
		}
		b = append(b, ']')
	}
	if len(r.Risk) > 0 {
		b = append(b, `,"risk":[`...)
		for i, d := range r.Risk {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"rule":`...)
			b = appendJSONString(b, d.Rule)
			b = append(b, `,"action":`...)
			b = appendJSONString(b, d.Action)
			b = append(b, `,"reason":`...)
			b = appendJSONString(b, d.Reason)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendCandidate(b []byte, c *paygate.RouteCandidate) []byte {
	b = append(b, `{"provider":`...)
	b = appendJSONString(b, c.Provider)
	b = append(b, `,"channel":`...)
	b = appendJSONString(b, c.Channel)
	b = append(b, `,"fee":`...)
	b = strconv.AppendInt(b, c.Fee, 10)
	if c.Rule != "" {
		b = append(b, `,"rule":`...)
		b = appendJSONString(b, c.Rule)
	}
	b = append(b, `,"eligible":`...)
	b = strconv.AppendBool(b, c.Eligible)
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, c.Reason)
	b = append(b, `,"fee_rate":`...)
	b = appendJSONDecimal(b, c.FeeRate)
	if c.FeeCap != 0 {
		b = append(b, `,"fee_cap":`...)
		b = strconv.AppendInt(b, c.FeeCap, 10)
	}
	return append(b, '}')
}

func appendCard(b []byte, c *paygate.CardInfo) []byte {
	b = append(b, `{"entry_mode":`...)
	b = appendJSONString(b, c.EntryMode)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, c.Type)
	b = append(b, `,"network":`...)
	b = appendJSONString(b, c.Network)
	if c.BIN != "" {
		b = append(b, `,"bin":`...)
		b = appendJSONString(b, c.BIN)
	}
	if c.Last4 != "" {
		b = append(b, `,"last4":`...)
		b = appendJSONString(b, c.Last4)
	}
	return append(b, '}')
}

func appendFailure(b []byte, f *paygate.Failure) []byte {
	if f == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"code":`...)
	b = appendJSONString(b, f.Code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, f.Message)
	if f.ChannelCode != "" {
		b = append(b, `,"channel_code":`...)
		b = appendJSONString(b, f.ChannelCode)
	}
	return append(b, '}')
}

// appendJSONDecimal encodes d as decimal.Decimal's MarshalJSON does.
func appendJSONDecimal(b []byte, d decimal.Decimal) []byte {
	if decimal.MarshalJSONWithoutQuotes {
		return append(b, d.String()...)
	}
	b = append(b, '"')
	b = append(b, d.String()...)
	return append(b, '"')
}

// appendJSONTime encodes t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds), with its error for years it cannot represent.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		_, err := t.MarshalJSON()
		return nil, err
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

func appendJSONStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

const lowerHex = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does with HTML escaping:
// quotes, backslashes and control characters escaped, <, > and & as
// \u003c, \u003e and \u0026, invalid UTF-8 as \ufffd, U+2028 and U+2029
// escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', lowerHex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
