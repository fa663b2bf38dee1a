package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to write from the server and read here.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWebhooksListenServesAndStops: `paygate webhooks listen` answers on its
// address, refuses an unsigned delivery, and returns once its context ends.
func TestWebhooksListenServesAndStops(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"webhooks", "listen", "--addr", addr, "--secret", "whsec_test"},
			func(string) string { return "" }, out, io.Discard)
	}()
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err = http.Post("http://"+addr+"/", "application/json", strings.NewReader(`{}`))
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Errorf("an unsigned delivery answered %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("webhooks listen returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("webhooks listen did not stop with its context")
	}
	if !strings.Contains(out.String(), "listening for webhooks on http://"+addr) {
		t.Errorf("output: %q", out.String())
	}
}
