package paygate

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"

	"strconv"
	"time"
)

// Sign returns the Authorization header of a request:
// hex(HMAC-SHA256(secret, METHOD\nPATH_AND_QUERY\ntimestamp\nnonce\nhex(SHA256(body)))).
// pathAndQuery is the request target exactly as sent.
func Sign(keyID, secret, method, pathAndQuery string, timestamp int64, nonce string, body []byte) string {
	sum := sha256.Sum256(body)
	ts := strconv.FormatInt(timestamp, 10)
	mac := hmac.New(sha256.New, []byte(secret))
	io.WriteString(mac, method+"\n"+pathAndQuery+"\n"+ts+"\n"+nonce+"\n"+hex.EncodeToString(sum[:]))
	return "PAYGATE-HMAC-SHA256 key_id=" + keyID + ",timestamp=" + ts + ",nonce=" + nonce +
		",signature=" + hex.EncodeToString(mac.Sum(nil))
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("paygate: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// newIdempotencyKey is 128 random bits.
func newIdempotencyKey() string { return "pgsdk_" + randomHex(16) }

// call is one API call: method, path (with query), JSON body or nil.
type call struct {
	method string
	path   string
	body   any
	opts   []RequestOption
}

// do sends the call, retrying what the retry rules allow, and decodes a
// 2xx JSON answer into out (when out is not nil).
func (c *Client) do(ctx context.Context, cl call, out any) error {
	resp, body, err := c.send(ctx, cl, false)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("paygate: decoding the answer to %s %s: %w", cl.method, cl.path, err)
	}
	return nil
}

// send performs the attempts of one call and returns the 2xx answer (its
// body read into memory unless stream is set; then the caller reads and
// closes it) or the last error.
func (c *Client) send(ctx context.Context, cl call, stream bool) (*http.Response, []byte, error) {
	var rc requestConfig
	for _, o := range cl.opts {
		o(&rc)
	}
	var body []byte
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return nil, nil, fmt.Errorf("paygate: encoding the request: %w", err)
		}
	}
	key := rc.idempotencyKey
	if cl.method == http.MethodPost && key == "" {
		key = newIdempotencyKey()
	}
	op := cl.method + " " + cl.path
	for attempt := 0; ; attempt++ {
		ctxA, cancel := context.WithTimeout(ctx, c.timeout)
		resp, err := c.attempt(ctxA, cl.method, cl.path, body, key)
		var retryAfter time.Duration
		if err == nil {
			if resp.StatusCode < 300 && stream {
				resp.Body = &cancelOnClose{resp.Body, cancel}
				return resp, nil, nil
			}
			var b []byte
			b, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
			resp.Body.Close()
			switch {
			case err != nil:
				err = &ConnectionError{Op: op, Err: err}
			case resp.StatusCode >= 300:
				err = newAPIError(resp, b)
				retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.now())
			default:
				cancel()
				resp.Body = io.NopCloser(bytes.NewReader(nil))
				return resp, b, nil
			}
		}
		cancel()
		if ctx.Err() != nil {
			return nil, nil, &ConnectionError{Op: op, Err: ctx.Err()}
		}
		if attempt >= c.maxRetries || !retryable(err) {
			return nil, nil, err
		}
		if werr := c.wait(ctx, attempt, retryAfter); werr != nil {
			return nil, nil, &ConnectionError{Op: op, Err: werr}
		}
	}
}

// maxAnswer bounds a JSON answer read into memory.
const maxAnswer = 32 << 20

// cancelOnClose ends a streamed answer's attempt context when the caller
// closes the body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// attempt sends one signed request (a fresh timestamp and nonce each time:
// the gateway refuses a nonce it has seen).
func (c *Client) attempt(ctx context.Context, method, path string, body []byte, idemKey string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, rd)
	if err != nil {
		return nil, fmt.Errorf("paygate: building %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", Sign(c.keyID, c.secret, method, req.URL.RequestURI(), c.now().Unix(), randomHex(16), body))
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, &ConnectionError{Op: method + " " + path, Err: err}
	}
	return resp, nil
}

// retryable: connection errors and timeouts (the request may or may not
// have reached the gateway: the idempotency key makes the retry safe),
// 409 idempotency_key_in_use, 429 and 502/503/504. Never another 4xx.
func retryable(err error) bool {
	var ce *ConnectionError
	if errors.As(err, &ce) {
		return true
	}
	var ae *Error
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case http.StatusConflict:
		return ae.Code == "idempotency_key_in_use"
	}
	return false
}

// wait sleeps before retry number attempt+1: the Retry-After the gateway
// asked for (bounded by MaxRetryAfter), else exponential backoff with
// jitter over the upper half of the step.
func (c *Client) wait(ctx context.Context, attempt int, retryAfter time.Duration) error {
	d := backoff(c.initialBackoff, c.maxBackoff, attempt)
	if retryAfter > 0 {
		d = min(retryAfter, MaxRetryAfter)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.sleep(d):
		return nil
	}
}

func backoff(initial, max time.Duration, attempt int) time.Duration {
	d := initial
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	half := int64(d / 2)
	if half <= 0 {
		return d
	}
	j, err := rand.Int(rand.Reader, big.NewInt(half+1))
	if err != nil {
		return d
	}
	return time.Duration(half + j.Int64())
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// ConnectionError is a request that got no HTTP answer: refused, reset,
// timed out. The request may have reached the gateway.
type ConnectionError struct {
	Op  string
	Err error
}

func (e *ConnectionError) Error() string { return "paygate: " + e.Op + ": " + e.Err.Error() }
func (e *ConnectionError) Unwrap() error { return e.Err }

// Timeout reports whether the attempt timed out.
func (e *ConnectionError) Timeout() bool {
	var ne net.Error
	return errors.Is(e.Err, context.DeadlineExceeded) || (errors.As(e.Err, &ne) && ne.Timeout())
}
