package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
)

// Terminals manages POS terminals: a merchant registers one, the terminal
// activates itself with the one-time code and receives its own key, and
// the merchant can deactivate it (revoking the key).
type Terminals struct {
	Store paygate.TerminalStore
	Box   *SecretBox
	Now   paygate.Clock
	// Registered reports a terminal id the configuration already binds for
	// the merchant; such ids cannot be registered again. Nil: none.
	Registered func(ctx context.Context, merchantID, terminalID string) bool
}

// TerminalRequest is the body of POST /v1/terminals.
type TerminalRequest struct {
	TerminalID string `json:"terminal_id"`
	SerialNo   string `json:"serial_no"`
	Model      string `json:"model"`
	RegionCode string `json:"region_code"`
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
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	var in TerminalRequest
	if err := decodeStrict(body, &in); err != nil {
		s.writeError(c, err)
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
	t := &paygate.Terminal{MerchantID: m.ID, TerminalID: in.TerminalID, SerialNo: in.SerialNo, Model: in.Model,
		RegionCode: in.RegionCode, Status: paygate.TerminalPendingActivation, CreatedAt: s.now()}
	if err := ts.Store.CreateTerminal(ctx, t, codeHash(code)); err != nil {
		s.writeError(c, err)
		return
	}
	t.ActivationCode = code
	c.JSON(http.StatusCreated, t)
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
	c.JSON(http.StatusOK, t)
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
	c.JSON(http.StatusOK, t)
}

// activateTerminal exchanges a one-time activation code for the terminal's
// key. It is authenticated by the code alone (the terminal has no key yet),
// and its answer is never stored for idempotent replay: the key secret is
// shown once. A terminal that lost the answer is deactivated and
// registered again.
func (s *Server) activateTerminal(c *gin.Context) {
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	var in ActivationRequest
	if err := decodeStrict(body, &in); err != nil {
		s.writeError(c, err)
		return
	}
	if in.ActivationCode == "" {
		s.writeError(c, paygate.ParamErrorf(paygate.EPARAMMISSING, "activation_code", "activation_code is required"))
		return
	}
	if len(in.ActivationCode) > 64 {
		s.writeError(c, paygate.ParamErrorf(paygate.EPARAMINVALID, "activation_code", "activation_code is not valid"))
		return
	}
	keyID, secret, sealed, err := s.newTerminalKey()
	if err != nil {
		s.writeError(c, err)
		return
	}
	t, err := s.deps.Terminals.Store.ActivateTerminal(c.Request.Context(), codeHash(in.ActivationCode), keyID, sealed, s.now())
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeActivation(c, t, secret)
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
	b, err := json.Marshal(t)
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
