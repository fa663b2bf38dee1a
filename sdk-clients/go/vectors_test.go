package paygate_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	paygate "github.com/paygate-cn/paygate/sdk-clients/go"
)

// The shared vectors in sdk-clients/testdata keep the three SDKs and the
// gateway in step: a change of the signing rule breaks all of them.

func TestRequestVectors(t *testing.T) {
	var f struct {
		Vectors []struct {
			Name, Secret, Method, Nonce, Body, Authorization string
			KeyID                                            string `json:"key_id"`
			PathAndQuery                                     string `json:"path_and_query"`
			Timestamp                                        int64
		}
	}
	readVectors(t, "../testdata/request_vectors.json", &f)
	for _, v := range f.Vectors {
		got := paygate.Sign(v.KeyID, v.Secret, v.Method, v.PathAndQuery, v.Timestamp, v.Nonce, []byte(v.Body))
		if got != v.Authorization {
			t.Errorf("%s:\n got %s\nwant %s", v.Name, got, v.Authorization)
		}
	}
}

func TestWebhookVectors(t *testing.T) {
	var f struct {
		Vectors []struct {
			Name             string
			Secrets          []string
			Timestamp        int64
			Body, Header     string
			VerifySecrets    []string `json:"verify_secrets"`
			Now              int64
			ToleranceSeconds int64 `json:"tolerance_seconds"`
			Error            string
		}
	}
	readVectors(t, "../testdata/webhook_vectors.json", &f)
	for _, v := range f.Vectors {
		if v.Error == "" && v.Header != "" {
			if got := paygate.SignWebhook([]byte(v.Body), v.Timestamp, v.Secrets...); got != v.Header && v.Name != "unknown scheme ignored" && v.Name != "spaces after commas" {
				t.Errorf("%s: signed %s, want %s", v.Name, got, v.Header)
			}
		}
		err := paygate.VerifyWebhook([]byte(v.Body), v.Header, time.Unix(v.Now, 0), time.Duration(v.ToleranceSeconds)*time.Second, v.VerifySecrets...)
		var we *paygate.WebhookError
		switch {
		case v.Error == "" && err != nil:
			t.Errorf("%s: %v", v.Name, err)
		case v.Error != "" && (!errors.As(err, &we) || we.Code != v.Error):
			t.Errorf("%s: got %v, want %s", v.Name, err, v.Error)
		}
	}
}

func readVectors(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// TestWebhookErrors: each way a webhook fails has its own error.
func TestWebhookErrors(t *testing.T) {
	body := []byte(`{"id":"evt_1","object":"event","type":"order.succeeded","created_at":"2026-12-01T00:00:00Z","data":{"object":{"id":"ord_1"}}}`)
	secret := "whsec_test_a"
	now := time.Now()
	good := paygate.SignWebhook(body, now.Unix(), secret)
	if e, err := paygate.ConstructEvent(body, good, "whsec_other", secret); err != nil || e.ID != "evt_1" {
		t.Fatalf("valid webhook: %+v %v", e, err)
	}
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-3] = '2'
	cases := []struct {
		name    string
		body    []byte
		header  string
		secrets []string
		want    error
	}{
		{"wrong secret", body, good, []string{"whsec_wrong"}, paygate.ErrNoValidSignature},
		{"modified body", tampered, good, []string{secret}, paygate.ErrNoValidSignature},
		{"outside the tolerance", body, paygate.SignWebhook(body, now.Add(-301*time.Second).Unix(), secret), []string{secret}, paygate.ErrStaleTimestamp},
		{"missing header", body, "", []string{secret}, paygate.ErrMissingSignature},
		{"malformed header", body, "garbage", []string{secret}, paygate.ErrMalformedHeader},
	}
	for _, tc := range cases {
		_, err := paygate.ConstructEvent(tc.body, tc.header, tc.secrets...)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
		for _, other := range []error{paygate.ErrNoValidSignature, paygate.ErrStaleTimestamp, paygate.ErrMissingSignature, paygate.ErrMalformedHeader} {
			if other != tc.want && errors.Is(err, other) {
				t.Errorf("%s: also matches %v", tc.name, other)
			}
		}
	}
}
