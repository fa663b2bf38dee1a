// Package webhookrecv is a merchant's webhook endpoint for local use: the
// `paygate webhooks listen` command and the end-to-end tests receive
// webhooks through it (README, "Webhooks"; docs/webhooks.md).
package webhookrecv

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/paygate-cn/paygate/callbacks"
)

// Receiver is an http.Handler that verifies webhooks, deduplicates them by event id, and
// prints each: "evt_... order.succeeded ord_... succeeded". It answers 204
// to every verified delivery, duplicates included, and 400 otherwise.
type Receiver struct {
	Secrets   []string
	Tolerance time.Duration // default callbacks.DefaultTolerance
	Now       func() time.Time
	Out       io.Writer // nil: print nothing

	mu       sync.Mutex
	seen     map[string]int // deliveries per event id
	rejected int
}

// Event is what the receiver reads of a webhook: its id and type, and the
// id, kind and status of the object it is about.
type Event struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		Object struct {
			ID     string `json:"id"`
			Object string `json:"object"`
			Status string `json:"status"`
		} `json:"object"`
	} `json:"data"`
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	if err == nil {
		err = callbacks.VerifyWebhook(r.Secrets, req.Header.Get(callbacks.SignatureHeader), body, now, r.Tolerance)
	}
	var e Event
	if err == nil {
		err = json.Unmarshal(body, &e)
	}
	if err == nil && e.ID == "" {
		err = errors.New("event without an id")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.rejected++
		if r.Out != nil {
			fmt.Fprintf(r.Out, "rejected: %v\n", err)
		}
		http.Error(w, "rejected", http.StatusBadRequest)
		return
	}
	if r.seen == nil {
		r.seen = map[string]int{}
	}
	r.seen[e.ID]++
	if r.seen[e.ID] == 1 {
		if r.Out != nil {
			fmt.Fprintf(r.Out, "%s %s %s %s\n", e.ID, e.Type, e.Data.Object.ID, e.Data.Object.Status)
		}
	} else if r.Out != nil {
		fmt.Fprintf(r.Out, "%s duplicate delivery #%d (ignored)\n", e.ID, r.seen[e.ID])
	}
	w.WriteHeader(http.StatusNoContent)
}

// Seen returns how many times each event id arrived.
func (r *Receiver) Seen() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.seen))
	for k, v := range r.seen {
		out[k] = v
	}
	return out
}
