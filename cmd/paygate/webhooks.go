package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paygate-cn/paygate/callbacks"
	"github.com/paygate-cn/paygate/config"
)

// webhooks runs `paygate webhooks listen`: a local receiver that verifies
// each webhook's Paygate-Signature and prints the event.
func webhooks(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "listen" {
		return fmt.Errorf("usage: paygate webhooks listen [--addr 127.0.0.1:9000] [--secret SECRET ...]")
	}
	fs := flag.NewFlagSet("webhooks listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on")
	var secrets stringList
	fs.Var(&secrets, "secret", "webhook secret to verify with (repeat during a rotation); "+
		"default $PAYGATE_WEBHOOK_SECRET, else $"+config.EnvSandboxWebhookSecret)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if len(secrets) == 0 {
		for _, env := range []string{"PAYGATE_WEBHOOK_SECRET", config.EnvSandboxWebhookSecret} {
			if v := getenv(env); v != "" {
				secrets = append(secrets, v)
				break
			}
		}
	}
	if len(secrets) == 0 {
		return errors.New("webhooks listen: give --secret (or set PAYGATE_WEBHOOK_SECRET)")
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	rcv := &webhookReceiver{Secrets: secrets, Out: stdout}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "listening for webhooks on http://%s/ (point the merchant's webhook_url, or PAYGATE_SANDBOX_WEBHOOK_URL, here)\n", l.Addr())
	// Closing on ctx runs beside Serve and is waited for before returning.
	var closer sync.WaitGroup
	served := make(chan struct{})
	closer.Go(func() {
		select {
		case <-ctx.Done():
			srv.Close()
		case <-served:
		}
	})
	defer closer.Wait()
	defer close(served)
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// webhookReceiver verifies webhooks, deduplicates them by event id, and
// prints each: "evt_... order.succeeded ord_... succeeded". It answers 204
// to every verified delivery, duplicates included, and 400 otherwise.
type webhookReceiver struct {
	Secrets   []string
	Tolerance time.Duration // default callbacks.DefaultTolerance
	Now       func() time.Time
	Out       io.Writer // nil: print nothing

	mu       sync.Mutex
	seen     map[string]int // deliveries per event id
	rejected int
}

type receivedEvent struct {
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

func (r *webhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	if err == nil {
		err = callbacks.VerifyWebhook(r.Secrets, req.Header.Get(callbacks.SignatureHeader), body, now, r.Tolerance)
	}
	var e receivedEvent
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
func (r *webhookReceiver) Seen() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.seen))
	for k, v := range r.seen {
		out[k] = v
	}
	return out
}
