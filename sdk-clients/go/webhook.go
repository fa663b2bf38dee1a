package paygate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header paygate signs its webhooks with:
// t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>, one v1 per
// secret while a secret is being rotated.
const SignatureHeader = "Paygate-Signature"

// DefaultTolerance is how far a webhook's timestamp may be from now.
const DefaultTolerance = 300 * time.Second

// WebhookError is a webhook that failed verification. Code is the
// gateway's error code (invalid_signature or stale_timestamp); Reason
// tells the cases apart. A wrong secret and a modified body cannot be told
// apart (both are a signature that does not match): both are
// ErrNoValidSignature.
type WebhookError struct {
	Code   string
	Reason string
}

func (e *WebhookError) Error() string { return "paygate: webhook " + e.Code + ": " + e.Reason }

// Is matches the sentinel errors by reason.
func (e *WebhookError) Is(target error) bool {
	t, ok := target.(*WebhookError)
	return ok && t.Reason == e.Reason
}

// The ways a webhook fails verification; compare with errors.Is.
var (
	ErrMissingSignature = &WebhookError{Code: "invalid_signature", Reason: "no " + SignatureHeader + " header"}
	ErrMalformedHeader  = &WebhookError{Code: "invalid_signature", Reason: "malformed " + SignatureHeader + " header"}
	ErrStaleTimestamp   = &WebhookError{Code: "stale_timestamp", Reason: "timestamp outside the tolerance"}
	ErrNoValidSignature = &WebhookError{Code: "invalid_signature", Reason: "no signature matches the secrets and body"}
)

// ConstructEvent verifies a webhook's Paygate-Signature header against the
// raw body and any of secrets (several during a rotation), with the
// default tolerance of 300 s, and decodes the event. Pass the body exactly
// as received, before any JSON parsing.
func ConstructEvent(payload []byte, header string, secrets ...string) (*Event, error) {
	return ConstructEventWithTolerance(payload, header, DefaultTolerance, secrets...)
}

// ConstructEventWithTolerance is ConstructEvent with another tolerance.
func ConstructEventWithTolerance(payload []byte, header string, tolerance time.Duration, secrets ...string) (*Event, error) {
	if err := VerifyWebhook(payload, header, time.Now(), tolerance, secrets...); err != nil {
		return nil, err
	}
	var e Event
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, &WebhookError{Code: "invalid_payload", Reason: "body is not an event: " + err.Error()}
	}
	return &e, nil
}

// VerifyWebhook checks the signature alone, at time now (tolerance 0 means
// DefaultTolerance). Unknown schemes in the header (v0=...) are ignored.
func VerifyWebhook(payload []byte, header string, now time.Time, tolerance time.Duration, secrets ...string) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if strings.TrimSpace(header) == "" {
		return ErrMissingSignature
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformedHeader
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformedHeader
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStaleTimestamp
	}
	for _, secret := range secrets {
		want := []byte(webhookMAC(secret, ts, payload))
		for _, s := range sigs {
			if hmac.Equal(want, []byte(s)) {
				return nil
			}
		}
	}
	return ErrNoValidSignature
}

// SignWebhook returns the header a webhook of body carries at timestamp,
// one v1 per secret. For tests of a webhook receiver.
func SignWebhook(payload []byte, timestamp int64, secrets ...string) string {
	ts := strconv.FormatInt(timestamp, 10)
	h := "t=" + ts
	for _, s := range secrets {
		h += ",v1=" + webhookMAC(s, ts, payload)
	}
	return h
}

func webhookMAC(secret, ts string, payload []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(payload)
	return hex.EncodeToString(m.Sum(nil))
}
