// Package gateway is paygate's HTTP API (gin): request signing, idempotency,
// error mapping, the order, refund and event endpoints, channel callbacks,
// health, metrics and the OpenAPI document.
package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks"
	"github.com/paygate-cn/paygate/callbacks/webhookurl"
	"github.com/paygate-cn/paygate/metrics"
	"github.com/paygate-cn/paygate/payments"
)

// Deps are what the gateway is built from; cmd/paygate wires them.
type Deps struct {
	Orders      paygate.OrderStore
	Refunds     paygate.RefundStore
	Events      paygate.EventStore
	Idempotency paygate.IdempotencyStore
	Directory   paygate.MerchantDirectory
	// Payments moves payments: every order and refund endpoint calls it.
	Payments *payments.Payments
	// AuthCodes recognise payment codes (auth_code's channel).
	AuthCodes []paygate.AuthCodeRule
	// Terminals serves the terminal endpoints; nil leaves them out.
	Terminals *Terminals
	Inbound   *callbacks.Inbound
	// Admitter records every signed request's nonce and applies
	// RateLimit, shared by all replicas (the redisstore package); nil
	// answers every signed request 503, since replays could not be told.
	Admitter paygate.Admitter
	// ActivationLimiter counts failed terminal activations; nil: no limit.
	ActivationLimiter paygate.ActivationLimiter
	// CashierLimiter counts the payments of the cashier's payer pages;
	// nil: no limit.
	CashierLimiter paygate.CashierLimiter
	// RateLimit answers a key's request rate limit (requests per second,
	// burst); rate 0 (or a nil RateLimit) means no limit.
	RateLimit func(key *paygate.APIKey) (rate, burst int)
	Now       paygate.Clock
	Logger    *slog.Logger
	// MaxBodyBytes bounds request bodies (default 64 KiB).
	MaxBodyBytes int64
	// TrustedProxies (addresses or CIDR ranges) may name the client in
	// X-Forwarded-For; none by default.
	TrustedProxies []string
	// Unavailable reports whether an error means a dependency (the
	// database) cannot be reached: such errors answer 503
	// service_unavailable instead of 500. Nil: none does.
	Unavailable func(error) bool
	// Ready reports whether dependencies (database, Redis) answer.
	Ready func(ctx context.Context) error
	// Reconciliations serve the reconciliation and statement endpoints;
	// nil leaves them out.
	Reconciliations *Reconciliations
	// Metrics holds the series /metrics serves (docs/metrics.md); the
	// gateway counts its requests, errors and orders there. Nil: a
	// Registry of its own.
	Metrics *metrics.Registry
	// Webhooks is the policy notify_url must meet (docs/webhooks.md); nil
	// is the production default: https to public addresses only.
	Webhooks *webhookurl.Policy
	// Cashier serves static QR codes (the /v1/qr_codes endpoints and the
	// payer pages under /qr/) and dynamic QR images; nil leaves them out.
	Cashier *Cashier
	// Mount adds extra routes (the sandbox simulators and
	// GET /sandbox/credentials); the cashier's pages come with Cashier.
	Mount func(e *gin.Engine)
}

// Server is the HTTP API.
type Server struct {
	deps    Deps
	engine  *gin.Engine
	log     *slog.Logger
	metrics meter
}

func init() { gin.SetMode(gin.ReleaseMode) }

// New builds the gin engine with every route.
func New(d Deps) *Server {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 64 << 10
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New()
	}
	s := &Server{deps: d, engine: gin.New(), log: d.Logger, metrics: meter{d.Metrics}}
	e := s.engine
	// A wrong method on a known path is 405 (with Allow); a trailing slash
	// or an unknown path is the JSON 404, never gin's redirect
	// (docs/errors.md).
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	// gin trusts every proxy unless told otherwise; trust only the
	// configured ones (config validates them; an invalid list trusts none).
	if err := e.SetTrustedProxies(d.TrustedProxies); err != nil {
		s.log.Error("trusted proxies ignored", "err", err)
		_ = e.SetTrustedProxies(nil)
	}
	e.ContextWithFallback = true
	e.Use(s.recover, s.requestID, s.metrics.middleware)
	e.NoRoute(func(c *gin.Context) {
		s.writeError(c, paygate.Errorf(paygate.ENOTFOUND, "no such endpoint %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		s.writeError(c, paygate.Errorf(paygate.EMETHODNOTALLOWED, "method %s is not allowed on %s (allowed: %s)",
			c.Request.Method, c.Request.URL.Path, c.Writer.Header().Get("Allow")))
	})

	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.ready)
	e.GET("/metrics", gin.WrapH(d.Metrics.Handler()))
	e.GET("/openapi.json", s.openAPI)
	e.POST("/callbacks/:channel", s.callback)
	if d.Terminals != nil {
		// Authenticated by the activation code alone: the terminal has no key yet.
		e.POST("/v1/terminals/activate", s.activateTerminal)
	}

	v1 := e.Group("/v1", s.authenticate, s.checkURL, s.idempotent)
	v1.POST("/orders", s.createOrder)
	v1.GET("/orders", s.listOrders)
	v1.GET("/orders/:id", s.getOrder)
	v1.POST("/orders/:id/close", s.closeOrder)
	v1.POST("/orders/:id/cancel", s.cancelOrder)
	v1.POST("/orders/:id/capture", s.captureOrder)
	v1.POST("/orders/:id/refunds", s.createRefund)
	v1.GET("/refunds/:id", s.getRefund)
	v1.POST("/routes/quote", s.quote)
	v1.GET("/events", s.listEvents)
	v1.GET("/events/:id", s.getEvent)
	v1.POST("/events/:id/redeliver", s.redeliverEvent)
	if d.Terminals != nil {
		v1.POST("/terminals", s.createTerminal)
		v1.GET("/terminals/:id", s.getTerminal)
		v1.POST("/terminals/:id/deactivate", s.deactivateTerminal)
		v1.POST("/terminals/:id/activation_code", s.reissueActivationCode)
	}
	if d.Reconciliations != nil {
		v1.POST("/reconciliations", s.createReconciliation)
		v1.GET("/reconciliations", s.listReconciliations)
		v1.GET("/reconciliations/:id", s.getReconciliation)
		v1.GET("/reconciliations/:id/discrepancies", s.listDiscrepancies)
		v1.POST("/discrepancies/:id/resolve", s.resolveDiscrepancy)
		v1.GET("/statements/:date", s.getStatement)
	}
	if d.Cashier != nil {
		v1.POST("/qr_codes", s.createQRCode)
		v1.GET("/qr_codes", s.listQRCodes)
		v1.GET("/qr_codes/:id", s.getQRCode)
		v1.POST("/qr_codes/:id/deactivate", s.deactivateQRCode)
		s.cashierRoutes(e)
	}
	if d.Mount != nil {
		d.Mount(e)
	}
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Engine returns the gin engine, for mounting more routes.
func (s *Server) Engine() *gin.Engine { return s.engine }

func (s *Server) now() time.Time { return s.deps.Now() }

func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", "path", c.Request.URL.Path, "panic", r)
			s.writeError(c, paygate.Errorf(paygate.EINTERNAL, "internal error"))
		}
	}()
	c.Next()
}

func (s *Server) requestID(c *gin.Context) {
	id := paygate.NewID(paygate.PrefixRequest, s.now())
	c.Set("request_id", id)
	c.Header("Request-Id", id)
	c.Request = c.Request.WithContext(paygate.NewContextWithRequestID(c.Request.Context(), id))
	c.Next()
}

func requestID(c *gin.Context) string {
	return c.GetString("request_id")
}

func (s *Server) ready(c *gin.Context) {
	if s.deps.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := s.deps.Ready(ctx); err != nil {
			s.log.Warn("not ready", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable"})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// callback receives a channel notification. It is authenticated by the
// channel's own signature, not by a merchant key.
func (s *Server) callback(c *gin.Context) {
	kind := c.Param("channel")
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, s.deps.MaxBodyBytes+1))
	if err != nil || int64(len(body)) > s.deps.MaxBodyBytes {
		s.metrics.callback(kind, "rejected_oversized")
		c.String(http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	r := s.deps.Inbound.Handle(context.WithoutCancel(c.Request.Context()), kind, c.Request.Header, body)
	if r.ContentType == "" {
		r.ContentType = "text/plain"
	}
	c.Data(r.Status, r.ContentType, r.Body)
}
