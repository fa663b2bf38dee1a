package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
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
)

// SandboxOptions configure the in-process channel simulators.
type SandboxOptions struct {
	// PublicURL is where the gateway is reached: the simulators are mounted
	// under PublicURL/sandbox/{kind} and call back PublicURL/callbacks/{kind}.
	PublicURL string
	// DataDir keeps the simulators' credentials (DataDir/sandbox) so that
	// they survive restarts; empty: fresh ones at every start.
	DataDir string
	// SimulatorURL is where the simulators are reached (mounted under
	// SimulatorURL/sandbox/{kind}); default PublicURL.
	SimulatorURL string
	Timeout      time.Duration // per channel call of the sandbox providers (default 10 s)
	HangFor      time.Duration // how long a simulated timeout hangs
	Now          paygate.Clock
}

// Sandbox is the set of channel simulators (docs/sandbox.md) and the providers
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
	simURL    string
}

// StartSandbox creates every simulator, with the credentials kept in
// DataDir (created on first start).
func StartSandbox(o SandboxOptions) (_ *Sandbox, err error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Sandbox{Notifier: sandbox.NewNotifier(), handlers: map[string]http.Handler{}}
	if o.SimulatorURL == "" {
		o.SimulatorURL = o.PublicURL
	}
	s.simURL = o.SimulatorURL
	s.closers = append(s.closers, s.Notifier.Close)
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	callback := func(kind string) string { return o.PublicURL + "/callbacks/" + kind }
	keyDir := ""
	if o.DataDir != "" {
		keyDir = filepath.Join(o.DataDir, "sandbox")
	}
	if o.SimulatorURL == "" {
		o.SimulatorURL = o.PublicURL
	}
	base := func(kind string) string { return o.SimulatorURL + "/sandbox/" + kind }
	origins := []string{o.PublicURL, o.SimulatorURL}

	if s.WeChat, err = wechatsb.New(wechatsb.Options{MchID: "1900000109", AppID: "wxd678efh567hg6787",
		NotifyURL: callback(paygate.KindWeChat), Notifier: s.Notifier, Now: o.Now, HangFor: o.HangFor,
		KeyDir: keyDir, BaseURL: base(paygate.KindWeChat), ReturnOrigins: origins}); err != nil {
		return nil, fmt.Errorf("wechat sandbox: %w", err)
	}
	s.add(paygate.KindWeChat, s.WeChat.Handler(), s.WeChat.Credentials(), "", o, s.WeChat.Close)

	if s.Alipay, err = alipaysb.New(alipaysb.Options{AppID: "2021000000000001",
		NotifyURL: callback(paygate.KindAlipay), Notifier: s.Notifier, Now: o.Now, HangFor: o.HangFor,
		KeyDir: keyDir, ReturnOrigins: origins}); err != nil {
		return nil, fmt.Errorf("alipay sandbox: %w", err)
	}
	s.add(paygate.KindAlipay, s.Alipay.Handler(), s.Alipay.Credentials(), "/gateway.do", o, s.Alipay.Close)

	if s.UnionPay, err = unionpaysb.New(unionpaysb.Options{MerID: "777290058110048",
		NotifyURL: callback(paygate.KindUnionPay), Notifier: s.Notifier, Now: o.Now, HangFor: o.HangFor,
		KeyDir: keyDir, BaseURL: base(paygate.KindUnionPay), ReturnOrigins: origins}); err != nil {
		return nil, fmt.Errorf("unionpay sandbox: %w", err)
	}
	s.add(paygate.KindUnionPay, s.UnionPay.Handler(), s.UnionPay.Credentials(), "", o, s.UnionPay.Close)

	if s.ECNY, err = ecnysb.New(ecnysb.Options{MerchantNo: "ECNY310000005812",
		NotifyURL: callback(paygate.KindECNY), Notifier: s.Notifier, Now: o.Now, HangFor: o.HangFor,
		KeyDir: keyDir, ReturnOrigins: origins}); err != nil {
		return nil, fmt.Errorf("ecny sandbox: %w", err)
	}
	s.add(paygate.KindECNY, s.ECNY.Handler(), s.ECNY.Credentials(), "", o, s.ECNY.Close)

	// The acquirer host speaks ISO 8583 over TCP, so it listens on a
	// loopback port of its own rather than under /sandbox.
	acq, err := acquirersb.New(acquirersb.Options{KeyDir: keyDir, Now: o.Now})
	if err != nil {
		return nil, fmt.Errorf("acquirer sandbox: %w", err)
	}
	if _, err = acq.Listen("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("acquirer sandbox: %w", err)
	}
	s.Acquirer = acq
	s.closers = append(s.closers, func() { acq.Close() })
	// Its settlement file and bill adjustments are served over HTTP
	// under /sandbox/acquirer, as an acquirer's file server would.
	s.handlers[paygate.KindAcquirer] = acq.Handler()
	creds := acq.Credentials()
	creds["settlement_url"] = base(paygate.KindAcquirer) + "/settlement"
	s.Providers = append(s.Providers, paygate.ProviderSpec{
		ID: paygate.KindAcquirer, Kind: paygate.KindAcquirer, Credentials: creds,
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
		ID: kind, Kind: kind, BaseURL: o.SimulatorURL + "/sandbox/" + kind + path,
		Credentials: creds, Timeout: o.Timeout,
	})
}

// Mount serves every simulator under /sandbox/{kind}/ and their
// credentials at GET /sandbox/credentials.
func (s *Sandbox) Mount(e *gin.Engine) {
	for kind, h := range s.handlers {
		prefix := "/sandbox/" + kind
		e.Any(prefix+"/*path", gin.WrapH(http.StripPrefix(prefix, h)))
	}
	e.GET("/sandbox/credentials", func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, s.Credentials())
	})
}

// Credentials is what GET /sandbox/credentials serves (docs/sandbox.md):
// for each channel, the provider credentials a client of that channel
// needs (the merchant's private key included), its base URL and, for the
// wallets, the confirm page and the platform's public key or certificate.
func (s *Sandbox) Credentials() map[string]any {
	chans := map[string]any{}
	for _, p := range s.Providers {
		c := map[string]string{}
		for k, v := range p.Credentials {
			c[k] = v
		}
		if p.BaseURL != "" {
			c["base_url"] = p.BaseURL
			c["confirm_url"] = s.simURL + "/sandbox/" + p.Kind + "/confirm"
		}
		switch p.Kind {
		case paygate.KindWeChat:
			c["platform_certificate"], c["platform_serial_no"] = s.WeChat.PlatformCertificate()
			c["base_url"] = s.simURL + "/sandbox/" + p.Kind
		case paygate.KindAlipay:
			c["gateway_url"] = p.BaseURL
			c["seller_id"] = s.Alipay.SellerID()
		case paygate.KindECNY:
			c["merchant_public_key"] = s.ECNY.MerchantPublicKey()
		}
		chans[p.Kind] = c
	}
	return map[string]any{"object": "sandbox_credentials", "channels": chans}
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
	dataDir := getenv("PAYGATE_DATA_DIR")
	if dataDir == "" {
		dataDir = "./data"
	}
	sb, err := StartSandbox(SandboxOptions{PublicURL: gw, SimulatorURL: public, DataDir: dataDir})
	if err != nil {
		return err
	}
	defer sb.Close()
	e := gin.New()
	sb.Mount(e)
	y, _ := config.ProvidersYAML(sb.Providers)
	fmt.Fprintf(out, "# channel simulators on %s; callbacks go to %s\n"+
		"# credentials (kept in %s): GET %s/sandbox/credentials\n%s",
		public, gw, filepath.Join(dataDir, "sandbox"), public, y)
	srv := newHTTPServer(config.Server{
		ReadHeaderTimeout: config.DefaultReadHeaderTimeout, ReadTimeout: config.DefaultReadTimeout,
		WriteTimeout: config.DefaultWriteTimeout, IdleTimeout: config.DefaultIdleTimeout,
	}, e)
	return serveUntil(ctx, srv, l)
}

// PrintSummary prints each simulator's base URL and ids, and where the
// full credentials (keys included) are served.
func (s *Sandbox) PrintSummary(out io.Writer, gatewayURL string) {
	fmt.Fprintf(out, "  channel simulators (credentials kept in the data dir; keys and certificates: GET %s/sandbox/credentials)\n", gatewayURL)
	ids := map[string][]string{
		paygate.KindWeChat: {"mchid", "appid", "serial_no", "platform_public_key_id"}, paygate.KindAlipay: {"app_id"},
		paygate.KindUnionPay: {"mer_id", "cert_id"}, paygate.KindECNY: {"merchant_no"}, paygate.KindAcquirer: {"address", "acquirer_id"},
	}
	for _, p := range s.Providers {
		fmt.Fprintf(out, "    %-8s", p.Kind)
		if p.BaseURL != "" {
			fmt.Fprintf(out, " %s", p.BaseURL)
		}
		for _, k := range ids[p.Kind] {
			fmt.Fprintf(out, " %s=%s", k, p.Credentials[k])
		}
		fmt.Fprintln(out)
	}
}
