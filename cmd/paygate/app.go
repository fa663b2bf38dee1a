package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks"
	"github.com/paygate-cn/paygate/callbacks/webhookurl"
	"github.com/paygate-cn/paygate/cardinput"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/gateway"
	"github.com/paygate-cn/paygate/internal/secrets"
	"github.com/paygate-cn/paygate/metrics"
	"github.com/paygate-cn/paygate/payments"
	"github.com/paygate-cn/paygate/reconcile"
	"github.com/paygate-cn/paygate/redisstore"
	"github.com/paygate-cn/paygate/routing"
	"github.com/paygate-cn/paygate/store"
)

// Main is the whole gateway process: configuration, storage, Redis, the
// channels (and in sandbox mode their simulators), routing, the HTTP API and
// the background jobs. End-to-end tests start this same Main.
type Main struct {
	// Set before Run (all optional).
	Config *config.Config      // nil: loaded from PAYGATE_CONFIG and the environment
	Getenv func(string) string // default os.Getenv
	Out    io.Writer           // where the sandbox credentials are printed; default stdout
	Logger *slog.Logger        // default JSON to stderr
	Now    paygate.Clock       // default time.Now
	// DBSchema puts PostgreSQL tables into a schema of their own (tests).
	DBSchema string
	// Tuning, mostly for tests: zero values keep the defaults.
	PollInterval   time.Duration // B-scan-C polling while the customer confirms
	PaymentWindow  time.Duration // shortens B-scan-C payment windows; unknown card payments are reversed after it
	ChannelTimeout time.Duration // per channel call in sandbox mode
	SandboxHang    time.Duration // how long a simulated timeout (4444) hangs

	// Available after Run.
	URL   string // base URL the gateway listens on
	DB    *store.DB
	Redis redis.UniversalClient
	// redisBase is the client behind an auto-pipelined Redis, closed last.
	redisBase *redis.Client
	Server    *gateway.Server
	Payments  *payments.Payments
	Router    *routing.Router
	Directory *config.Directory
	// webhooks is where webhooks may go (webhooks.* in the config).
	webhooks *webhookurl.Policy
	Sandbox  *Sandbox // nil unless sandbox mode
	Recon    *reconcile.Service
	// Metrics holds every series /metrics serves (docs/metrics.md).
	Metrics *metrics.Registry

	mini     *miniredis.Miniredis
	http     *http.Server
	listener net.Listener
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closers  []func()
}

// NewMain returns a Main with defaults.
func NewMain() *Main { return &Main{} }

func (m *Main) defaults() error {
	if m.Getenv == nil {
		m.Getenv = os.Getenv
	}
	if m.Out == nil {
		m.Out = os.Stdout
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	if m.Logger == nil {
		m.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if m.Config == nil {
		cfg, err := config.Load(m.Getenv("PAYGATE_CONFIG"), m.Getenv)
		if err != nil {
			return err
		}
		m.Config = cfg
	}
	return nil
}

// Run opens everything and starts serving; it returns once the gateway
// listens. Close stops it.
func (m *Main) Run(ctx context.Context) (err error) {
	if err := m.defaults(); err != nil {
		return err
	}
	tuneGC()
	cfg := m.Config
	bg, cancel := context.WithCancel(context.Background())
	m.cancel = cancel

	if m.listener, err = net.Listen("tcp", cfg.Addr); err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	m.URL = "http://" + m.listener.Addr().String()
	public := strings.TrimSuffix(cfg.PublicURL, "/")
	if public == "" || strings.HasSuffix(cfg.Addr, ":0") {
		public = m.URL
	}

	if err := m.openStore(ctx); err != nil {
		return err
	}
	if err := m.openRedis(ctx); err != nil {
		return err
	}
	shared, err := redisstore.New(m.Redis, cfg.RedisPrefix)
	if err != nil {
		return err
	}

	var mounts []func(e *gin.Engine)
	if cfg.Sandbox.Enabled {
		sb, err := StartSandbox(SandboxOptions{
			PublicURL: public, Timeout: m.ChannelTimeout, HangFor: m.SandboxHang, Now: m.Now,
			DataDir: cfg.DataDir,
		})
		if err != nil {
			return err
		}
		m.Sandbox = sb
		m.closers = append(m.closers, sb.Close)
		for _, p := range sb.Providers {
			if err := cfg.AddProvider(p); err != nil {
				return fmt.Errorf("sandbox provider %s: %w", p.ID, err)
			}
		}
		mounts = append(mounts, sb.Mount)
		m.printSandbox()
	}
	m.Directory = cfg.Directory()
	m.webhooks = cfg.Webhooks.Policy()
	providers := cfg.Providers
	secret, err := secrets.Load(m.Getenv, cfg.DataDir)
	if err != nil {
		return err
	}
	box, err := secrets.NewBox(secret)
	if err != nil {
		return err
	}

	if err := cfg.ValidateContracts(); err != nil {
		return err
	}
	health := routing.NewHealth(routing.HealthOptions{Now: m.Now})
	m.Metrics = metrics.New()
	m.Metrics.Watch(metrics.Sources{Backlog: m.DB.Backlog, Circuits: health.States, Now: m.Now})
	m.Router, err = routing.New(providers, routing.Options{
		Risk: shared, Now: m.Now, Health: health,
		ObserveRisk: m.Metrics.Risk,
	})
	if err != nil {
		return err
	}
	channels := map[string]paygate.Channel{}
	var parsers = map[string][]callbacks.Parser{}
	// Every provider is built before failing, so that a start with bad
	// credentials reports all of them at once.
	var faults []error
	for _, spec := range providers {
		if spec.Disabled {
			continue
		}
		ch, err := newChannel(spec, m.Now)
		if err != nil {
			// A person reads this: the message, not the error's code.
			if pe := (*paygate.Error)(nil); errors.As(err, &pe) {
				err = errors.New(pe.Message)
			}
			faults = append(faults, fmt.Errorf("provider %s: %w", spec.ID, err))
			continue
		}
		if c, ok := ch.(io.Closer); ok {
			m.closers = append(m.closers, func() { c.Close() })
		}
		// Decorators (README, "Channels and their decorators"): every
		// call is timed, including one the open circuit refuses.
		channels[spec.ID] = m.Metrics.Channel(health.Wrap(ch))
		if p, ok := ch.(callbacks.Parser); ok {
			parsers[spec.Kind] = append(parsers[spec.Kind], p)
		}
	}
	if len(faults) > 0 {
		return errors.Join(faults...)
	}

	recent := payments.NewRecentlyPaid(100_000)
	terminals := &payments.Terminals{Configured: m.Directory, Registered: m.DB}
	m.Payments = &payments.Payments{
		Orders: m.DB, Refunds: m.DB, Now: m.Now, Recent: recent, Router: m.Router, Channels: channels,
		CallbackBase: public + "/callbacks/", PollInterval: m.PollInterval, PaymentWindow: m.PaymentWindow,
		Logger:    m.Logger,
		ParseCard: cardinput.New(secrets.DeriveKey(secret, secrets.PurposeCardFingerprint), cfg.Sandbox.Enabled).Parse,
		Fallback:  routing.Fallback,
		Terminals: terminals,
	}
	inbound := &callbacks.Inbound{
		Parsers: func(kind string) []callbacks.Parser { return parsers[kind] },
		Orders:  m.DB, Refunds: m.DB, Applier: m.Payments,
		Claims: shared, Logger: m.Logger, Recent: recent,
		Observe: m.Metrics.Callback,
	}
	m.closers = append(m.closers, inbound.Close) // after the HTTP server, before Redis
	specs := billProviders(cfg)
	m.Recon = reconService(m.DB, m.Payments, specs, m.Now, func(ctx context.Context, id, day string) (*reconcile.Bill, error) {
		return fetchBill(ctx, channels[id], filepath.Join(cfg.DataDir, "bills"), day)
	})
	m.Recon.Logger = m.Logger
	if cfg.Sandbox.Enabled {
		// The simulators make today's bill from what they processed so
		// far when it is asked for (the acquirer host settles its batch
		// at the 0500): today may be reconciled.
		m.Recon.BeforeToday = func(context.Context, string) error { return nil }
	}
	m.Server = gateway.New(gateway.Deps{
		Reconciliations: &gateway.Reconciliations{Store: m.DB, Providers: m.Recon.Providers,
			Run: func(ctx context.Context, day string, allow func(string) bool) ([]*paygate.Reconciliation, error) {
				return m.Recon.ReconcileAll(ctx, day, allow)
			}},
		Orders: m.DB, Refunds: m.DB, Events: m.DB, Idempotency: m.DB,
		Directory: &gateway.Directory{Static: m.Directory, Terminals: m.DB, Box: box},
		Terminals: &gateway.Terminals{Store: m.DB, Box: box, Now: m.Now, Registered: terminals.IsConfigured},
		Payments:  m.Payments, AuthCodes: cfg.AuthCodes, Inbound: inbound,
		Admitter: shared, ActivationLimiter: shared, CashierLimiter: shared,
		RateLimit: cfg.RateLimits(), Unavailable: store.Unavailable,
		Now: m.Now, Logger: m.Logger, MaxBodyBytes: cfg.MaxBodyBytes, TrustedProxies: cfg.TrustedProxies,
		Webhooks: m.webhooks, Metrics: m.Metrics,
		Cashier: &gateway.Cashier{
			Codes: m.DB, PublicURL: public, Key: secrets.DeriveKey(secret, secrets.PurposeCashier),
			Sandbox: cfg.Sandbox.Enabled, ECNYMarker: cfg.Cashier.ECNYUAMarker, Auth: walletAuth(cfg, providers),
			DefaultStaticQRLimit: routing.StaticQRDailyLimit,
			PaysPerIP:            cfg.Cashier.PaysPerIP, PaysPerCode: cfg.Cashier.PaysPerCode,
		},
		Ready: func(ctx context.Context) error {
			if err := m.DB.Ping(ctx); err != nil {
				return err
			}
			return m.Redis.Ping(ctx).Err()
		},
		Mount: func(e *gin.Engine) {
			for _, f := range mounts {
				f(e)
			}
		},
	})
	m.http = newHTTPServer(cfg.Server, m.Server.Handler())
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.http.Serve(m.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("http server stopped", "err", err)
		}
	}()
	m.startJobs(bg)
	m.Logger.Info("paygate listening", "url", m.URL, "database", m.DB.Dialect(), "sandbox", cfg.Sandbox.Enabled)
	return nil
}

// newHTTPServer bounds every phase of a connection (docs/configuration.md,
// "server"): headers, the whole request with its body, the answer (longer
// than the longest wait_seconds) and the idle time between keep-alive
// requests.
// serveUntil serves l with srv until ctx ends (the server is then closed)
// or Serve fails; the goroutine closing it is waited for before returning.
func serveUntil(ctx context.Context, srv *http.Server, l net.Listener) error {
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

func newHTTPServer(t config.Server, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeaderTimeout,
		ReadTimeout:       t.ReadTimeout,
		WriteTimeout:      t.WriteTimeout,
		IdleTimeout:       t.IdleTimeout,
	}
}

func (m *Main) openStore(ctx context.Context) error {
	cfg := m.Config
	dsn := cfg.DatabaseURL
	if dsn == "" {
		dsn = "sqlite:" + cfg.DataDir + "/paygate.db"
	}
	db, err := store.Open(ctx, dsn, store.Options{Now: m.Now, Schema: m.DBSchema})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	m.DB = db
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	return nil
}

// openRedis connects to PAYGATE_REDIS_URL, or starts an in-process
// Redis-compatible server when it is unset.
func (m *Main) openRedis(ctx context.Context) error {
	u := m.Config.RedisURL
	if u == "" {
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("start in-process redis: %w", err)
		}
		m.mini = mr
		m.Redis = redis.NewClient(&redis.Options{Addr: mr.Addr()})
		return nil
	}
	client, err := NewRedis(u)
	if err != nil {
		return err
	}
	if err := client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", config.RedactURL(u), err)
	}
	m.Redis = client
	if c, ok := client.(*redis.Client); ok {
		// Requests' Redis calls (nonce, risk, callback claims) are small
		// and concurrent: the auto-pipeliner sends those that arrive
		// together in one round trip. A lone call still flushes at once.
		ap, err := c.AutoPipeline()
		if err != nil {
			return fmt.Errorf("redis auto-pipeline: %w", err)
		}
		m.Redis = ap
		m.redisBase = c
	}
	return nil
}

// NewRedis returns a client for redis://, rediss:// or a comma-separated
// list of host:port (a Redis Cluster) through go-redis' universal client.
func NewRedis(u string) (redis.UniversalClient, error) {
	if strings.HasPrefix(u, "redis://") || strings.HasPrefix(u, "rediss://") {
		opt, err := redis.ParseURL(u)
		if err != nil {
			return nil, fmt.Errorf("redis_url: %w", err)
		}
		return redis.NewClient(opt), nil
	}
	return redis.NewUniversalClient(&redis.UniversalOptions{Addrs: strings.Split(u, ",")}), nil
}

// printSandbox prints the demo merchant's test credentials (from
// PAYGATE_SANDBOX_KEY_ID / _SECRET, random when unset).
func (m *Main) printSandbox() {
	sb := m.Config.Sandbox
	fmt.Fprintf(m.Out, "paygate sandbox on %s\n  merchant %s (terminal T0001, region 310000, MCC 5812)\n"+
		"  export PAYGATE_URL=%s PAYGATE_KEY_ID=%s PAYGATE_SECRET=%s\n",
		m.URL, sb.Merchant, m.URL, sb.KeyID, sb.Secret)
	if m.Sandbox != nil {
		m.Sandbox.PrintSummary(m.Out, m.URL)
	}
}

// startJobs runs the background work, in every replica: delivering the
// webhook outbox, resolving orders whose outcome is unknown (lost
// callbacks; B-scan-C orders past their window are reversed), and purging
// expired idempotency keys. Outbox events and pending orders are claimed
// with leases, so replicas share the work without doing anything twice at
// once.
func (m *Main) startJobs(ctx context.Context) {
	jobs := m.Config.Jobs
	if jobs.Disabled {
		return
	}
	orDefault := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	orDefault(&jobs.LeaseTTL, config.DefaultLeaseTTL)
	orDefault(&jobs.OutboxInterval, config.DefaultOutboxInterval)
	orDefault(&jobs.PendingQueryInterval, config.DefaultPendingQueryInterval)
	orDefault(&jobs.PendingQueryAfter, config.DefaultPendingQueryAfter)
	every := func(d time.Duration, f func(context.Context)) {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					f(ctx)
				}
			}
		}()
	}
	dispatcher := &callbacks.Dispatcher{
		Outbox: m.DB, Merchants: m.Directory, Now: m.Now, Lease: jobs.LeaseTTL, Batch: jobs.Batch,
		Policy: m.webhooks, Logger: m.Logger, Deliverable: m.webhookMerchants,
		Observe: m.Metrics.Dispatch,
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		dispatcher.Run(ctx, jobs.OutboxInterval)
	}()
	every(jobs.PendingQueryInterval, func(ctx context.Context) {
		if _, err := m.Payments.ResolvePending(ctx, jobs.PendingQueryAfter, jobs.LeaseTTL, jobs.Batch); err != nil && ctx.Err() == nil {
			m.Logger.Warn("resolve pending", "err", err)
		}
	})
	daily := &reconcile.Job{Service: m.Recon, Store: m.DB, At: reconcileAt(jobs.ReconcileAt), Holder: holderName()}
	every(time.Minute, func(ctx context.Context) { daily.Tick(ctx) })
	every(time.Hour, func(ctx context.Context) {
		if _, err := m.DB.PurgeIdempotent(ctx, m.Now().Add(-gateway.IdempotencyTTL)); err != nil {
			m.Logger.Warn("purge idempotency keys", "err", err)
		}
	})
}

// webhookMerchants lists the merchants that can receive webhooks (a URL
// and a signing secret); merchants are fixed by the configuration, so the
// list is the same on every call.
func (m *Main) webhookMerchants() []string {
	var ids []string
	for _, mc := range m.Directory.Merchants() {
		if mc.WebhookURL != "" && len(mc.WebhookSecrets) > 0 {
			ids = append(ids, mc.ID)
		}
	}
	return ids
}

// Close stops serving and releases everything, in reverse order of Run.
func (m *Main) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	if m.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m.http.Shutdown(ctx)
		cancel()
	} else if m.listener != nil {
		m.listener.Close()
	}
	if m.Payments != nil {
		m.Payments.Close()
	}
	m.wg.Wait()
	for i := len(m.closers) - 1; i >= 0; i-- {
		m.closers[i]()
	}
	if m.redisBase != nil {
		m.redisBase.Close()
	} else if m.Redis != nil {
		m.Redis.Close()
	}
	if m.mini != nil {
		m.mini.Close()
	}
	if m.DB != nil {
		return m.DB.Close()
	}
	return nil
}
