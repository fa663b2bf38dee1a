package apijson

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/shopspring/decimal"
)

// orderRef is paygate.Order with the API's field names (openapi.json):
// the reference the hand-written encoder is held to. It has Order's fields
// in Order's order, so a field added to Order breaks this build until it
// gets its API name here (and in AppendOrder).
type orderRef struct {
	ID               string              `json:"id"`
	MerchantID       string              `json:"merchant_id"`
	MerchantOrderNo  string              `json:"merchant_order_no"`
	Status           paygate.OrderStatus `json:"status"`
	Amount           int64               `json:"amount"`
	Currency         string              `json:"currency"`
	Subject          string              `json:"subject"`
	Method           paygate.Method      `json:"method"`
	Channel          string              `json:"channel"`
	Provider         string              `json:"provider"`
	ChannelTradeNo   string              `json:"channel_trade_no"`
	Fee              int64               `json:"fee"`
	NetAmount        int64               `json:"net_amount"`
	Route            *paygate.Route      `json:"route"`
	QRCode           *string             `json:"qr_code"`
	QRPNGURL         *string             `json:"qr_png_url"`
	Credential       json.RawMessage     `json:"credential"`
	Card             *paygate.CardInfo   `json:"card,omitempty"`
	TerminalID       string              `json:"terminal_id,omitempty"`
	Location         *paygate.Location   `json:"location,omitempty"`
	Capture          string              `json:"capture,omitempty"`
	AuthorizedAmount int64               `json:"authorized_amount,omitempty"`
	RefundedAmount   int64               `json:"refunded_amount"`
	Failure          *paygate.Failure    `json:"failure"`
	NotifyURL        string              `json:"notify_url,omitempty"`
	PayerID          string              `json:"payer_id,omitempty"`
	Source           string              `json:"source,omitempty"`
	QRCodeID         string              `json:"qr_code_id,omitempty"`
	CreatedAt        time.Time           `json:"created_at"`
	UpdatedAt        time.Time           `json:"updated_at"`
	PaidAt           *time.Time          `json:"paid_at"`
	ExpiresAt        time.Time           `json:"expires_at"`
	Metadata         map[string]string   `json:"metadata"`
	RefundReserved   int64               `json:"-"`
	AuthCodeMasked   string              `json:"-"`
	ChannelRef       string              `json:"-"`
	ReversingUntil   *time.Time          `json:"-"`
}

// referenceOrderJSON is the order object as encoding/json gives it; the
// hand-written encoder must match it byte for byte.
func referenceOrderJSON(o *paygate.Order) ([]byte, error) {
	return json.Marshal(struct {
		Object string `json:"object"`
		*orderRef
	}{"order", (*orderRef)(o)})
}

// awkward strings: everything encoding/json escapes, and what it does not.
var awkward = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rcr",
	"\b\f\x00\x01\x1f\x7f", "中文 商户", "emoji 😀", "bad utf8 \xff\xfe end", "trunc \xe4\xb8",
	"line\u2028para\u2029", "/slash", "'single'",
}

func randomOrder(r *rand.Rand) *paygate.Order {
	s := func() string { return awkward[r.IntN(len(awkward))] }
	maybe := func() bool { return r.IntN(2) == 0 }
	t := func() time.Time {
		return time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(time.FixedZone("", (r.IntN(25)-12)*3600))
	}
	o := &paygate.Order{
		ID: s(), MerchantID: s(), MerchantOrderNo: s(), Status: paygate.OrderStatus(s()), Amount: r.Int64N(1e12) - 1e6,
		Currency: s(), Subject: s(), Method: paygate.Method(s()), Channel: s(), Provider: s(), ChannelTradeNo: s(),
		Fee: r.Int64N(1000), NetAmount: r.Int64N(1e9), TerminalID: s(), Capture: s(),
		RefundedAmount: r.Int64N(3), NotifyURL: s(), PayerID: s(), CreatedAt: t(), UpdatedAt: t(), ExpiresAt: t(),
		RefundReserved: 7, AuthCodeMasked: "1234****5678",
	}
	if maybe() {
		o.AuthorizedAmount = r.Int64N(3)
	}
	if maybe() {
		route := &paygate.Route{Provider: s(), Channel: s(), FeeRate: decimal.New(r.Int64N(100), -int32(r.IntN(5))),
			Fee: r.Int64N(100), Rule: s()}
		if maybe() {
			c := r.Int64N(3000)
			route.FeeCap = &c
		}
		switch r.IntN(3) {
		case 0:
			route.Candidates = []paygate.RouteCandidate{}
		case 1:
			for range 1 + r.IntN(4) {
				route.Candidates = append(route.Candidates, paygate.RouteCandidate{Provider: s(), Channel: s(),
					Fee: r.Int64N(10), Rule: s(), Eligible: maybe(), Reason: s(),
					FeeRate: decimal.New(r.Int64N(100), -4), FeeCap: r.Int64N(2) * 2000})
			}
		}
		if maybe() {
			route.Risk = []paygate.RiskDecision{{Rule: s(), Action: s(), Reason: s()}}
		} else if maybe() {
			route.Risk = []paygate.RiskDecision{}
		}
		o.Route = route
	}
	if maybe() {
		q := s()
		o.QRCode = &q
	}
	if maybe() {
		q := s()
		o.QRPNGURL = &q
	}
	if maybe() {
		o.Source, o.QRCodeID = s(), s()
	}
	switch r.IntN(3) {
	case 0:
		o.Credential = json.RawMessage(`{ "appId" : "wx<1>", "n": [1, 2] }`)
	case 1:
		o.Credential = json.RawMessage(`"x&y"`)
	}
	if maybe() {
		o.Card = &paygate.CardInfo{EntryMode: s(), Type: s(), Network: s(), BIN: s(), Last4: s(), Fingerprint: "fp"}
	}
	if maybe() {
		o.Location = &paygate.Location{RegionCode: s()}
	}
	if maybe() {
		o.Failure = &paygate.Failure{Code: s(), Message: s(), ChannelCode: s()}
	}
	if maybe() {
		p := t()
		o.PaidAt = &p
	}
	switch r.IntN(3) {
	case 0:
		o.Metadata = map[string]string{}
	case 1:
		o.Metadata = map[string]string{}
		for range r.IntN(5) {
			o.Metadata[s()] = s()
		}
	}
	return o
}

func TestOrderJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		o := randomOrder(r)
		want, werr := referenceOrderJSON(o)
		got, gerr := AppendOrder(nil, o)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("order %d: errors differ: encoding/json %v, AppendOrder %v", i, werr, gerr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("order %d differs:\n got %s\nwant %s", i, got, want)
		}
		viaMarshal, err := json.Marshal(Order{Order: o})
		if err != nil || !bytes.Equal(viaMarshal, want) {
			t.Fatalf("order %d: json.Marshal differs (%v):\n got %s\nwant %s", i, err, viaMarshal, want)
		}
	}
}

func TestOrderJSONErrors(t *testing.T) {
	o := &paygate.Order{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := AppendOrder(nil, o); err == nil {
		t.Fatal("a year past 9999 encoded")
	}
	o = &paygate.Order{Credential: json.RawMessage(`{"a":`)}
	if _, err := AppendOrder(nil, o); err == nil {
		t.Fatal("invalid credential JSON encoded")
	}
}

func FuzzOrderJSON(f *testing.F) {
	for _, s := range awkward {
		f.Add(s, s, int64(1000), "0.0038")
	}
	f.Fuzz(func(t *testing.T, a, b string, amount int64, rate string) {
		d, err := decimal.NewFromString(rate)
		if err != nil {
			d = decimal.Zero
		}
		cp := amount
		o := &paygate.Order{ID: a, Subject: b, Amount: amount, Metadata: map[string]string{a: b, b: a},
			Route:   &paygate.Route{Provider: a, FeeRate: d, FeeCap: &cp, Candidates: []paygate.RouteCandidate{{Reason: b, FeeRate: d}}},
			Failure: &paygate.Failure{Message: b}, Card: &paygate.CardInfo{Last4: a}, Location: &paygate.Location{RegionCode: b}}
		want, werr := referenceOrderJSON(o)
		got, gerr := AppendOrder(nil, o)
		if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("differs:\n got %s (%v)\nwant %s (%v)", got, gerr, want, werr)
		}
	})
}

func BenchmarkOrderJSON(b *testing.B) {
	o := randomOrder(rand.New(rand.NewPCG(3, 4)))
	b.Run("AppendOrder", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf, _ = AppendOrder(buf[:0], o)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			referenceOrderJSON(o)
		}
	})
}
