package callbacks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
)

// SignatureHeader carries an outbound webhook's signature (docs/webhooks.md).
const SignatureHeader = "Paygate-Signature"

// DefaultTolerance is how far a webhook's t may be from the receiver's
// clock before VerifyWebhook calls it stale.
const DefaultTolerance = 5 * time.Minute

// webhookMAC is hex(HMAC-SHA256(secret, t + "." + body)).
func webhookMAC(secret, t string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(t))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// SignWebhook returns the Paygate-Signature header for body sent at t:
// "t=<unix>,v1=<hex>" with one v1 per secret, in the order given. During a
// rotation the merchant holds two secrets and the receiver accepts either,
// so it can switch its secret at any moment.
func SignWebhook(secrets []string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, s := range secrets {
		b.WriteString(",v1=")
		b.WriteString(webhookMAC(s, ts, body))
	}
	return b.String()
}

// VerifyWebhook checks a Paygate-Signature header against body: some v1
// must be the HMAC under one of secrets, and t must be within tolerance of
// now (0 means DefaultTolerance). Unknown keys in the header are ignored,
// so that new schemes can be added beside v1.
//
// Returns EINVALIDSIG for a missing, malformed or wrong signature and
// ESTALETIMESTAMP for a timestamp outside the tolerance.
func VerifyWebhook(secrets []string, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return paygate.Errorf(paygate.EINVALIDSIG, "malformed %s header", SignatureHeader)
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
		return paygate.Errorf(paygate.EINVALIDSIG, "%s header lacks t or v1", SignatureHeader)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return paygate.Errorf(paygate.ESTALETIMESTAMP, "webhook timestamp is %s away from now", d.Round(time.Second))
	}
	for _, secret := range secrets {
		want := []byte(webhookMAC(secret, ts, body))
		for _, s := range sigs {
			if hmac.Equal(want, []byte(s)) {
				return nil
			}
		}
	}
	return paygate.Errorf(paygate.EINVALIDSIG, "no v1 signature matches")
}
