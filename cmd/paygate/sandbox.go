package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/sandbox"
	wechatsb "github.com/paygate-cn/paygate/channels/sandbox/wechat"
	"gopkg.in/yaml.v3"
)

// SandboxOptions configure the in-process channel simulators.
type SandboxOptions struct {
	// PublicURL is where the gateway is reached: the simulators are mounted
	// under PublicURL/sandbox/{kind} and call back PublicURL/callbacks/{kind}.
	PublicURL string
	Timeout   time.Duration // per channel call of the sandbox providers (default 10 s)
	HangFor   time.Duration // how long a simulated timeout hangs
	Now       paygate.Clock
}

// Sandbox is the set of channel simulators (DESIGN §9) and the providers
// that talk to them.
type Sandbox struct {
	Providers []paygate.ProviderSpec
	WeChat    *wechatsb.Server
	Notifier  *sandbox.Notifier
	handlers  map[string]http.Handler
	closers   []func()
}

// StartSandbox creates every simulator with fresh keys.
func StartSandbox(o SandboxOptions) (*Sandbox, error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Sandbox{Notifier: sandbox.NewNotifier(), handlers: map[string]http.Handler{}}
	s.closers = append(s.closers, s.Notifier.Close)

	wx, err := wechatsb.New(wechatsb.Options{
		MchID: "1900000109", AppID: "wxd678efh567hg6787",
		NotifyURL: o.PublicURL + "/callbacks/wechat", Notifier: s.Notifier, Now: o.Now, HangFor: o.HangFor,
	})
	if err != nil {
		return nil, fmt.Errorf("wechat sandbox: %w", err)
	}
	s.WeChat = wx
	s.add(paygate.KindWeChat, wx.Handler(), wx.Credentials(), o, wx.Close)
	return s, nil
}

func (s *Sandbox) add(kind string, h http.Handler, creds map[string]string, o SandboxOptions, closer func()) {
	s.handlers[kind] = h
	s.closers = append(s.closers, closer)
	s.Providers = append(s.Providers, paygate.ProviderSpec{
		ID: kind, Kind: kind, BaseURL: o.PublicURL + "/sandbox/" + kind,
		Credentials: creds, Timeout: o.Timeout,
	})
}

// Mount serves every simulator under /sandbox/{kind}/.
func (s *Sandbox) Mount(e *gin.Engine) {
	for kind, h := range s.handlers {
		prefix := "/sandbox/" + kind
		e.Any(prefix+"/*path", gin.WrapH(http.StripPrefix(prefix, h)))
	}
}

// Close stops the simulators and their pending callbacks.
func (s *Sandbox) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// runSandbox serves the simulators alone (paygate sandbox) and prints the
// provider configuration a gateway needs to use them.
func runSandbox(ctx context.Context, getenv func(string) string, out io.Writer) error {
	addr := getenv("PAYGATE_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8090"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	public := "http://" + l.Addr().String()
	gw := getenv("PAYGATE_GATEWAY_URL")
	if gw == "" {
		gw = "http://127.0.0.1:8080"
	}
	sb, err := StartSandbox(SandboxOptions{PublicURL: gw})
	if err != nil {
		return err
	}
	defer sb.Close()
	for i := range sb.Providers {
		sb.Providers[i].BaseURL = public + "/sandbox/" + sb.Providers[i].Kind
	}
	e := gin.New()
	sb.Mount(e)
	y, _ := yaml.Marshal(map[string]any{"providers": sb.Providers})
	fmt.Fprintf(out, "# channel simulators on %s; callbacks go to %s\n%s", public, gw, y)
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
