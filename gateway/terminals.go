package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/internal/apijson"
	"github.com/paygate-cn/paygate/internal/secrets"
)

// Terminals manages POS terminals: a merchant registers one, the terminal
// activates itself with the one-time code and receives its own key, and
// the merchant can deactivate it (revoking the key).
type Terminals struct {
	Store paygate.TerminalStore
	Box   *secrets.Box
	Now   paygate.Clock
	// Registered reports a terminal id the configuration already binds for
	// the merchant; such ids cannot be registered again. Nil: none.
	Registered func(ctx context.Context, merchantID, terminalID string) bool
	// FailuresPerIP and FailuresTotal limit failed activations per client
	// address and overall, per minute (defaults
	// DefaultActivationFailuresPerIP and DefaultActivationFailuresTotal).
	FailuresPerIP, FailuresTotal int
}

// Activation code lifetimes: activation_expires_in is bounded so that a
// code is neither useless on arrival nor a credential that lives on.
const (
	DefaultActivationTTL = 24 * time.Hour
	minActivationTTL     = 5 * time.Minute
	maxActivationTTL     = 7 * 24 * time.Hour
)

// TerminalRequest is the body of POST /v1/terminals.
type TerminalRequest struct {
	TerminalID string `json:"terminal_id"`
	SerialNo   string `json:"serial_no"`
	Model      string `json:"model"`
	RegionCode string `json:"region_code"`
	// ActivationExpiresIn is the activation code's lifetime in seconds.
	ActivationExpiresIn *int `json:"activation_expires_in"`
}

// ActivationCodeRequest is the body of POST /v1/terminals/{id}/activation_code.
type ActivationCodeRequest struct {
	ActivationExpiresIn *int `json:"activation_expires_in"`
}

// activationTTL validates activation_expires_in.
func activationTTL(in *int) (time.Duration, error) {
	if in == nil {
		return DefaultActivationTTL, nil
	}
	// Compared in seconds: a Duration of a large count would overflow
	// (and wrap into range).
	if *in < int(minActivationTTL/time.Second) || *in > int(maxActivationTTL/time.Second) {
		return 0, paygate.ParamErrorf(paygate.EPARAMINVALID, "activation_expires_in",
			"activation_expires_in must be %d-%d seconds", int(minActivationTTL.Seconds()), int(maxActivationTTL.Seconds()))
	}
	return time.Duration(*in) * time.Second, nil
}

// ActivationRequest is the body of POST /v1/terminals/activate.
type ActivationRequest struct {
	ActivationCode string `json:"activation_code"`
}

// activationAlphabet leaves out letters that read like digits.
const activationAlphabet = "ABCDEFGHJKMNPQRSTVWXYZ23456789"

// newActivationCode returns 20 characters (about 98 bits) in groups of
// four: typed on a terminal's keypad or scanned from a QR code.
func newActivationCode() (string, error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(activationAlphabet[int(c)%len(activationAlphabet)])
	}
	return sb.String(), nil
}

// codeHash is what the store keeps of an activation code. Codes are
// compared case-insensitively, without the dashes.
func codeHash(code string) string {
	norm := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
	sum := sha256.Sum256([]byte("paygate activation\n" + norm))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// merchantOnly refuses terminal keys.
func (s *Server) merchantOnly(c *gin.Context, what string) bool {
	if apiKey(c).TerminalID != "" {
		s.writeError(c, paygate.Errorf(paygate.EFORBIDDEN, "terminal keys cannot %s; use a merchant key", what))
		return false
	}
	return true
}

func (s *Server) createTerminal(c *gin.Context) {
	if !s.merchantOnly(c, "register terminals") {
		return
	}
	var in TerminalRequest
	if !s.decodeBody(c, &in) {
		return
	}
	m, ok := s.merchant(c)
	if !ok {
		return
	}
	if in.RegionCode == "" {
		in.RegionCode = m.RegionCode
	}
	var err error
	switch {
	case in.TerminalID == "":
		err = paygate.ParamErrorf(paygate.EPARAMMISSING, "terminal_id", "terminal_id is required")
	case !terminalPattern.MatchString(in.TerminalID):
		err = paygate.ParamErrorf(paygate.EPARAMINVALID, "terminal_id", "terminal_id must be 1-32 letters, digits, '_' or '-'")
	case in.SerialNo == "":
		err = paygate.ParamErrorf(paygate.EPARAMMISSING, "serial_no", "serial_no is required")
	case !regionPattern.MatchString(in.RegionCode):
		err = paygate.ParamErrorf(paygate.EPARAMINVALID, "region_code", "region_code must be a 6-digit division code")
	}
	if err == nil {
		err = checkLen("serial_no", in.SerialNo, 64)
	}
	if err == nil {
		err = checkLen("model", in.Model, 64)
	}
	var ttl time.Duration
	if err == nil {
		ttl, err = activationTTL(in.ActivationExpiresIn)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	ts := s.deps.Terminals
	ctx := c.Request.Context()
	if ts.Registered != nil && ts.Registered(ctx, m.ID, in.TerminalID) {
		s.writeError(c, paygate.ParamErrorf(paygate.ECONFLICT, "terminal_id", "terminal_id %q is already registered", in.TerminalID))
		return
	}
	code, err := newActivationCode()
	if err != nil {
		s.writeError(c, err)
		return
	}
	now := s.now()
	expires := now.Add(ttl)
	t := &paygate.Terminal{MerchantID: m.ID, TerminalID: in.TerminalID, SerialNo: in.SerialNo, Model: in.Model,
		RegionCode: in.RegionCode, Status: paygate.TerminalPendingActivation, CreatedAt: now,
		ActivationExpiresAt: &expires}
	if err := ts.Store.CreateTerminal(ctx, t, codeHash(code)); err != nil {
		s.writeError(c, err)
		return
	}
	s.writeWithCode(c, http.StatusCreated, t, code)
}

// reissueActivationCode gives a terminal still pending activation a new
// code; the previous one stops working.
func (s *Server) reissueActivationCode(c *gin.Context) {
	if !s.merchantOnly(c, "issue activation codes") {
		return
	}
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	var in ActivationCodeRequest
	if len(body) > 0 {
		if err := decodeStrict(body, &in); err != nil {
			s.writeError(c, err)
			return
		}
	}
	ttl, err := activationTTL(in.ActivationExpiresIn)
	if err != nil {
		s.writeError(c, err)
		return
	}
	code, err := newActivationCode()
	if err != nil {
		s.writeError(c, err)
		return
	}
	t, err := s.deps.Terminals.Store.ReissueActivationCode(c.Request.Context(), apiKey(c).MerchantID, c.Param("id"),
		codeHash(code), s.now().Add(ttl))
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeWithCode(c, http.StatusOK, t, code)
}

// writeWithCode answers the terminal with its new activation code. The
// code is shown once: what the idempotency record keeps for replay is the
// terminal without it, marked activation_code_withheld, so the plaintext
// code never sits in the database. A client that lost the answer asks for
// a new code.
func (s *Server) writeWithCode(c *gin.Context, status int, t *paygate.Terminal, code string) {
	withheld := *t
	withheld.ActivationCodeWithheld = true
	replay, err := json.Marshal(apijson.Terminal{Terminal: &withheld})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Set(replayBodyKey, replay)
	t.ActivationCode = code
	c.Header("Cache-Control", "no-store")
	c.JSON(status, apijson.Terminal{Terminal: t})
}

func (s *Server) getTerminal(c *gin.Context) {
	key := apiKey(c)
	t, err := s.deps.Terminals.Store.Terminal(c.Request.Context(), key.MerchantID, c.Param("id"))
	if err == nil && key.TerminalID != "" && t.TerminalID != key.TerminalID {
		err = paygate.Errorf(paygate.ENOTFOUND, "no such terminal: %s", c.Param("id"))
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, apijson.Terminal{Terminal: t})
}

func (s *Server) deactivateTerminal(c *gin.Context) {
	if !s.merchantOnly(c, "deactivate terminals") || !s.emptyBody(c) {
		return
	}
	key := apiKey(c)
	t, err := s.deps.Terminals.Store.DeactivateTerminal(c.Request.Context(), key.MerchantID, c.Param("id"), s.now())
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, apijson.Terminal{Terminal: t})
}

// activateTerminal exchanges a one-time activation code for the terminal's
// key. It is authenticated by the code alone (the terminal has no key yet),
// and its answer is never stored for idempotent replay: the key secret is
// shown once. A terminal that lost the answer is deactivated and
// registered again.
//
// Failed attempts are limited per client address and overall (see
// activation_limit.go); a successful activation does not count.
func (s *Server) activateTerminal(c *gin.Context) {
	if !s.activationAllowed(c) {
		return
	}
	t, secret, err := s.activate(c)
	if err != nil {
		s.countActivationFailure(c, err)
		s.writeError(c, err)
		return
	}
	s.writeActivation(c, t, secret)
}

func (s *Server) activate(c *gin.Context) (*paygate.Terminal, string, error) {
	body, err := s.body(c)
	if err != nil {
		return nil, "", err
	}
	var in ActivationRequest
	if err := decodeStrict(body, &in); err != nil {
		return nil, "", err
	}
	if in.ActivationCode == "" {
		return nil, "", paygate.ParamErrorf(paygate.EPARAMMISSING, "activation_code", "activation_code is required")
	}
	if len(in.ActivationCode) > 64 {
		return nil, "", paygate.ParamErrorf(paygate.EPARAMINVALID, "activation_code", "activation_code is not valid")
	}
	keyID, secret, sealed, err := s.newTerminalKey()
	if err != nil {
		return nil, "", err
	}
	t, err := s.deps.Terminals.Store.ActivateTerminal(c.Request.Context(), codeHash(in.ActivationCode), keyID, sealed, s.now())
	if err != nil {
		return nil, "", err
	}
	return t, secret, nil
}

// newTerminalKey makes a terminal key: its id, its secret and the secret
// sealed for storage.
func (s *Server) newTerminalKey() (keyID, secret, sealed string, err error) {
	suffix, err := randomHex(12)
	if err != nil {
		return "", "", "", err
	}
	raw, err := randomHex(32)
	if err != nil {
		return "", "", "", err
	}
	keyID, secret = TerminalKeyPrefix+suffix, "tsk_"+raw
	sealed, err = s.deps.Terminals.Box.Seal(keyID, secret)
	return keyID, secret, sealed, err
}

// writeActivation answers the terminal object plus its key secret, once.
func (s *Server) writeActivation(c *gin.Context, t *paygate.Terminal, secret string) {
	b, err := json.Marshal(apijson.Terminal{Terminal: t})
	if err == nil {
		var obj map[string]any
		if err = json.Unmarshal(b, &obj); err == nil {
			obj["key_secret"] = secret
			c.Header("Cache-Control", "no-store")
			c.JSON(http.StatusCreated, obj)
			return
		}
	}
	s.writeError(c, err)
}
