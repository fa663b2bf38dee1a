package ecny_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/ecny"
)

// selfBank is a client whose "bank" key belongs to the test, so the test can
// sign arbitrary notifications.
func selfBank(t testing.TB, merchantNo string) (*ecny.Client, *sm2.PrivateKey) {
	t.Helper()
	bankKey, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	merchantKey, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := ecny.MarshalPrivateKey(merchantKey)
	pub, _ := ecny.MarshalPublicKey(&bankKey.PublicKey)
	c, err := ecny.New(paygate.ProviderSpec{ID: "ecny-self", BaseURL: "http://127.0.0.1:1",
		Credentials: map[string]string{"merchant_no": merchantNo, "private_key": priv, "bank_public_key": pub}})
	if err != nil {
		t.Fatal(err)
	}
	return c, bankKey
}

func signedHeader(t testing.TB, key *sm2.PrivateKey, body []byte) http.Header {
	t.Helper()
	sig, err := ecny.Sign(key, ecny.SigningBytes(ecny.LabelNotify, ecny.NotifyPath, body))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(ecny.SignatureHeader, sig)
	return h
}

func TestParseCallbackGenuineAndTampered(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	id := newOrderID()
	if _, err := pay(t, f.client, id, code("0006"), 4321); err != nil {
		t.Fatal(err)
	}
	n := f.nextNote(t)
	got, err := f.client.ParseCallback(ctx, n.header, n.body)
	if err != nil {
		t.Fatalf("genuine notification rejected: %v", err)
	}
	if got.ID == "" || got.Provider != "ecny-test" || got.OrderID != id || got.Result.Outcome != paygate.OutcomeSuccess ||
		got.Result.Amount != 4321 || got.Result.ChannelTradeNo == "" || got.Result.PaidAt == nil {
		t.Fatalf("notification %+v / %+v", got, got.Result)
	}
	status, ct, body := f.client.CallbackReply(nil)
	if status != http.StatusOK || !strings.HasPrefix(ct, "application/json") || string(body) != `{"code":"SUCCESS"}` {
		t.Fatalf("reply %d %s %s", status, ct, body)
	}

	_, otherKey := selfBank(t, "x")
	otherMerchant := f.newClient(t, func() map[string]string {
		c := f.bank.Credentials()
		c["merchant_no"] = "898310000000999"
		return c
	}(), 0)
	for _, tc := range []struct {
		name   string
		client *ecny.Client
		header http.Header
		body   []byte
		want   string
	}{
		{"one byte changed", f.client, n.header, flipByte(n.body, len(n.body)/2), paygate.EINVALIDSIG},
		{"different amount", f.client, n.header, bytes.Replace(n.body, []byte(`"amount":4321`), []byte(`"amount":1`), 1), paygate.EINVALIDSIG},
		{"different merchant in body", f.client, n.header, bytes.Replace(n.body, []byte(`898310000000001`), []byte(`898310000000002`), 1), paygate.EINVALIDSIG},
		{"wrong key", f.client, signedHeader(t, otherKey, n.body), n.body, paygate.EINVALIDSIG},
		{"no signature", f.client, http.Header{}, n.body, paygate.EINVALIDSIG},
		{"another merchant's notification", otherMerchant, n.header, n.body, paygate.EINVALID},
		{"oversized", f.client, n.header, append(bytes.Clone(n.body), bytes.Repeat([]byte(" "), ecny.MaxNotifySize)...), paygate.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.ParseCallback(ctx, tc.header, tc.body)
			if code := paygate.ErrorCode(err); code != tc.want {
				t.Fatalf("err = %v (code %s), want %s", err, code, tc.want)
			}
			status, _, body := tc.client.CallbackReply(err)
			if status == http.StatusOK || !bytes.Contains(body, []byte(`"FAIL"`)) {
				t.Fatalf("reply to a rejected notification: %d %s", status, body)
			}
		})
	}
}

func flipByte(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

// TestParseCallbackMalformed: validly signed notifications that are not
// usable are EINVALID, not EINVALIDSIG.
func TestParseCallbackMalformed(t *testing.T) {
	c, key := selfBank(t, "898310000000001")
	head := `"head":{"version":"1.0","merchant_no":"898310000000001","notify_id":"N1","notify_type":%q,"timestamp":"2026-11-21T15:30:00+08:00","sign_type":"SM2"}`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"not json", `{"head":`, paygate.EINVALID},
		{"no notify id", `{"head":{"version":"1.0","merchant_no":"898310000000001","notify_type":"TRADE_SUCCESS","sign_type":"SM2"},"body":{"out_trade_no":"o","trade_status":"SUCCESS"}}`, paygate.EINVALID},
		{"unknown type", "{" + fmt.Sprintf(head, "TRADE_WHATEVER") + `,"body":{}}`, paygate.EINVALID},
		{"trade without out_trade_no", "{" + fmt.Sprintf(head, "TRADE_SUCCESS") + `,"body":{"trade_status":"SUCCESS"}}`, paygate.EINVALID},
		{"bad trade status", "{" + fmt.Sprintf(head, "TRADE_SUCCESS") + `,"body":{"out_trade_no":"o","trade_status":"MAYBE"}}`, paygate.EINVALID},
		{"bad paid_at", "{" + fmt.Sprintf(head, "TRADE_SUCCESS") + `,"body":{"out_trade_no":"o","trade_status":"SUCCESS","paid_at":"yesterday"}}`, paygate.EINVALID},
		{"refund without number", "{" + fmt.Sprintf(head, "REFUND_SUCCESS") + `,"body":{"refund_status":"SUCCESS"}}`, paygate.EINVALID},
		{"trade ok", "{" + fmt.Sprintf(head, "TRADE_SUCCESS") + `,"body":{"out_trade_no":"o","trade_no":"E1","trade_status":"SUCCESS","amount":5,"paid_at":"2026-11-21T15:30:00+08:00"}}`, ""},
		{"refund ok", "{" + fmt.Sprintf(head, "REFUND_SUCCESS") + `,"body":{"out_trade_no":"o","out_refund_no":"r","refund_no":"R1","refund_amount":5,"refund_status":"SUCCESS"}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ParseCallback(context.Background(), signedHeader(t, key, []byte(tc.body)), []byte(tc.body))
			if code := paygate.ErrorCode(err); code != tc.want {
				t.Fatalf("err = %v, want code %q", err, tc.want)
			}
		})
	}
}
