package wechat

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
)

// genuine returns a real callback from the simulator.
func genuine(t testing.TB, e *env) delivery {
	t.Helper()
	if _, err := e.client.Pay(context.Background(), authCodeReq("134567890123456789")); err != nil {
		t.Fatal(err)
	}
	return e.next(t)
}

func TestParseCallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second, time.Second)
	ctx := context.Background()
	d := genuine(t, e)
	if n, err := e.client.ParseCallback(ctx, d.header, d.body); err != nil || n.ID == "" || n.Result.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("genuine callback = %+v, %v", n, err)
	}

	cred := e.sim.Credentials()
	_, otherPub := otherKeyPEM(t)
	wrongKey := maps.Clone(cred)
	wrongKey["platform_public_key"] = otherPub
	wrongAPIKey := maps.Clone(cred)
	wrongAPIKey["api_v3_key"] = "0123456789abcdef0123456789abcdef"

	tampered := bytes.Clone(d.body)
	tampered[len(tampered)/2] ^= 1
	noSig := d.header.Clone()
	noSig.Del("Wechatpay-Signature")

	tests := []struct {
		name   string
		client *Client
		header http.Header
		body   []byte
		skew   time.Duration
		want   string
	}{
		{"one byte tampered", e.client, d.header, tampered, 0, paygate.EINVALIDSIG},
		{"wrong platform key", e.newClient(t, wrongKey, time.Second), d.header, d.body, 0, paygate.EINVALIDSIG},
		{"signature missing", e.client, noSig, d.body, 0, paygate.EINVALIDSIG},
		{"stale timestamp", e.client, d.header, d.body, 6 * time.Minute, paygate.ESTALETIMESTAMP},
		{"future timestamp", e.client, d.header, d.body, -6 * time.Minute, paygate.ESTALETIMESTAMP},
		{"undecryptable resource", e.newClient(t, wrongAPIKey, time.Second), d.header, d.body, 0, paygate.EINVALID},
		{"oversized", e.client, d.header, make([]byte, MaxCallbackBytes+1), 0, paygate.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Add(tt.skew)
			defer e.clock.Add(-tt.skew)
			n, err := tt.client.ParseCallback(ctx, tt.header, tt.body)
			if paygate.ErrorCode(err) != tt.want {
				t.Fatalf("ParseCallback = %+v, %v; want %s", n, err, tt.want)
			}
			status, ctype, body := tt.client.CallbackReply(err)
			var reply struct{ Code, Message string }
			if status < 400 || ctype != "application/json" || json.Unmarshal(body, &reply) != nil || reply.Code != "FAIL" {
				t.Fatalf("CallbackReply = %d %s %s", status, ctype, body)
			}
		})
	}
	if status, _, body := e.client.CallbackReply(nil); status != http.StatusNoContent || body != nil {
		t.Fatalf("CallbackReply(nil) = %d %s", status, body)
	}
}

// fuzzAPIv3Key is the APIv3 key testdata/callback.json was encrypted with.
const fuzzAPIv3Key = "0123456789abcdef0123456789abcdef"

// FuzzParseCallback feeds arbitrary bodies to the parser: unsigned they
// must be refused, and the post-verification parsing (JSON, decryption,
// classification) must never panic or accept something incomplete. The seed
// corpus holds a real notification (testdata/callback.json).
func FuzzParseCallback(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join("testdata", "callback.json"))
	if err != nil {
		f.Fatal(err)
	}
	var seed struct {
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(raw, &seed); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(seed.Body), int64(0))
	f.Add([]byte(`{"id":"x","event_type":"REFUND.SUCCESS","resource":{"algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","ciphertext":"AAAA"}}`), int64(400))
	// A fixed key: generating one under coverage instrumentation is slow.
	keyPEM, err := os.ReadFile(filepath.Join("testdata", "fuzz_platform_key.pem"))
	if err != nil {
		f.Fatal(err)
	}
	key, err := parsePrivateKey(string(keyPEM))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	c := &Client{id: "wechat", mchid: "1900000109", platforID: "PUB_KEY_ID_fuzz", platform: &key.PublicKey,
		apiV3Key: []byte(fuzzAPIv3Key), now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, body []byte, skew int64) {
		h := http.Header{}
		h.Set("Wechatpay-Timestamp", strconv.FormatInt(now.Unix()+skew%600, 10))
		h.Set("Wechatpay-Nonce", "fuzznonce")
		h.Set("Wechatpay-Serial", "PUB_KEY_ID_fuzz")
		h.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(body))
		if n, err := c.ParseCallback(context.Background(), h, body); err == nil {
			t.Fatalf("unsigned callback accepted: %+v", n)
		} else if code := paygate.ErrorCode(err); code != paygate.EINVALIDSIG && code != paygate.ESTALETIMESTAMP && code != paygate.EINVALID {
			t.Fatalf("error code %s", code)
		}
		n, err := c.parseVerified(body)
		if err != nil {
			if code := paygate.ErrorCode(err); code != paygate.EINVALID {
				t.Fatalf("error code %s", code)
			}
			return
		}
		if n.ID == "" || (n.Result == nil) == (n.Refund == nil) {
			t.Fatalf("accepted notification incomplete: %+v", n)
		}
	})
}
