// Package unionpay simulates the UnionPay online platform (全渠道, acp 5.1.0
// style) for the sandbox: form requests verified against the merchant's
// key, signed raw key=value answers, signed backUrl notifies, the sandbox
// scenarios (README) chosen by the last four digits of the payment code or card, and
// the day's ZM reconciliation file built from what it processed.
package unionpay

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/sandbox"
	up "github.com/paygate-cn/paygate/channels/unionpay"
)

// Options configure a simulator.
type Options struct {
	// MerID is the merchant code (15 characters); random when empty.
	MerID string
	// NotifyURL receives notifies of requests that carry no backUrl.
	NotifyURL string
	// Notifier delivers notifies; the server makes (and closes) its own when nil.
	Notifier *sandbox.Notifier
	// Now is the clock; time.Now when nil.
	Now paygate.Clock
	// HangFor is how long the first call of scenario 4444 hangs before it
	// answers (it stops early when the client goes away); 30 s when zero.
	HangFor time.Duration
	// RefundDelay is how long an accepted refund stays processing; 0
	// succeeds it at once.
	RefundDelay time.Duration
	// KeyDir keeps the keys and ids across restarts (sandbox.Persisted);
	// empty: fresh ones at every start.
	KeyDir string
	// BaseURL is where a browser reaches the simulator: the default
	// front_url of the credentials is BaseURL/result.
	BaseURL string
	// ReturnOrigins may be redirected to from the confirm page, besides
	// loopback addresses and a frontUrl the merchant signed.
	ReturnOrigins []string
}

// Server is a simulated platform for one merchant.
type Server struct {
	opts     Options
	now      paygate.Clock
	notifier *sandbox.Notifier
	ownNotif bool

	upKey     *rsa.PrivateKey // the platform's signing (and encryption) key
	upCertID  string
	merKey    *rsa.PrivateKey // generated for the merchant; only its public half is used here
	merCertID string

	done chan struct{}

	adjust sandbox.BillAdjustments // waiting for their day's next ZM file

	mu     sync.Mutex
	closed bool
	txns   map[string]*txn // by orderId
	byQID  map[string]*txn
	qrs    map[string]*txn
	tns    map[string]*txn // in-app and front-end consumes by tn
	seen   map[string]bool // payment codes / cards whose first call was spent
	seq    int64
	ledger []ledgerEntry
	timers sandbox.Timers
}

// txn is one transaction the platform knows.
type txn struct {
	orderID, txnType, txnSubType, txnTime, bizType string
	amount                                         int64
	queryID, traceNo                               string
	traceAt                                        time.Time
	state                                          string // the transaction's own respCode
	scenario                                       sandbox.Scenario
	backURL                                        string
	card                                           string // masked PAN or payment code
	termID                                         string
	orig                                           *txn // for undo and refund
	refunded                                       int64
	fee                                            int64
	confirmAt                                      time.Time
	tn, frontURL, subject                          string    // in-app and front-end consumes
	payTimeout                                     time.Time // QR apply: no payment after it
}

type ledgerEntry struct {
	at  time.Time
	row up.ZMRow
}

// New starts a simulator with fresh platform and merchant RSA-2048 key pairs.
func New(opts Options) (*Server, error) {
	s := &Server{
		opts:  opts,
		now:   opts.Now,
		done:  make(chan struct{}),
		txns:  make(map[string]*txn),
		byQID: make(map[string]*txn),
		qrs:   make(map[string]*txn),
		tns:   make(map[string]*txn),
		seen:  make(map[string]bool),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.HangFor <= 0 {
		s.opts.HangFor = 30 * time.Second
	}
	if s.opts.MerID == "" {
		s.opts.MerID = "777290058" + randDigits(6)
	}
	if len(s.opts.MerID) != 15 {
		return nil, errors.New("unionpay sandbox: MerID must be 15 characters")
	}
	var k keyFile
	err := sandbox.Persisted(opts.KeyDir, "unionpay", &k, func() error {
		var err error
		if k.Platform, err = sandbox.NewRSAKey(); err != nil {
			return err
		}
		k.Merchant, err = sandbox.NewRSAKey()
		k.PlatformCertID, k.MerchantCertID = randDigits(11), randDigits(11)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.upKey, err = up.ParsePrivateKey(k.Platform); err != nil {
		return nil, fmt.Errorf("unionpay sandbox: platform key: %w", err)
	}
	if s.merKey, err = up.ParsePrivateKey(k.Merchant); err != nil {
		return nil, fmt.Errorf("unionpay sandbox: merchant key: %w", err)
	}
	s.upCertID, s.merCertID = k.PlatformCertID, k.MerchantCertID
	s.notifier = opts.Notifier
	if s.notifier == nil {
		s.notifier, s.ownNotif = sandbox.NewNotifier(), true
	}
	return s, nil
}

// Credentials are the provider credentials unionpay.New needs to talk to
// this simulator.
func (s *Server) Credentials() map[string]string {
	der, _ := x509.MarshalPKCS8PrivateKey(s.merKey)
	pub, _ := x509.MarshalPKIXPublicKey(&s.upKey.PublicKey)
	c := map[string]string{
		"mer_id":              s.opts.MerID,
		"cert_id":             s.merCertID,
		"private_key":         string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"unionpay_public_key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		"unionpay_cert_id":    s.upCertID,
	}
	if s.opts.NotifyURL != "" {
		c["back_url"] = s.opts.NotifyURL
	}
	if s.opts.BaseURL != "" {
		c["front_url"] = strings.TrimRight(s.opts.BaseURL, "/") + "/result"
	}
	return c
}

// PlatformPublicKey is the key the platform signs with (for independent
// verification in tests).
func (s *Server) PlatformPublicKey() *rsa.PublicKey { return &s.upKey.PublicKey }

// PlatformCertID is the certId the platform's messages carry.
func (s *Server) PlatformCertID() string { return s.upCertID }

// Handler serves the platform's endpoints (paths relative to the mount
// point) and POST /scan, the simulated payer scanning a C-scan-B code.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+up.PathBackTrans, s.handleBackTrans)
	mux.HandleFunc("POST "+up.PathQuery, s.handleQuery)
	mux.HandleFunc("POST "+up.PathFileTrans, s.handleFile)
	mux.HandleFunc("POST /scan", s.handleScan)
	mux.Handle("POST /bill_adjustments", &s.adjust)
	mux.HandleFunc("POST "+up.PathAppTrans, s.handleAppTrans)
	mux.HandleFunc("POST "+up.PathFrontTrans, s.handleFrontTrans)
	mux.Handle("/confirm", s.confirmPage())
	mux.HandleFunc("GET /result", s.handleResult)
	return mux
}

// Close stops timers and notify retries and releases hanging calls.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.timers.Stop() // outside s.mu: a running action takes it
	if s.ownNotif {
		s.notifier.Close()
	}
}

func randDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b[i] = byte('0' + d.Int64())
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}

// nextIDs returns a new queryId (21 digits: yyMMddHHmmss and a sequence)
// and traceNo (6 digits). Called with s.mu held.
func (s *Server) nextIDs(at time.Time) (queryID, traceNo string) {
	s.seq++
	return at.In(cst).Format("060102150405") + fmt.Sprintf("%09d", s.seq%1e9), fmt.Sprintf("%06d", s.seq%1e6)
}

var cst = time.FixedZone("CST", 8*60*60)

// keyFile is what the simulator keeps in its key directory.
type keyFile struct {
	Platform       string `json:"platform_private_key"` // PKCS #8 PEM
	PlatformCertID string `json:"platform_cert_id"`
	Merchant       string `json:"merchant_private_key"` // PKCS #8 PEM
	MerchantCertID string `json:"merchant_cert_id"`
}
