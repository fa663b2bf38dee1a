// Package alipay simulates the Alipay OpenAPI gateway (gateway.do) for the
// sandbox: RSA2-verified requests, RSA2-signed responses, form-encoded signed
// notifications acknowledged by the body "success", and the daily trade
// bill as a GBK csv.zip. Payment codes pick the sandbox scenarios (README) by their
// last four digits (sandbox.ScenarioOf).
//
// Routes, relative to wherever the handler is mounted:
//
//	POST gateway.do          the OpenAPI (alipay.trade.* and the bill URL query);
//	GET  gateway.do          system parameters in the query string or the body
//	                         alipay.trade.page.pay / wap.pay (GET or POST):
//	                         the cashier a browser opens, with a confirm button
//	GET  confirm             the wallet confirm page of a trade_no (docs/sandbox.md)
//	GET  bill/download       the bill behind bill_download_url
//	POST scan                a buyer scans a QR: {"qr_code": "...", "payer_code": "optional"}
//	                         or confirms a created trade: {"trade_no": "..."}
//
// The simulator keeps everything in memory and signs with keys it generates
// at start; Credentials gives a client exactly what it needs.
package alipay

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

// Options configures a simulator.
type Options struct {
	AppID string // the app_id requests must carry (default "2021000000000001")
	// NotifyURL receives notifications for requests that carry no notify_url.
	NotifyURL string
	// Notifier delivers notifications; nil makes one with the default
	// schedule, closed with the server.
	Notifier *sandbox.Notifier
	Now      paygate.Clock
	// HangFor is how long the first call of a 4444 payment hangs before
	// answering; 0 hangs until the client goes away or the server closes.
	HangFor time.Duration
	// KeyDir keeps the keys across restarts (sandbox.Persisted); empty:
	// fresh ones at every start.
	KeyDir string
	// ReturnOrigins may be redirected to from the confirm page, besides
	// loopback addresses and a return_url the merchant signed.
	ReturnOrigins []string
}

// Server is an Alipay OpenAPI simulator.
type Server struct {
	opts        Options
	platform    *rsa.PrivateKey // Alipay's key: signs responses and notifications
	app         *rsa.PrivateKey // the merchant app's key, handed out by Credentials
	notifier    *sandbox.Notifier
	ownNotifier bool
	sellerID    string
	adjust      sandbox.BillAdjustments
	closed      chan struct{}
	closeOnce   sync.Once

	mu        sync.Mutex
	trades    map[string]*trade // by out_trade_no
	byTradeNo map[string]*trade
	qrs       map[string]*qrOrder // by qr_code
	cancelled map[string]bool     // out_trade_no cancelled or closed before any trade existed
	seq       int
	timers    sandbox.Timers
}

type trade struct {
	TradeNo, OutTradeNo, Subject string
	Amount                       int64
	Status                       string
	BuyerID, BuyerLogonID        string
	Created, Paid                time.Time
	ConfirmAt                    time.Time // for a buyer who confirms later
	ReturnURL                    string    // page/wap pay's signed return_url
	NotifyURL                    string
	Copies                       int
	Refunded                     int64
	Refunds                      []*refund
	// Cancelled is set by alipay.trade.cancel, with what it did ("close"
	// or "refund"): a repeated cancel answers the same.
	Cancelled    bool
	CancelAction string
}

type refund struct {
	OutRequestNo string
	Amount       int64
	At           time.Time
}

type qrOrder struct {
	OutTradeNo, Subject, NotifyURL string
	Amount                         int64
	Closed                         bool
}

// Trade statuses.
const (
	waitBuyerPay = "WAIT_BUYER_PAY"
	tradeSuccess = "TRADE_SUCCESS"
	tradeClosed  = "TRADE_CLOSED"
)

// New starts a simulator with fresh RSA-2048 keys for Alipay and the app.
func New(opts Options) (*Server, error) {
	if opts.AppID == "" {
		opts.AppID = "2021000000000001"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var k keyFile
	err := sandbox.Persisted(opts.KeyDir, "alipay", &k, func() error {
		var err error
		if k.Platform, err = sandbox.NewRSAKey(); err != nil {
			return err
		}
		k.App, err = sandbox.NewRSAKey()
		k.SellerID = "2088" + randomDigits(12)
		return err
	})
	if err != nil {
		return nil, err
	}
	platform, err := sandbox.ParseRSAKey(k.Platform)
	if err != nil {
		return nil, fmt.Errorf("alipay sandbox: platform key: %w", err)
	}
	app, err := sandbox.ParseRSAKey(k.App)
	if err != nil {
		return nil, fmt.Errorf("alipay sandbox: app key: %w", err)
	}
	s := &Server{
		opts:      opts,
		platform:  platform,
		app:       app,
		notifier:  opts.Notifier,
		sellerID:  k.SellerID,
		closed:    make(chan struct{}),
		trades:    make(map[string]*trade),
		byTradeNo: make(map[string]*trade),
		qrs:       make(map[string]*qrOrder),
		cancelled: make(map[string]bool),
	}
	if s.notifier == nil {
		s.notifier = sandbox.NewNotifier()
		s.ownNotifier = true
	}
	return s, nil
}

// Credentials returns what the alipay channel needs: app_id, private_key
// (the app's key, PKCS #8 PEM) and alipay_public_key (PKIX PEM).
func (s *Server) Credentials() map[string]string {
	priv, _ := x509.MarshalPKCS8PrivateKey(s.app)
	pub, _ := x509.MarshalPKIXPublicKey(&s.platform.PublicKey)
	return map[string]string{
		"app_id":            s.opts.AppID,
		"private_key":       string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv})),
		"alipay_public_key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		"seller_id":         s.sellerID,
	}
}

// SellerID is the merchant's Alipay user id (2088...), the seller_id of
// notifications.
func (s *Server) SellerID() string { return s.sellerID }

// Handler serves the simulator's routes relative to where it is mounted.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasSuffix(p, "gateway.do") && (r.Method == http.MethodPost || r.Method == http.MethodGet):
			s.gateway(w, r)
		case p == "/confirm":
			s.confirmPage().ServeHTTP(w, r)
		case strings.HasSuffix(p, "bill/download") && r.Method == http.MethodGet:
			s.download(w, r)
		case strings.HasSuffix(p, "scan") && r.Method == http.MethodPost:
			s.scan(w, r)
		case strings.HasSuffix(p, "bill_adjustments"):
			s.adjust.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// Close stops timers and notification retries, and releases hanging calls.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.timers.Stop()
		if s.ownNotifier {
			s.notifier.Close()
		}
	})
}

func (s *Server) now() time.Time { return s.opts.Now().In(cst) }

// newTradeNo returns a trade number in Alipay's shape: date, "22", serial.
// Callers hold s.mu.
func (s *Server) newTradeNo() string {
	s.seq++
	return fmt.Sprintf("%s22%s%08d", s.now().Format("20060102"), randomDigits(8), s.seq)
}

func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var errAmount = errors.New("invalid amount")

var cst = time.FixedZone("CST", 8*3600)

const timeLayout = "2006-01-02 15:04:05"

// fenOf parses a yuan string with at most two decimals into fen.
func fenOf(s string) (int64, error) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(whole) > 10 || (dot && (frac == "" || len(frac) > 2)) {
		return 0, errAmount
	}
	var fen int64
	for _, c := range whole + (frac + "00")[:2] {
		if c < '0' || c > '9' {
			return 0, errAmount
		}
		fen = fen*10 + int64(c-'0')
	}
	return fen, nil
}

func yuanOf(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// keyFile is what the simulator keeps in its key directory.
type keyFile struct {
	Platform string `json:"alipay_private_key"` // PKCS #8 PEM; signs answers
	App      string `json:"app_private_key"`    // PKCS #8 PEM; the merchant app's
	SellerID string `json:"seller_id"`
}
