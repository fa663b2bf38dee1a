package paygate_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// proxy stands between an SDK and the gateway like an unstable network: it
// reads each HTTP request off a TCP connection and, following its script,
// forwards it, forwards it and then drops the connection before the answer
// gets back, or answers 429/503 itself. Requests past the script are
// forwarded.
type proxy struct {
	t        testing.TB
	ln       net.Listener
	upstream *url.URL
	rt       http.RoundTripper

	mu        sync.Mutex
	script    []step
	exchanges []exchange
}

type step int

const (
	forward step = iota
	dropAnswer
	answer429
	answer503
	answer502
)

// exchange is one request the proxy saw and what the gateway answered.
type exchange struct {
	Method, Path   string
	IdempotencyKey string
	Step           step
	Status         int    // the gateway's status (0 when not forwarded)
	Body           []byte // the gateway's answer
}

func newProxy(t testing.TB, upstream string, script ...step) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startProxy(t, ln, upstream, script...)
}

func startProxy(t testing.TB, ln net.Listener, upstream string, script ...step) *proxy {
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, upstream: u, script: script,
		rt: &http.Transport{ResponseHeaderTimeout: 60 * time.Second, MaxIdleConnsPerHost: 16}}
	go p.serve()
	t.Cleanup(func() { ln.Close() })
	return p
}

func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.exchanges)
}

func (p *proxy) Exchanges() []exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]exchange(nil), p.exchanges...)
}

func (p *proxy) serve() {
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(conn)
	}
}

func (p *proxy) next() step {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.script) == 0 {
		return forward
	}
	s := p.script[0]
	p.script = p.script[1:]
	return s
}

func (p *proxy) handle(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		req.Body.Close()
		s := p.next()
		ex := exchange{Method: req.Method, Path: req.URL.RequestURI(), IdempotencyKey: req.Header.Get("Idempotency-Key"), Step: s}
		switch s {
		case answer429:
			p.record(ex)
			io.WriteString(conn, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: 76\r\n\r\n"+
				`{"error":{"code":"rate_limited","message":"slow down","request_id":"req_x"}}`)
			continue
		case answer503, answer502:
			p.record(ex)
			status := "503 Service Unavailable"
			if s == answer502 {
				status = "502 Bad Gateway"
			}
			b := `{"error":{"code":"service_unavailable","message":"try again","request_id":"req_y"}}`
			io.WriteString(conn, "HTTP/1.1 "+status+"\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(b))+"\r\n\r\n"+b)
			continue
		}
		out := req.Clone(req.Context())
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host, out.Host = p.upstream.Scheme, p.upstream.Host, p.upstream.Host
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		resp, err := p.rt.RoundTrip(out)
		if err != nil {
			p.record(ex)
			return
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ex.Status, ex.Body = resp.StatusCode, rb
		p.record(ex)
		if s == dropAnswer {
			// The gateway has done the work; the answer never arrives.
			return
		}
		resp.Body = io.NopCloser(bytes.NewReader(rb))
		resp.ContentLength = int64(len(rb))
		resp.TransferEncoding = nil
		if err := resp.Write(conn); err != nil {
			return
		}
	}
}

func (p *proxy) record(ex exchange) {
	p.mu.Lock()
	p.exchanges = append(p.exchanges, ex)
	p.mu.Unlock()
}
