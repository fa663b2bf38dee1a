package main

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paygate-cn/paygate/internal/webhookrecv"
)

// The event API shows delivery attempts and redelivers on request.
func TestEventDeliveryAPI(t *testing.T) {
	rcv := &webhookrecv.Receiver{Secrets: []string{stormWebhookSecret}}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	schema := "events_" + randSuffix()
	t.Cleanup(func() { dropSchema(t, schema) })
	m := startMain(t, stormConfig(t, redisURL(), "test:"+randSuffix()+":", hook.URL), schema)
	defer m.Close()
	c := newClient(t, m)

	o := c.createOrder(authCodeOrder("134567890123456789", 1234), "").decode(t)
	list := c.do("GET", "/v1/events?order_id="+o["id"].(string)+"&type=order.succeeded", "/v1/events", nil, "").decode(t)
	data := list["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("events = %v", list)
	}
	id := data[0].(map[string]any)["id"].(string)
	var ev map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for {
		ev = c.do("GET", "/v1/events/"+id, "/v1/events/{id}", nil, "").decode(t)
		if ev["delivery_status"] == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("event not delivered: %v", ev)
		}
		time.Sleep(50 * time.Millisecond)
	}
	attempts := ev["attempts"].([]any)
	if len(attempts) != 1 || attempts[0].(map[string]any)["status_code"] != 204.0 {
		t.Fatalf("attempts = %v", attempts)
	}
	r := c.do("POST", "/v1/events/"+id+"/redeliver", "/v1/events/{id}/redeliver", nil, "")
	if r.Status != 200 || r.decode(t)["id"] != id {
		t.Fatalf("redeliver: %d %s", r.Status, r.Body)
	}
	deadline = time.Now().Add(10 * time.Second)
	for rcv.Seen()[id] < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("redelivery not received: %v", rcv.Seen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := c.do("POST", "/v1/events/evt_doesnotexist/redeliver", "/v1/events/{id}/redeliver", nil, ""); r.Status != 404 {
		t.Errorf("unknown event: %d %s", r.Status, r.Body)
	}
}
