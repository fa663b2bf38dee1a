package acquirer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"
	isoerrors "github.com/moov-io/iso8583/errors"

	"github.com/paygate-cn/paygate"
)

// Defaults, each overridable through the provider's credentials.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultPoolSize      = 2
	DefaultEchoInterval  = 30 * time.Second
	DefaultReconnectWait = time.Second
	DefaultReversalRetry = 5 * time.Second
)

// Client is an acquirer provider: a pool of signed-on ISO 8583 connections
// to one acquirer host. It is safe for concurrent use.
type Client struct {
	id         string
	acquirerID string
	mac        *MACKey
	timeout    time.Duration
	retryWait  time.Duration
	now        paygate.Clock
	pool       *connection.Pool
	stan       atomic.Uint32
	// settlementURL serves the acquirer's settlement file (FetchBill).
	settlementURL string

	mu        sync.Mutex
	trades    map[string]*trade // by order id
	reversals map[string]*reversal
	inserts   int

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

var (
	_ paygate.Channel       = (*Client)(nil)
	_ paygate.Reverser      = (*Client)(nil)
	_ paygate.PreAuthorizer = (*Client)(nil)
	_ paygate.Voider        = (*Client)(nil)
)

// trade is what the client remembers of a card transaction so that it can
// reverse, void, capture or cancel it: never the PAN, only its masked form.
type trade struct {
	orig       Original
	proc       string
	condition  string
	amount     int64
	terminal   string
	merchantNo string
	maskedPAN  string
	rrn        string
	authCode   string
	at         time.Time
}

type reversal struct {
	done   chan struct{}
	result *paygate.Result
	err    error
}

// Option configures a Client.
type Option func(*Client)

// WithClock sets the clock used for fields 7, 12 and 13.
func WithClock(now paygate.Clock) Option { return func(c *Client) { c.now = now } }

// CredentialKeys are the credentials of an acquirer provider (see New).
var CredentialKeys = []paygate.CredentialKey{
	{Name: "mac_key"}, {Name: "acquirer_id"},
	{Name: "address", Optional: true},
	{Name: "tls_ca_cert", Optional: true},
	{Name: "settlement_url", Optional: true},
	{Name: "pool_size", Optional: true},
	{Name: "echo_interval", Optional: true},
	{Name: "reconnect_wait", Optional: true},
	{Name: "reversal_retry", Optional: true},
}

// New builds the client of a configured acquirer provider and starts
// connecting. The host is BaseURL "tcp://host:port", or "tls://host:port"
// for TLS (1.2 or later; the server certificate is verified against the
// system roots or the PEM certificates of credential "tls_ca_cert", and the
// connect timeout bounds dialling and the handshake together), or the
// credential "address" (host:port, plain TCP). Credentials: "mac_key" (32
// hex digits, double-length 3DES), "acquirer_id" (field 32, up to 11
// digits), and optionally "settlement_url" (where the daily settlement file
// is fetched), "pool_size", "echo_interval", "reconnect_wait" and
// "reversal_retry" (Go durations). New does not fail when the host is
// down: the pool keeps reconnecting.
func New(spec paygate.ProviderSpec, opts ...Option) (*Client, error) {
	cred, err := spec.ReadCredentials(CredentialKeys)
	if err != nil {
		return nil, err
	}
	addr, tlsConfig, err := endpoint(spec, cred)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(cred["mac_key"])
	var mac *MACKey
	if err == nil {
		mac, err = NewMACKey(key)
	}
	if err != nil {
		return nil, paygate.Errorf(paygate.EINVALID, "acquirer %s: mac_key must be 32 hex digits", spec.ID)
	}
	acq := cred["acquirer_id"]
	if acq == "" || len(acq) > 11 || !digits(acq) {
		return nil, paygate.Errorf(paygate.EINVALID, "acquirer %s: acquirer_id must be 1-11 digits", spec.ID)
	}
	c := &Client{
		id:         spec.ID,
		acquirerID: acq,
		mac:        mac,
		timeout:    spec.Timeout,
		retryWait:  DefaultReversalRetry,
		now:        time.Now,
		trades:     make(map[string]*trade),
		reversals:  make(map[string]*reversal),
		done:       make(chan struct{}),
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	c.stan.Store(rand.Uint32N(900000))
	poolSize := DefaultPoolSize
	if s := cred["pool_size"]; s != "" {
		if poolSize, err = strconv.Atoi(s); err != nil || poolSize < 1 || poolSize > 64 {
			return nil, paygate.Errorf(paygate.EINVALID, "acquirer %s: pool_size must be 1-64", spec.ID)
		}
	}
	durations := map[string]*time.Duration{}
	echo, reconnect := DefaultEchoInterval, DefaultReconnectWait
	durations["echo_interval"], durations["reconnect_wait"], durations["reversal_retry"] = &echo, &reconnect, &c.retryWait
	for name, d := range durations {
		if s := cred[name]; s != "" {
			v, err := time.ParseDuration(s)
			if err != nil || v <= 0 {
				return nil, paygate.Errorf(paygate.EINVALID, "acquirer %s: %s must be a positive duration", spec.ID, name)
			}
			*d = v
		}
	}
	if u := cred["settlement_url"]; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, paygate.Errorf(paygate.EINVALID, "acquirer %s: settlement_url must be an http(s) URL", spec.ID)
		}
		c.settlementURL = u
	}
	for _, o := range opts {
		o(c)
	}

	codec := NewCodec(mac) // signs what is sent, checks what is read
	connOpts := codec.Options()
	if tlsConfig != nil {
		connOpts = append(connOpts, connection.SetTLSConfig(func(cfg *tls.Config) {
			cfg.MinVersion = tls.VersionTLS12
			cfg.ServerName = tlsConfig.ServerName
			cfg.RootCAs = tlsConfig.RootCAs
		}))
	}
	factory := func(addr string) (*connection.Connection, error) {
		return connection.New(addr, Spec, ReadLength, WriteLength, append(connOpts,
			// Bounds the TCP connect and the TLS handshake together.
			connection.ConnectTimeout(c.timeout),
			connection.SendTimeout(c.timeout),
			connection.IdleTime(echo),
			connection.OnConnect(c.signOn),
			connection.PingHandler(c.echo),
			connection.InboundMessageHandler(c.inbound),
			connection.ErrorHandler(func(error) {}), // never log messages: they carry PANs
		)...)
	}
	addrs := make([]string, poolSize)
	for i := range addrs {
		addrs[i] = addr
	}
	c.pool, err = connection.NewPool(factory, addrs,
		connection.PoolReconnectWait(reconnect),
		connection.PoolMaxReconnectWait(10*reconnect),
		connection.PoolMinConnections(0),
		connection.PoolConnectionsFilter(func(conn *connection.Connection) bool {
			return conn.Status() == connection.StatusOnline
		}),
		connection.PoolErrorHandler(func(error) {}),
	)
	if err != nil {
		return nil, err
	}
	if err := c.pool.Connect(); err != nil {
		return nil, err
	}
	return c, nil
}

// endpoint returns the host's address and, for a tls:// base URL, the TLS
// settings to reach it with.
func endpoint(spec paygate.ProviderSpec, cred map[string]string) (string, *tls.Config, error) {
	if a := cred["address"]; a != "" {
		return a, nil, nil
	}
	u, err := url.Parse(spec.BaseURL)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "tls") || u.Hostname() == "" || u.Port() == "" {
		return "", nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "base_url",
			"acquirer %s: base_url must be tcp://host:port or tls://host:port (or set credentials.address)", spec.ID)
	}
	if u.Scheme == "tcp" {
		return u.Host, nil, nil
	}
	cfg := &tls.Config{ServerName: u.Hostname()}
	if pemCerts := cred["tls_ca_cert"]; pemCerts != "" {
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM([]byte(pemCerts)) {
			return "", nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "credentials.tls_ca_cert",
				"acquirer %s: credentials.tls_ca_cert holds no PEM certificate", spec.ID)
		}
	}
	return u.Host, cfg, nil
}

// ID returns the provider id.
func (c *Client) ID() string { return c.id }

// Kind returns "acquirer".
func (c *Client) Kind() string { return paygate.KindAcquirer }

// Close stops background reversals and closes every connection. Reversals
// not yet acknowledged are abandoned (their Reverse calls return a
// ChannelError).
func (c *Client) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	err := c.pool.Close()
	c.wg.Wait()
	return err
}

// Online reports how many connections are signed on.
func (c *Client) Online() int {
	n := 0
	for _, conn := range c.pool.Connections() {
		if conn.Status() == connection.StatusOnline {
			n++
		}
	}
	return n
}

func (c *Client) nextSTAN() string {
	n := c.stan.Add(1)%999999 + 1
	return fmt.Sprintf("%06d", n)
}

// stamp sets fields 7, 11, 12 and 13 and returns field 7.
func (c *Client) stamp(m *iso8583.Message, stan string) string {
	now := c.now()
	f7 := now.UTC().Format("0102150405")
	setStamp(m, stan, f7, now)
	return f7
}

// setStamp sets the STAN, transmission time (field 7) and local time and
// date (fields 12 and 13, from now).
func setStamp(m *iso8583.Message, stan, transmission string, now time.Time) {
	set(m, FieldTransmission, transmission)
	set(m, FieldSTAN, stan)
	set(m, FieldLocalTime, now.Format("150405"))
	set(m, FieldLocalDate, now.Format("0102"))
}

// set assigns a field already validated against the spec; a failure here
// surfaces as a pack error before anything is sent.
func set(m *iso8583.Message, id int, v string) {
	_ = m.Field(id, v)
}

func amountField(n int64) string { return fmt.Sprintf("%012d", n) }

// networkMessage builds a 0800 with the given field 70 code; the codec
// signs it on its way out.
func (c *Client) networkMessage(code string) *iso8583.Message {
	m := NewMessage(MTINetwork)
	c.stamp(m, c.nextSTAN())
	set(m, FieldAcquirerID, c.acquirerID)
	set(m, FieldNetworkCode, code)
	return m
}

// signOn runs on every new connection before the pool uses it.
func (c *Client) signOn(conn *connection.Connection) error {
	m := c.networkMessage(networkSignOn)
	resp, err := conn.Send(m)
	if err != nil {
		return fmt.Errorf("sign-on: %w", err)
	}
	if err := c.checkResponse(m, resp); err != nil {
		return fmt.Errorf("sign-on: %w", err)
	}
	if rc, _ := resp.GetString(FieldResponseCode); rc != RCApproved {
		return fmt.Errorf("sign-on refused: %s", rc)
	}
	conn.SetStatus(connection.StatusOnline)
	return nil
}

// echo is the keep-alive sent when a connection was idle; a connection
// whose echo fails is closed so that the pool reconnects.
func (c *Client) echo(conn *connection.Connection) {
	m := c.networkMessage(networkEcho)
	resp, err := conn.Send(m)
	if err == nil {
		err = c.checkResponse(m, resp)
	}
	if err != nil && !errors.Is(err, connection.ErrConnectionClosed) {
		conn.TriggerFailure(fmt.Errorf("echo: %w", err))
	}
}

// inbound answers the host's own echo tests; late answers to requests that
// already timed out also land here and are dropped on purpose: the sale
// they belong to is being reversed.
func (c *Client) inbound(conn *connection.Connection, m *iso8583.Message) {
	if mti, _ := m.GetMTI(); mti != MTINetwork || c.mac.Verify(m) != nil {
		return
	}
	resp := NewMessage(MTINetworkResp)
	for _, id := range []int{FieldTransmission, FieldSTAN, FieldAcquirerID, FieldNetworkCode} {
		if v, _ := m.GetString(id); v != "" {
			set(resp, id, v)
		}
	}
	set(resp, FieldResponseCode, RCApproved)
	_ = conn.Reply(resp) // signed by the codec
}

// errNotSent marks a failure that happened before the request left.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// conn waits for a signed-on connection until the deadline.
func (c *Client) conn(deadline time.Time) (*connection.Connection, error) {
	for {
		conn, err := c.pool.Get()
		if err == nil {
			return conn, nil
		}
		if !time.Now().Before(deadline) {
			return nil, err
		}
		select {
		case <-c.done:
			return nil, errors.New("client closed")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// exchange sends m, which the codec signs, and returns the verified
// answer. Errors are a *paygate.ChannelError; when the request surely did
// not leave, it also wraps a *notSentError.
func (c *Client) exchange(ctx context.Context, op string, m *iso8583.Message) (*iso8583.Message, error) {
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn, err := c.conn(deadline)
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Code: "unavailable",
			Message: "no signed-on connection to the acquirer", Err: &notSentError{err}}
	}
	wait := time.Until(deadline)
	if wait <= 0 {
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Timeout: true, Message: "deadline passed",
			Err: &notSentError{context.DeadlineExceeded}}
	}
	resp, err := conn.Send(m, connection.SendTimeout(wait))
	if err != nil {
		var packErr *isoerrors.PackError
		switch {
		case errors.Is(err, connection.ErrSendTimeout):
			return nil, &paygate.ChannelError{Provider: c.id, Op: op, Timeout: true, Message: "no answer from the acquirer"}
		case errors.As(err, &packErr):
			return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: "cannot pack request", Err: &notSentError{err}}
		}
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: "connection lost", Err: err}
	}
	if err := c.checkResponse(m, resp); err != nil {
		code := "malformed"
		if errors.Is(err, ErrBadMAC) {
			code = "bad_mac"
		}
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Code: code, Message: "unverifiable answer", Err: err}
	}
	return resp, nil
}

// checkResponse verifies the MAC of an answer and that it answers req.
func (c *Client) checkResponse(req, resp *iso8583.Message) error {
	if resp == nil {
		return errors.New("empty answer")
	}
	if err := c.mac.Verify(resp); err != nil {
		return err
	}
	reqMTI, _ := req.GetMTI()
	mti, _ := resp.GetMTI()
	if mti != ResponseMTI(reqMTI) && !(reqMTI == MTIReversalRepeat && mti == MTIReversalResp) {
		return fmt.Errorf("answer MTI %q does not answer %s", mti, reqMTI)
	}
	for _, id := range []int{FieldSTAN, FieldTerminalID} {
		want, _ := req.GetString(id)
		if got, _ := resp.GetString(id); want != "" && got != want {
			return fmt.Errorf("answer field %d does not match the request", id)
		}
	}
	if rc, _ := resp.GetString(FieldResponseCode); len(rc) != 2 {
		return errors.New("answer has no response code")
	}
	return nil
}

func sent(err error) bool {
	var ns *notSentError
	return !errors.As(err, &ns)
}

func unsupported(provider, op string) error {
	return &paygate.ChannelError{Provider: provider, Op: op, Code: "unsupported",
		Message: "ISO 8583 acquirers have no reliable query; an unknown sale is resolved by reversal (0400)"}
}

// Query is unsupported: see the package documentation.
func (c *Client) Query(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	return nil, unsupported(c.id, "query")
}

// QueryRefund is unsupported: an online refund's answer is final.
func (c *Client) QueryRefund(ctx context.Context, r *paygate.Refund, o *paygate.Order) (*paygate.RefundResult, error) {
	return nil, unsupported(c.id, "query_refund")
}

func (c *Client) remember(orderID string, t *trade) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trades[orderID] = t
	c.inserts++
	if c.inserts%1024 == 0 { // forget trades older than two days
		cutoff := c.now().Add(-48 * time.Hour)
		for id, old := range c.trades {
			if old.at.Before(cutoff) && c.reversals[id] == nil {
				delete(c.trades, id)
			}
		}
	}
}

func (c *Client) lookup(orderID string) *trade {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trades[orderID]
}
