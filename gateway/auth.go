package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
)

// AuthScheme is the Authorization scheme of signed API requests (README, Signing).
const AuthScheme = "PAYGATE-HMAC-SHA256"

const maxClockSkew = 300 * time.Second

// SignRequest returns the signature of a request as the README defines it:
// hex(HMAC-SHA256(secret, METHOD\nPATH_AND_QUERY\ntimestamp\nnonce\nhex(SHA256(body)))).
// The CLI, the SDKs' test vectors and the server all use this definition.
func SignRequest(secret, method, pathAndQuery, timestamp, nonce string, body []byte) string {
	sum := sha256.Sum256(body)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method + "\n" + pathAndQuery + "\n" + timestamp + "\n" + nonce + "\n" + hex.EncodeToString(sum[:])))
	return hex.EncodeToString(mac.Sum(nil))
}

// AuthorizationHeader returns the full Authorization header value.
func AuthorizationHeader(keyID, secret, method, pathAndQuery string, ts time.Time, nonce string, body []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	return AuthScheme + " key_id=" + keyID + ",timestamp=" + t + ",nonce=" + nonce +
		",signature=" + SignRequest(secret, method, pathAndQuery, t, nonce, body)
}

type authParams struct {
	keyID, timestamp, nonce, signature string
}

// authorization reads the request's one Authorization header; two headers
// are refused like a parameter given twice.
func authorization(h http.Header) (authParams, error) {
	if v := h.Values("Authorization"); len(v) > 1 {
		return authParams{}, paygate.Errorf(paygate.EAUTHREPEATED, "the Authorization header is given more than once")
	}
	return parseAuthorization(h.Get("Authorization"))
}

func parseAuthorization(h string) (authParams, error) {
	var p authParams
	scheme, rest, ok := strings.Cut(h, " ")
	if h == "" {
		return p, paygate.Errorf(paygate.EAUTHMISSING, "the Authorization header is required")
	}
	if !ok || scheme != AuthScheme {
		return p, paygate.Errorf(paygate.EAUTHMISSING, "the Authorization scheme must be %s", AuthScheme)
	}
	// Each parameter is given once: with two, which one a verifier reads
	// would decide what was signed.
	var seen [4]bool
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		var at int
		switch k {
		case "key_id":
			p.keyID, at = v, 0
		case "timestamp":
			p.timestamp, at = v, 1
		case "nonce":
			p.nonce, at = v, 2
		case "signature":
			p.signature, at = v, 3
		default:
			continue
		}
		if seen[at] {
			return authParams{}, paygate.Errorf(paygate.EAUTHREPEATED, "Authorization gives %s more than once", k)
		}
		seen[at] = true
	}
	switch {
	case p.keyID == "":
		return p, paygate.Errorf(paygate.EAUTHMISSING, "Authorization lacks key_id")
	case p.timestamp == "":
		return p, paygate.Errorf(paygate.EAUTHMISSING, "Authorization lacks timestamp")
	case len(p.nonce) < 16 || len(p.nonce) > 64:
		return p, paygate.Errorf(paygate.EAUTHMISSING, "Authorization nonce must be 16-64 characters")
	case len(p.signature) != 64:
		return p, paygate.Errorf(paygate.EINVALIDSIG, "signature must be 64 hex characters")
	}
	return p, nil
}

// authenticate verifies the request's signature and puts the key into the
// request context. The nonce is recorded only after the signature verified,
// so forged requests cannot use up a caller's nonces.
func (s *Server) authenticate(c *gin.Context) {
	p, err := authorization(c.Request.Header)
	if err != nil {
		s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	key, err := s.deps.Directory.APIKey(ctx, p.keyID)
	if err != nil {
		if code := paygate.ErrorCode(err); code == paygate.EINVALIDKEY || code == paygate.ENOTFOUND {
			err = paygate.Errorf(paygate.EINVALIDKEY, "unknown API key %q", p.keyID)
		} // else the directory's store failed: 503 or 500, not the caller's fault
		s.writeError(c, err)
		return
	}
	ts, err := strconv.ParseInt(p.timestamp, 10, 64)
	if err != nil {
		s.writeError(c, paygate.Errorf(paygate.ESTALETIMESTAMP, "timestamp must be unix seconds"))
		return
	}
	if skew := s.now().Sub(time.Unix(ts, 0)); skew > maxClockSkew || skew < -maxClockSkew {
		s.writeError(c, paygate.Errorf(paygate.ESTALETIMESTAMP, "timestamp is %s off the server clock (limit 300s)", skew.Round(time.Second)))
		return
	}
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	want := SignRequest(key.Secret, c.Request.Method, c.Request.URL.RequestURI(), p.timestamp, p.nonce, body)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(p.signature))) {
		s.writeError(c, paygate.Errorf(paygate.EINVALIDSIG, "signature does not match the request"))
		return
	}
	if err := s.admit(c, key, p.nonce); err != nil {
		s.writeError(c, err)
		return
	}
	c.Request = c.Request.WithContext(paygate.NewContextWithKey(ctx, key))
	c.Next()
}

// admit records the nonce for paygate.NonceWindow and applies the key's
// rate limit (docs/configuration.md, rate_limit) in one call to the
// Admitter: one round trip to Redis, the one the nonce alone costs. A
// request over the limit is answered 429 with Retry-After in whole
// seconds; nothing of it is recorded, so it may be sent again.
func (s *Server) admit(c *gin.Context, key *paygate.APIKey, nonce string) error {
	var rate paygate.RequestRate
	if s.deps.RateLimit != nil {
		rate.PerSecond, rate.Burst = s.deps.RateLimit(key)
	}
	var a paygate.Admission
	err := errNoAdmitter
	if s.deps.Admitter != nil {
		a, err = s.deps.Admitter.Admit(c.Request.Context(), key.ID, nonce, rate, s.now())
	}
	switch {
	case err != nil:
		s.log.Error("nonce and rate limit check failed", "err", err)
		return paygate.Errorf(paygate.EUNAVAILABLE, "replay protection is unavailable; retry shortly")
	case a.Replayed:
		return paygate.Errorf(paygate.EREPLAYEDNONCE, "nonce was already used within the last 10 minutes")
	case a.Wait > 0:
		c.Header("Retry-After", strconv.FormatInt((a.Wait.Milliseconds()+999)/1000, 10))
		return paygate.Errorf(paygate.ERATELIMITED, "more than %d requests per second with this key; retry later", rate.PerSecond)
	}
	return nil
}

var errNoAdmitter = errors.New("gateway: no Admitter configured")

const bodyKey = "paygate.body"

// readBody reads the request body once, bounded by MaxBodyBytes, and
// answers the error if it cannot.
func (s *Server) readBody(c *gin.Context) ([]byte, bool) {
	b, err := s.body(c)
	if err != nil {
		s.writeError(c, err)
		return nil, false
	}
	return b, true
}

// body reads the request body once, bounded by MaxBodyBytes.
func (s *Server) body(c *gin.Context) ([]byte, error) {
	if b, ok := c.Get(bodyKey); ok {
		return b.([]byte), nil
	}
	tooLarge := paygate.Errorf(paygate.EBODYTOOLARGE, "request body exceeds %d bytes", s.deps.MaxBodyBytes)
	if c.Request.ContentLength > s.deps.MaxBodyBytes {
		return nil, tooLarge
	}
	buf := make([]byte, 0, 1024)
	r := c.Request.Body
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > s.deps.MaxBodyBytes {
			return nil, tooLarge
		}
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			// Cut off, or not sent within the server's read timeout: a
			// part of a body is never taken for the whole.
			return nil, paygate.Errorf(paygate.EINVALID, "the request body could not be read in full")
		}
	}
	c.Set(bodyKey, buf)
	return buf, nil
}

func apiKey(c *gin.Context) *paygate.APIKey {
	return paygate.KeyFromContext(c.Request.Context())
}
