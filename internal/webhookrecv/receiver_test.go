package webhookrecv_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paygate-cn/paygate/callbacks"
	"github.com/paygate-cn/paygate/internal/webhookrecv"
)

func TestReceiver(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var out bytes.Buffer
	rcv := &webhookrecv.Receiver{Secrets: []string{"whsec_new", "whsec_old"}, Now: func() time.Time { return now }, Out: &out}
	send := func(body, header string) int {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set(callbacks.SignatureHeader, header)
		w := httptest.NewRecorder()
		rcv.ServeHTTP(w, req)
		return w.Code
	}
	event := `{"id":"evt_1","type":"order.succeeded","data":{"object":{"id":"ord_1","object":"order","status":"succeeded"}}}`
	// Signed with the secret being rotated out: still verified.
	signed := callbacks.SignWebhook([]string{"whsec_old"}, []byte(event), now)
	for _, tc := range []struct {
		name, body, header string
		want               int
	}{
		{"first delivery", event, signed, http.StatusNoContent},
		{"duplicate", event, signed, http.StatusNoContent},
		{"wrong secret", event, callbacks.SignWebhook([]string{"whsec_other"}, []byte(event), now), http.StatusBadRequest},
		{"stale", event, callbacks.SignWebhook([]string{"whsec_new"}, []byte(event), now.Add(-time.Hour)), http.StatusBadRequest},
		{"body changed", strings.Replace(event, "succeeded", "failed", 1), signed, http.StatusBadRequest},
		{"no id", `{"type":"order.succeeded"}`, callbacks.SignWebhook([]string{"whsec_new"}, []byte(`{"type":"order.succeeded"}`), now), http.StatusBadRequest},
	} {
		if got := send(tc.body, tc.header); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if seen := rcv.Seen(); len(seen) != 1 || seen["evt_1"] != 2 {
		t.Errorf("seen %v, want evt_1 twice", seen)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 6 || lines[0] != "evt_1 order.succeeded ord_1 succeeded" ||
		lines[1] != "evt_1 duplicate delivery #2 (ignored)" || !strings.HasPrefix(lines[2], "rejected: ") {
		t.Errorf("printed:\n%s", out.String())
	}
}
