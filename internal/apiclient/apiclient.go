// Package apiclient sends requests to the paygate API signed with an API
// key, as README's "Signing" describes: the `paygate api` and
// `paygate bench` commands and the end-to-end tests use it. The signature
// itself is gateway.AuthorizationHeader's, the one the API verifies.
package apiclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/paygate-cn/paygate/gateway"
)

// Do sends method path (with its query) to the API at base, signed with
// keyID and secret, with body as JSON when there is one and idem as its
// Idempotency-Key when not empty. The caller closes the answer's body.
func Do(ctx context.Context, hc *http.Client, base, keyID, secret, method, path string, body []byte, idem string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	req.Header.Set("Authorization", gateway.AuthorizationHeader(keyID, secret, method, req.URL.RequestURI(), time.Now(), hex.EncodeToString(nonce), body))
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	return hc.Do(req)
}
