package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/sandbox"
	acquirersb "github.com/paygate-cn/paygate/channels/sandbox/acquirer"
	alipaysb "github.com/paygate-cn/paygate/channels/sandbox/alipay"
	ecnysb "github.com/paygate-cn/paygate/channels/sandbox/ecny"
	unionpaysb "github.com/paygate-cn/paygate/channels/sandbox/unionpay"
	wechatsb "github.com/paygate-cn/paygate/channels/sandbox/wechat"
	"github.com/paygate-cn/paygate/config"
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
	Alipay    *alipaysb.Server
	UnionPay  *unionpaysb.Server
	ECNY      *ecnysb.Server
	Acquirer  *acquirersb.Host // ISO 8583 over TCP, on its own loopback port
	Notifier  *sandbox.Notifier
	handlers  map[string]http.Handler
	closers   []func()
}

// StartSandbox creates every simulator with fresh keys.
func StartSandbox(o SandboxOptions) (_ *Sandbox, err error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Sandbox{Notifier: sandbox.NewNotifier(), handlers: map[string]http.Handler{}}
	s.closers = append(s.closers, s.Notifier.Close)
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	callback := func(kind string) string { return o.PublicURL + "/callbacks/" + kind }

	if s.WeChat, err = wechatsb.New(wechatsb.Options{MchID: "1900000109", AppID: "wxd678efh567hg6787",
		NotifyURL: callback(paygate.KindWeChat), Notifier: s.Notifier, Now: o.Now, HangFor: o.HangFor}); err != nil {
		return nil, fmt.Errorf("wechat sandbox: %w", err)
	}
	s.add(paygate.KindWeChat, s.WeChat.Handler(), s.WeChat.Credentials(), "", o, s.WeChat.Close)

	if s.Alipay, err = alipaysb.New(alipaysb.Options{AppID: "2021000000000001",
		NotifyURL: callback(paygate.KindAlipay), Notifier: s.Notifier, Now: o.Now, HangFor: o.HangFor}); err != nil {
		return nil, fmt.Errorf("alipay sandbox: %w", err)
	}
	s.add(paygate.KindAlipay, s.Alipay.Handler(), s.Alipay.Credentials(), "/gateway.do", o, s.Alipay.Close)

	if s.UnionPay, err = unionpaysb.New(unionpaysb.Options{MerID: "777290058110048",
		NotifyURL: callback(paygate.KindUnionPay), Notifier: s.Notifier, Now: o.Now, HangFor: o.HangFor}); err != nil {
		return nil, fmt.Errorf("unionpay sandbox: %w", err)
	}
	s.add(paygate.KindUnionPay, s.UnionPay.Handler(), s.UnionPay.Credentials(), "", o, s.UnionPay.Close)

	if s.ECNY, err = ecnysb.New(ecnysb.Options{MerchantNo: "ECNY310000005812",
		NotifyURL: callback(paygate.KindECNY), Notifier: s.Notifier, Now: o.Now, HangFor: o.HangFor}); err != nil {
		return nil, fmt.Errorf("ecny sandbox: %w", err)
	}
	s.add(paygate.KindECNY, s.ECNY.Handler(), s.ECNY.Credentials(), "", o, s.ECNY.Close)

	// The acquirer host speaks ISO 8583 over TCP, so it listens on a
	// loopback port of its own rather than under /sandbox.
	key := make([]byte, 16)
	if _, err = rand.Read(key); err != nil {
		return nil, err
	}
	acq, err := acquirersb.New(acquirersb.Options{MACKey: key, Now: o.Now})
	if err != nil {
		return nil, fmt.Errorf("acquirer sandbox: %w", err)
	}
	if _, err = acq.Listen("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("acquirer sandbox: %w", err)
	}
	s.Acquirer = acq
	s.closers = append(s.closers, func() { acq.Close() })
	s.Providers = append(s.Providers, paygate.ProviderSpec{
		ID: paygate.KindAcquirer, Kind: paygate.KindAcquirer, Credentials: acq.Credentials(),
		Timeout: o.Timeout, Networks: []string{paygate.NetworkUnionPay, "visa", "mastercard"},
	})
	return s, nil
}

// add mounts a simulator served over HTTP and records its provider; path
// is what the client appends to the mount point (Alipay's /gateway.do).
func (s *Sandbox) add(kind string, h http.Handler, creds map[string]string, path string, o SandboxOptions, closer func()) {
	s.handlers[kind] = h
	s.closers = append(s.closers, closer)
	s.Providers = append(s.Providers, paygate.ProviderSpec{
		ID: kind, Kind: kind, BaseURL: o.PublicURL + "/sandbox/" + kind + path,
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
	for i, p := range sb.Providers {
		if p.BaseURL != "" {
			sb.Providers[i].BaseURL = strings.Replace(p.BaseURL, gw, public, 1)
		}
	}
	e := gin.New()
	sb.Mount(e)
	y, _ := yaml.Marshal(map[string]any{"providers": sb.Providers})
	fmt.Fprintf(out, "# channel simulators on %s; callbacks go to %s\n%s", public, gw, y)
	srv := newHTTPServer(config.Server{
		ReadHeaderTimeout: config.DefaultReadHeaderTimeout, ReadTimeout: config.DefaultReadTimeout,
		WriteTimeout: config.DefaultWriteTimeout, IdleTimeout: config.DefaultIdleTimeout,
	}, e)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
