// Package wechat simulates WeChat Pay API v3 for a direct merchant: the
// real paths, JSON bodies, SHA256-RSA2048 request and response signatures,
// and AES-256-GCM encrypted notifications, so that the production client
// runs against it unchanged.
//
// Behaviour follows the sandbox scenario table (sandbox.ScenarioOf on the
// payment code): 1111 answers 202 USERPAYING and succeeds after
// sandbox.ConfirmDelay; 2222 stays USERPAYING until reversed (REVOKED); 3333
// answers 403 NOTENOUGH and the trade is PAYERROR; 4444 records a success but
// the first codepay call never answers (until HangFor passes or the client
// goes away, then the connection is dropped); 5555 records a success and the
// first call answers 500 SYSTEM_ERROR; 6666 succeeds and its notification is
// delivered three times at once. Refunds answer PROCESSING and turn SUCCESS
// at once (a query shows SUCCESS and REFUND.SUCCESS is sent).
//
// codepay requests carry no notify_url in v3, so codepay notifications go to
// Options.NotifyURL (the URL a merchant configures on the platform).
// POST /scan {"qr_code": ...} pays a native order as a customer would;
// {"prepay_id": ...} does the same for a JSAPI or App prepay.
package wechat

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

// Options configure a simulator.
type Options struct {
	MchID, AppID string
	APIv3Key     string // 32 bytes; random when empty
	// NotifyURL is the default callback URL when a request carries none.
	NotifyURL string
	Notifier  *sandbox.Notifier
	// Now is WeChat Pay's clock for what it books: trade and refund
	// times, and so the day a bill puts them on; time.Now when nil.
	Now paygate.Clock
	// Wall is the clock of signatures: request timestamps are checked
	// against it and answers and notifications stamped with it. time.Now
	// when nil: with Now set to another day (a test crossing midnight),
	// signatures stay checked against real time, as the clients sign.
	Wall paygate.Clock
	// HangFor is how long a 4444 first call hangs; default 15 s, or until
	// the client goes away.
	HangFor time.Duration
	// RefundDelay is how long a refund stays PROCESSING; 0 succeeds it at
	// once.
	RefundDelay time.Duration
	// KeyDir keeps the keys, ids and certificate across restarts
	// (sandbox.Persisted); empty: fresh ones at every start.
	KeyDir string
	// BaseURL is where the simulator is reached from a browser: the h5_url
	// of an h5 prepay is BaseURL/confirm?ref=<prepay_id>. Empty: the real
	// wx.tenpay.com shape.
	BaseURL string
	// ReturnOrigins may be redirected to from the confirm page, besides
	// loopback addresses (the gateway's own origin).
	ReturnOrigins []string
}

// Server is a simulated WeChat Pay.
type Server struct {
	opts           Options
	now            func() time.Time
	wallClock      atomic.Pointer[paygate.Clock]
	platformKey    *rsa.PrivateKey
	platformKeyID  string
	merchantKey    *rsa.PrivateKey
	merchantSerial string
	apiV3Key       []byte
	platformCert   []byte // DER, self-signed over platformKey
	platformSerial string // its serial number, upper-case hex
	notifier       *sandbox.Notifier
	ownNotifier    bool
	done           chan struct{}
	closeOnce      sync.Once

	mu      sync.Mutex
	trades  map[string]*trade  // by out_trade_no
	codes   map[string]string  // code_url / prepay_id / h5_url → out_trade_no
	refunds map[string]*refund // by out_refund_no
	bills   map[string][]byte  // download token → bill file
	adjust  sandbox.BillAdjustments
	timers  sandbox.Timers
}

// New generates the platform and merchant key pairs and returns a server.
func New(opts Options) (*Server, error) {
	if opts.MchID == "" {
		opts.MchID = "1900000109"
	}
	if opts.AppID == "" {
		opts.AppID = "wxd678efh567hg6787"
	}
	if opts.HangFor <= 0 {
		opts.HangFor = 15 * time.Second
	}
	var k keyFile
	if err := sandbox.Persisted(opts.KeyDir, "wechat", &k, func() error { return k.generate(opts.Now) }); err != nil {
		return nil, err
	}
	key := []byte(k.APIv3Key)
	if opts.APIv3Key != "" {
		key = []byte(opts.APIv3Key)
	}
	if len(key) != 32 {
		return nil, errors.New("wechat sandbox: APIv3Key must be 32 bytes")
	}
	platform, err := sandbox.ParseRSAKey(k.PlatformKey)
	if err != nil {
		return nil, fmt.Errorf("wechat sandbox: platform key: %w", err)
	}
	merchant, err := sandbox.ParseRSAKey(k.MerchantKey)
	if err != nil {
		return nil, fmt.Errorf("wechat sandbox: merchant key: %w", err)
	}
	certBlock, _ := pem.Decode([]byte(k.PlatformCert))
	if certBlock == nil {
		return nil, errors.New("wechat sandbox: platform certificate missing")
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("wechat sandbox: platform certificate: %w", err)
	}
	s := &Server{
		opts:           opts,
		now:            opts.Now,
		platformKey:    platform,
		platformKeyID:  k.PublicKeyID,
		merchantKey:    merchant,
		merchantSerial: k.MerchantSerial,
		apiV3Key:       key,
		platformCert:   cert.Raw,
		platformSerial: hexUpper(cert.SerialNumber.Bytes()),
		notifier:       opts.Notifier,
		done:           make(chan struct{}),
		trades:         map[string]*trade{},
		codes:          map[string]string{},
		refunds:        map[string]*refund{},
		bills:          map[string][]byte{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.SetWall(opts.Wall)
	if s.notifier == nil {
		s.notifier = sandbox.NewNotifier()
		s.ownNotifier = true
	}
	return s, nil
}

// Credentials returns what the WeChat channel client needs, the merchant's
// private key included.
func (s *Server) Credentials() map[string]string {
	priv, _ := x509.MarshalPKCS8PrivateKey(s.merchantKey)
	pub, _ := x509.MarshalPKIXPublicKey(&s.platformKey.PublicKey)
	return map[string]string{
		"mchid":                  s.opts.MchID,
		"appid":                  s.opts.AppID,
		"serial_no":              s.merchantSerial,
		"api_v3_key":             string(s.apiV3Key),
		"private_key":            string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv})),
		"platform_public_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		"platform_public_key_id": s.platformKeyID,
	}
}

// PlatformCertificate is the platform certificate (PEM) and its serial
// number, as GET /v3/certificates hands it out.
func (s *Server) PlatformCertificate() (certPEM, serial string) {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.platformCert})), s.platformSerial
}

// keyFile is what the simulator keeps in its key directory.
type keyFile struct {
	PlatformKey    string `json:"platform_private_key"` // PKCS #8 PEM
	PlatformCert   string `json:"platform_certificate"` // PEM, self-signed
	PublicKeyID    string `json:"platform_public_key_id"`
	MerchantKey    string `json:"merchant_private_key"` // PKCS #8 PEM
	MerchantSerial string `json:"merchant_serial_no"`
	APIv3Key       string `json:"api_v3_key"`
}

// SetWall replaces the clock of signatures (Options.Wall; nil: time.Now):
// a test signs notifications in the past with it.
func (s *Server) SetWall(wall paygate.Clock) {
	if wall == nil {
		wall = time.Now
	}
	s.wallClock.Store(&wall)
}

func (s *Server) wall() time.Time { return (*s.wallClock.Load())() }

func (k *keyFile) generate(now paygate.Clock) error {
	if now == nil {
		now = time.Now
	}
	var err error
	if k.PlatformKey, err = sandbox.NewRSAKey(); err != nil {
		return err
	}
	if k.MerchantKey, err = sandbox.NewRSAKey(); err != nil {
		return err
	}
	platform, err := sandbox.ParseRSAKey(k.PlatformKey)
	if err != nil {
		return err
	}
	limit := new(big.Int).Lsh(big.NewInt(1), 159)
	serial, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return err
	}
	certSerial, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return err
	}
	serial.SetBit(serial, 158, 1) // a full-length serial number, as WeChat's are
	certSerial.SetBit(certSerial, 158, 1)
	start := now().Add(-time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber: certSerial,
		Subject: pkix.Name{CommonName: "Tenpay.com sandbox platform certificate", Organization: []string{"paygate sandbox"},
			OrganizationalUnit: []string{"WeChat Pay simulator"}, Country: []string{"CN"}},
		NotBefore: start, NotAfter: start.AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &platform.PublicKey, platform)
	if err != nil {
		return err
	}
	idBytes := make([]byte, 16)
	_, _ = rand.Read(idBytes)
	k.PlatformCert = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	k.PublicKeyID = "PUB_KEY_ID_" + hex.EncodeToString(idBytes)
	k.MerchantSerial = hexUpper(serial.Bytes())
	k.APIv3Key = randomString(32)
	return nil
}

// Close stops pending confirmations, hung calls and callback retries.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.timers.Stop() // outside s.mu: a running action takes it
		if s.ownNotifier {
			s.notifier.Close()
		}
	})
}

// Handler serves the API relative to where it is mounted.
func (s *Server) Handler() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("POST /v3/pay/transactions/codepay", s.codePay)
	api.HandleFunc("POST /v3/pay/transactions/{kind}", s.prepay)
	api.HandleFunc("GET /v3/pay/transactions/out-trade-no/{no}", s.query)
	api.HandleFunc("GET /v3/pay/transactions/id/{id}", s.queryByID)
	api.HandleFunc("GET /v3/certificates", s.certificates)
	api.HandleFunc("POST /v3/pay/transactions/out-trade-no/{no}/reverse", s.reverse)
	api.HandleFunc("POST /v3/pay/transactions/out-trade-no/{no}/close", s.closeOrder)
	api.HandleFunc("POST /v3/refund/domestic/refunds", s.createRefund)
	api.HandleFunc("GET /v3/refund/domestic/refunds/{no}", s.queryRefund)
	api.HandleFunc("GET /v3/bill/tradebill", s.tradeBill)
	api.HandleFunc("GET /v3/billdownload/file", s.billFile)

	api.HandleFunc("/", s.notFound)

	mux := http.NewServeMux()
	mux.Handle("/v3/", s.authenticate(api))
	mux.HandleFunc("POST /scan", s.scan)
	mux.Handle("POST /bill_adjustments", &s.adjust)
	mux.Handle("/confirm", &sandbox.ConfirmPage{Wallet: sandbox.LockedWallet{Mu: &s.mu, Find: s.confirmable}, Title: "微信支付",
		AllowReturn: sandbox.LoopbackOrOrigins(s.opts.ReturnOrigins...)})
	mux.HandleFunc("/", s.notFound)
	return mux
}

func hexUpper(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}

func parseCert(der []byte) (*x509.Certificate, error) { return x509.ParseCertificate(der) }
