package ecny

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/paygate-cn/paygate"
	api "github.com/paygate-cn/paygate/channels/ecny"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

// DefaultMerchantNo is the merchant number when Options leaves it empty.
const DefaultMerchantNo = "898310000000001"

// Options configure a simulated bank.
type Options struct {
	// MerchantNo is the one merchant the bank serves.
	MerchantNo string
	// NotifyURL receives notifications of requests without a notify_url.
	NotifyURL string
	// Notifier delivers notifications; nil means one of the server's own,
	// closed by Close.
	Notifier *sandbox.Notifier
	// Now is the bank's clock for what it books: payment and refund
	// times, and so the day a bill puts them on; time.Now when nil.
	Now paygate.Clock
	// Wall is the clock of signatures: request timestamps are checked
	// against it and answers and notifications stamped with it. time.Now
	// when nil: with Now set to another day (a test crossing midnight),
	// signatures stay checked against real time, as the clients sign.
	Wall paygate.Clock
	// HangFor is how long the first call of a 4444 code hangs before the
	// connection is dropped; 0 hangs until the client gives up.
	HangFor time.Duration
	// RefundDelay is how long a refund stays PROCESSING (answer and
	// queries) before it succeeds and is notified; 0 succeeds it at once.
	RefundDelay time.Duration
	// KeyDir keeps the keys across restarts (sandbox.Persisted); empty:
	// fresh ones at every start.
	KeyDir string
	// ReturnOrigins may be redirected to from the confirm page, besides
	// loopback addresses (the gateway's own origin).
	ReturnOrigins []string
}

// Server is a simulated operating bank.
type Server struct {
	opts        Options
	bankKey     *sm2.PrivateKey
	merchantKey *sm2.PrivateKey
	creds       map[string]string
	notifier    *sandbox.Notifier
	ownNotifier bool

	mu      sync.Mutex
	trades  map[string]*trade  // by out_trade_no
	byCode  map[string]*trade  // by code_url
	refunds map[string]*refund // by out_refund_no
	seq     int64
	timers  sandbox.Timers
	adjust  sandbox.BillAdjustments // waiting for their day's next bill

	done      chan struct{}
	closeOnce sync.Once
}

// trade is the bank's record of a trade.
type trade struct {
	api.Trade
	seq       int64
	scenario  sandbox.Scenario
	authCode  string
	notifyURL string
	created   time.Time
	expires   time.Time
	paidAt    time.Time
	subject   string
	revokedAt time.Time // set when a paid trade was cancelled
	refunded  int64
}

type refund struct {
	api.RefundInfo
	seq int64
	at  time.Time
	t   *trade
}

// New returns a bank with fresh SM2 key pairs for itself and the merchant.
func New(opts Options) (*Server, error) {
	if opts.MerchantNo == "" {
		opts.MerchantNo = DefaultMerchantNo
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Wall == nil {
		opts.Wall = time.Now
	}
	var k keyFile
	err := sandbox.Persisted(opts.KeyDir, "ecny", &k, func() error {
		bank, err := sm2.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		merchant, err := sm2.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		if k.Bank, err = api.MarshalPrivateKey(bank); err != nil {
			return err
		}
		k.Merchant, err = api.MarshalPrivateKey(merchant)
		return err
	})
	if err != nil {
		return nil, err
	}
	bankKey, err := api.ParsePrivateKey(k.Bank)
	if err != nil {
		return nil, err
	}
	merchantKey, err := api.ParsePrivateKey(k.Merchant)
	if err != nil {
		return nil, err
	}
	priv, err := api.MarshalPrivateKey(merchantKey)
	if err != nil {
		return nil, err
	}
	pub, err := api.MarshalPublicKey(&bankKey.PublicKey)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:        opts,
		bankKey:     bankKey,
		merchantKey: merchantKey,
		creds:       map[string]string{"merchant_no": opts.MerchantNo, "private_key": priv, "bank_public_key": pub},
		notifier:    opts.Notifier,
		trades:      map[string]*trade{},
		byCode:      map[string]*trade{},
		refunds:     map[string]*refund{},
		done:        make(chan struct{}),
	}
	if s.notifier == nil {
		s.notifier = sandbox.NewNotifier()
		s.ownNotifier = true
	}
	return s, nil
}

// Credentials returns what paygate's e-CNY client needs: merchant_no,
// private_key (the merchant's) and bank_public_key.
func (s *Server) Credentials() map[string]string {
	c := make(map[string]string, len(s.creds))
	for k, v := range s.creds {
		c[k] = v
	}
	return c
}

// Handler serves the bank's API, paths relative to the mount point, and
// POST /scan.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for path, op := range map[string]operation{
		api.PathMicropay:     (*Server).micropay,
		api.PathPrecreate:    (*Server).precreate,
		api.PathJSAPI:        (*Server).jsapi,
		api.PathQuery:        (*Server).query,
		api.PathCancel:       (*Server).cancel,
		api.PathClose:        (*Server).closeTrade,
		api.PathRefund:       (*Server).refund,
		api.PathRefundQuery:  (*Server).refundQuery,
		api.PathBillDownload: (*Server).bill,
	} {
		mux.Handle("POST "+path, s.serveAPI(path, op))
	}
	mux.HandleFunc("POST /scan", s.scan)
	mux.Handle("POST /bill_adjustments", &s.adjust)
	mux.Handle("/confirm", &sandbox.ConfirmPage{Wallet: sandbox.LockedWallet{Mu: &s.mu, Find: s.confirmable}, Title: "数字人民币",
		AllowReturn: sandbox.LoopbackOrOrigins(s.opts.ReturnOrigins...)})
	return mux
}

// Close stops confirmations, hanging calls and (its own) notifier.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.timers.Stop()
		if s.ownNotifier {
			s.notifier.Close()
		}
	})
}

func (s *Server) now() time.Time { return s.opts.Now() }

// wall is the time of signatures (Options.Wall).
func (s *Server) wall() time.Time { return s.opts.Wall() }

// nextSeq numbers trades and refunds; call with s.mu held.
func (s *Server) nextSeq() int64 {
	s.seq++
	return s.seq
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("ecny sandbox: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

func dayOf(t time.Time) string { return t.In(bankZone).Format(api.BillDateLayout) }

var bankZone = time.FixedZone("CST", 8*3600)

// keyFile is what the simulator keeps in its key directory.
type keyFile struct {
	Bank     string `json:"bank_private_key"`     // SM2, PKCS #8 PEM
	Merchant string `json:"merchant_private_key"` // SM2, PKCS #8 PEM
}

// idChars may make up a wallet id (it appears in '|'-separated bills).
const idChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"

// MerchantPublicKey is the merchant's registered public key (PEM), which
// the bank verifies requests with.
func (s *Server) MerchantPublicKey() string {
	pub, _ := api.MarshalPublicKey(&s.merchantKey.PublicKey)
	return pub
}

// confirmable describes a jsapi trade (ref: its pay_ref) for the confirm
// page and returns how to pay it; called with s.mu held.
func (s *Server) confirmable(ref string) (sandbox.ConfirmInfo, func(), error) {
	t := s.byCode[ref]
	if t == nil || ref == "" || t.PayRef != ref {
		return sandbox.ConfirmInfo{}, nil, sandbox.ErrUnknownRef
	}
	s.settle(t)
	info := sandbox.ConfirmInfo{Subject: t.subject, Amount: t.Amount}
	if t.TradeStatus != api.TradeNotPay {
		return info, nil, errors.New("交易状态为 " + t.TradeStatus)
	}
	return info, func() { t.scenario = sandbox.Succeed; s.succeed(t, s.now()) }, nil
}
