package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
)

// IdempotencyTTL is how long a key's first response is replayed.
const IdempotencyTTL = 24 * time.Hour

// replayBodyKey holds, when a handler sets it, the body to keep for replay
// instead of the one answered (an answer holding a one-time secret).
const replayBodyKey = "paygate.replay_body"

// idempotencyLock bounds how long a running request holds its key: longer
// than any request can run (wait_seconds is at most 120 s).
const idempotencyLock = 5 * time.Minute

type recorder struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) WriteString(s string) (int, error) {
	r.buf.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}

// idempotent implements the README's Idempotency-Key for POST requests: the
// first request's status and body are stored and replayed (201 → 200); the
// same key with other parameters is idempotency_key_reused; a retry while the
// first runs is idempotency_key_in_use.
func (s *Server) idempotent(c *gin.Context) {
	key := c.GetHeader("Idempotency-Key")
	if c.Request.Method != http.MethodPost || key == "" {
		c.Next()
		return
	}
	if utf8.RuneCountInString(key) > 255 || !utf8.ValidString(key) {
		s.writeError(c, paygate.ParamErrorf(paygate.EPARAMINVALID, "Idempotency-Key", "Idempotency-Key must be 1-255 characters"))
		return
	}
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	k := apiKey(c)
	// Keys are scoped per API key owner: a terminal's keys do not collide
	// with its merchant's.
	scope := k.MerchantID
	if k.TerminalID != "" {
		scope += "/" + k.TerminalID
	}
	h := sha256.New()
	h.Write([]byte(c.Request.Method + " " + c.Request.URL.Path + "\n"))
	h.Write(body)
	hash := hex.EncodeToString(h.Sum(nil))

	ctx := c.Request.Context()
	rec, err := s.deps.Idempotency.BeginIdempotent(ctx, scope, key, hash, s.now().Add(idempotencyLock))
	if err != nil {
		s.writeError(c, err)
		return
	}
	if rec != nil {
		switch {
		case rec.RequestHash != hash:
			s.writeError(c, paygate.Errorf(paygate.EIDEMPOTENCYREUSED, "Idempotency-Key %q was used with other parameters", key))
		case !rec.Done:
			s.writeError(c, paygate.Errorf(paygate.EIDEMPOTENCYINUSE, "a request with Idempotency-Key %q is still being processed", key))
		default:
			status := rec.StatusCode
			if status == http.StatusCreated {
				status = http.StatusOK
			}
			c.Header("Idempotent-Replayed", "true")
			c.Data(status, "application/json; charset=utf-8", rec.Body)
			c.Abort()
		}
		return
	}

	w := &recorder{ResponseWriter: c.Writer}
	c.Writer = w
	c.Next()
	status := w.Status()
	// Server and channel faults (5xx) are not replayed: nothing was decided,
	// and the retry runs again. Everything the request decided (created,
	// declined, rejected) is. Order creation never answers 5xx once the
	// order exists: an unknown channel outcome is a pending order.
	done := context.WithoutCancel(ctx)
	if status >= 500 {
		if err := s.deps.Idempotency.AbandonIdempotent(done, scope, key); err != nil {
			s.log.Error("idempotency abandon failed", "err", err)
		}
		return
	}
	stored := w.buf.Bytes()
	if b, ok := c.Get(replayBodyKey); ok {
		stored = b.([]byte)
	}
	if err := s.deps.Idempotency.FinishIdempotent(done, scope, key, status, stored); err != nil {
		s.log.Error("idempotency finish failed", "err", err)
	}
}
