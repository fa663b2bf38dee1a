package ecny_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/ecny"
	"github.com/paygate-cn/paygate/channels/sandbox"
	bank "github.com/paygate-cn/paygate/channels/sandbox/ecny"
)

// note is one notification the merchant's endpoint received.
type note struct {
	header http.Header
	body   []byte
}

// fixture is a simulated bank over real HTTP, a client configured with its
// credentials and a notification endpoint.
type fixture struct {
	bank   *bank.Server
	url    string
	client *ecny.Client
	notes  chan note
	offset atomic.Int64 // added to the bank's clock
}

type fixtureOptions struct {
	timeout time.Duration
	hangFor time.Duration
}

func newFixture(t *testing.T, fo fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{notes: make(chan note, 64)}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.notes <- note{header: r.Header.Clone(), body: body}
		w.Write([]byte(`{"code":"SUCCESS"}`))
	}))
	t.Cleanup(receiver.Close)
	notifier := sandbox.NewNotifier()
	notifier.Scale = 0.0001
	t.Cleanup(notifier.Close)
	b, err := bank.New(bank.Options{
		MerchantNo: "898310000000001",
		NotifyURL:  receiver.URL + "/callbacks/ecny",
		Notifier:   notifier,
		Now:        func() time.Time { return time.Now().Add(time.Duration(f.offset.Load())) },
		HangFor:    fo.hangFor,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(b.Close) // runs before srv.Close: releases hanging calls
	f.bank, f.url = b, srv.URL
	f.client = f.newClient(t, b.Credentials(), fo.timeout)
	return f
}

func (f *fixture) newClient(t *testing.T, creds map[string]string, timeout time.Duration) *ecny.Client {
	t.Helper()
	c, err := ecny.New(paygate.ProviderSpec{ID: "ecny-test", Kind: paygate.KindECNY, BaseURL: f.url,
		Credentials: creds, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// nextNote waits for a notification (delivery is asynchronous; the wait is a
// guard against a hang, not a timing assertion).
func (f *fixture) nextNote(t *testing.T) note {
	t.Helper()
	select {
	case n := <-f.notes:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no notification arrived")
		return note{}
	}
}

// code builds a 19-digit soft-wallet payment code with the given ending.
func code(ending string) string { return "011234567890123" + ending }

func pay(t *testing.T, c *ecny.Client, orderID, authCode string, amount int64) (*paygate.Result, error) {
	t.Helper()
	return c.Pay(context.Background(), &paygate.PaymentRequest{
		OrderID: orderID, Amount: amount, Subject: "Latte", Method: paygate.MethodAuthCode, AuthCode: authCode,
	})
}

func channelError(t *testing.T, err error) *paygate.ChannelError {
	t.Helper()
	var ce *paygate.ChannelError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want *paygate.ChannelError", err, err)
	}
	return ce
}

func query(t *testing.T, c *ecny.Client, orderID string) *paygate.Result {
	t.Helper()
	r, err := c.Query(context.Background(), &paygate.Order{ID: orderID})
	if err != nil {
		t.Fatalf("query %s: %v", orderID, err)
	}
	return r
}

func newOrderID() string {
	return paygate.NewID(paygate.PrefixOrder, time.Now())
}
