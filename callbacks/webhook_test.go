package callbacks_test

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks"
	"github.com/paygate-cn/paygate/internal/testvectors"
)

var update = flag.Bool("update", false, "rewrite the shared test vectors")

const vectorsFile = "../sdk-clients/testdata/webhook_vectors.json"

// webhookVector is one case of the shared vectors the SDKs check against:
// sign cases give the expected header; verify cases give a header and the
// expected result ("" = valid, else the error code).
type webhookVector struct {
	Name      string   `json:"name"`
	Secrets   []string `json:"secrets"`
	Timestamp int64    `json:"timestamp"`
	Body      string   `json:"body"`
	Header    string   `json:"header"`
	// Verify: the receiver's secrets, clock and tolerance, and the result.
	VerifySecrets    []string `json:"verify_secrets"`
	Now              int64    `json:"now"`
	ToleranceSeconds int64    `json:"tolerance_seconds"`
	Error            string   `json:"error"`
}

func vectors() []webhookVector {
	body := `{"id":"evt_01HZY5V7Q6M0000000000000","object":"event","type":"order.succeeded","created_at":"2026-03-01T09:00:00Z","data":{"object":{"id":"ord_01HZY5V7Q6M0000000000000","object":"order","status":"succeeded","amount":2500}}}`
	const t0 = 1772355600
	cur, old := "whsec_current_0123456789abcdef", "whsec_previous_fedcba987654321"
	sign := func(secrets []string, b string, ts int64) string {
		return callbacks.SignWebhook(secrets, []byte(b), time.Unix(ts, 0))
	}
	v := []webhookVector{
		{Name: "one secret", Secrets: []string{cur}, VerifySecrets: []string{cur}, Now: t0 + 10},
		{Name: "rotation: receiver still on the previous secret", Secrets: []string{cur, old}, VerifySecrets: []string{old}, Now: t0},
		{Name: "rotation: receiver already on the current secret", Secrets: []string{cur, old}, VerifySecrets: []string{cur}, Now: t0},
		{Name: "receiver holds both secrets", Secrets: []string{cur}, VerifySecrets: []string{old, cur}, Now: t0},
		{Name: "wrong secret", Secrets: []string{cur}, VerifySecrets: []string{old}, Now: t0, Error: paygate.EINVALIDSIG},
		{Name: "stale", Secrets: []string{cur}, VerifySecrets: []string{cur}, Now: t0 + 301, Error: paygate.ESTALETIMESTAMP},
		{Name: "from the future", Secrets: []string{cur}, VerifySecrets: []string{cur}, Now: t0 - 301, Error: paygate.ESTALETIMESTAMP},
		{Name: "custom tolerance", Secrets: []string{cur}, VerifySecrets: []string{cur}, Now: t0 + 600, ToleranceSeconds: 900},
		{Name: "empty body", Secrets: []string{cur}, VerifySecrets: []string{cur}, Now: t0},
	}
	for i := range v {
		v[i].Timestamp = t0
		if v[i].Name != "empty body" {
			v[i].Body = body
		}
		v[i].Header = sign(v[i].Secrets, v[i].Body, t0)
	}
	good := sign([]string{cur}, body, t0)
	tampered := []webhookVector{
		{Name: "tampered body", Header: good, Body: body[:len(body)-2] + "0}}", Error: paygate.EINVALIDSIG},
		{Name: "missing v1", Header: "t=1772355600", Body: body, Error: paygate.EINVALIDSIG},
		{Name: "missing t", Header: good[len("t=1772355600,"):], Body: body, Error: paygate.EINVALIDSIG},
		{Name: "garbage header", Header: "not a signature", Body: body, Error: paygate.EINVALIDSIG},
		{Name: "empty header", Header: "", Body: body, Error: paygate.EINVALIDSIG},
		{Name: "unknown scheme ignored", Header: good + ",v0=deadbeef", Body: body},
		{Name: "spaces after commas", Header: "t=1772355600, v1=" + good[len("t=1772355600,v1="):], Body: body},
	}
	for i := range tampered {
		tampered[i].Secrets, tampered[i].VerifySecrets = []string{cur}, []string{cur}
		tampered[i].Timestamp, tampered[i].Now = t0, t0
	}
	return append(v, tampered...)
}

func TestWebhookVectors(t *testing.T) {
	want := vectors()
	vectors := testvectors.Sync(t, vectorsFile,
		"Paygate-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + \".\" + body)>, one v1 per secret; "+
			"sign cases: header is SignWebhook(secrets, body, timestamp); verify cases: VerifyWebhook(verify_secrets, header, body, now, tolerance_seconds or 300) "+
			"succeeds when error is empty, else fails with that code",
		want, *update, "go test ./callbacks -run Vectors -update")
	for i, v := range vectors {
		if v.Header != want[i].Header {
			t.Errorf("%s: header %q, want %q", v.Name, v.Header, want[i].Header)
		}
		err := callbacks.VerifyWebhook(v.VerifySecrets, v.Header, []byte(v.Body), time.Unix(v.Now, 0),
			time.Duration(v.ToleranceSeconds)*time.Second)
		if got := paygate.ErrorCode(err); (err == nil) != (v.Error == "") || (err != nil && got != v.Error) {
			t.Errorf("%s: VerifyWebhook = %v, want %q", v.Name, err, v.Error)
		}
	}
}

func FuzzVerifyWebhook(f *testing.F) {
	f.Add("t=1772355600,v1=00", []byte("{}"))
	f.Add("t=,v1=", []byte(""))
	f.Add(",,,=", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		now := time.Unix(1772355600, 0)
		if err := callbacks.VerifyWebhook([]string{"secret"}, header, body, now, 0); err == nil {
			want := callbacks.SignWebhook([]string{"secret"}, body, now)
			if !strings.Contains(header, want[strings.Index(want, "v1="):]) {
				t.Fatalf("accepted a header without the right signature: %q", header)
			}
		}
	})
}
