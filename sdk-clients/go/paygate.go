// Package paygate is the Go client of the paygate payment gateway API.
//
// A Client signs every request with the merchant's (or terminal's) API key,
// gives every POST an Idempotency-Key that it reuses across retries, retries
// connection errors, timeouts, 409 idempotency_key_in_use, 429 and
// 502/503/504 with exponential backoff and jitter, and returns API errors as
// *Error. ConstructEvent verifies the webhooks paygate sends.
//
//	c := paygate.NewClient(keyID, secret, paygate.WithBaseURL("https://pay.example.com"))
//	o, err := c.Orders.Create(ctx, &paygate.OrderParams{MerchantOrderNo: "A1001", Amount: 2500,
//		Subject: "Latte", Method: "qr", Channel: "wechat"})
//
// The package uses the standard library only.
package paygate

import (
	"net/http"
	"time"
)

// Version is this SDK's version; it is sent in the User-Agent.
const Version = "0.1.0"

// Defaults. DefaultTimeout bounds one attempt and is above the longest wait
// an order may ask for (wait_seconds ≤ 120).
const (
	DefaultBaseURL    = "http://localhost:8080"
	DefaultMaxRetries = 2
	DefaultTimeout    = 130 * time.Second
	// The first retry waits about DefaultInitialBackoff, each later one
	// twice as long, never more than DefaultMaxBackoff; jitter spreads each
	// wait over its upper half.
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
	// MaxRetryAfter bounds how long a Retry-After header can make the
	// client wait before a retry.
	MaxRetryAfter = 60 * time.Second
)

// Client calls the paygate API. It is safe for concurrent use.
type Client struct {
	keyID          string
	secret         string
	baseURL        string
	httpClient     *http.Client
	maxRetries     int
	timeout        time.Duration
	initialBackoff time.Duration
	maxBackoff     time.Duration
	userAgent      string
	now            func() time.Time
	sleep          func(d time.Duration) <-chan time.Time

	Orders          *OrderService
	Refunds         *RefundService
	Routes          *RouteService
	Events          *EventService
	Terminals       *TerminalService
	QRCodes         *QRCodeService
	Reconciliations *ReconciliationService
	Discrepancies   *DiscrepancyService
	Statements      *StatementService
}

// Option configures a Client.
type Option func(*Client)

// WithBaseURL sets the gateway's address, e.g. "https://pay.example.com".
func WithBaseURL(u string) Option { return func(c *Client) { c.baseURL = trimSlash(u) } }

// WithHTTPClient sets the HTTP client (its Timeout, if any, applies too).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.httpClient = h } }

// WithMaxRetries sets how many times a failed request is retried (0: never).
func WithMaxRetries(n int) Option {
	return func(c *Client) {
		if n >= 0 {
			c.maxRetries = n
		}
	}
}

// WithTimeout bounds each attempt.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithBackoff sets the first retry's wait and the cap of the doubling.
func WithBackoff(initial, max time.Duration) Option {
	return func(c *Client) {
		if initial > 0 {
			c.initialBackoff = initial
		}
		if max > 0 {
			c.maxBackoff = max
		}
	}
}

// WithUserAgent appends an application name to the User-Agent.
func WithUserAgent(app string) Option {
	return func(c *Client) {
		if app != "" {
			c.userAgent += " " + app
		}
	}
}

// NewClient returns a client signing with the API key keyID and its secret.
func NewClient(keyID, secret string, opts ...Option) *Client {
	c := &Client{
		keyID:          keyID,
		secret:         secret,
		baseURL:        DefaultBaseURL,
		httpClient:     &http.Client{CheckRedirect: noRedirects},
		maxRetries:     DefaultMaxRetries,
		timeout:        DefaultTimeout,
		initialBackoff: DefaultInitialBackoff,
		maxBackoff:     DefaultMaxBackoff,
		userAgent:      "paygate-go/" + Version,
		now:            time.Now,
		sleep:          time.After,
	}
	for _, o := range opts {
		o(c)
	}
	c.Orders = &OrderService{c}
	c.Refunds = &RefundService{c}
	c.Routes = &RouteService{c}
	c.Events = &EventService{c}
	c.Terminals = &TerminalService{c}
	c.QRCodes = &QRCodeService{c}
	c.Reconciliations = &ReconciliationService{c}
	c.Discrepancies = &DiscrepancyService{c}
	c.Statements = &StatementService{c}
	return c
}

// The API never redirects; a redirect is answered as it is.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// RequestOption adjusts one call.
type RequestOption func(*requestConfig)

type requestConfig struct {
	idempotencyKey string
}

// WithIdempotencyKey sets the Idempotency-Key of a POST (1-255 characters)
// instead of a generated one: pass your own to make a retry after a crash
// of your process land on the same stored answer.
func WithIdempotencyKey(key string) RequestOption {
	return func(r *requestConfig) { r.idempotencyKey = key }
}
