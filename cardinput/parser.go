package cardinput

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/paygate-cn/paygate"
)

// SandboxTokenPrefix starts a sandbox card token: "tok_sandbox_" + PAN +
// "_" + expiry YYMM. It stands in for a token vault so that an integration
// can send card.token before it reads real cards; outside sandbox mode
// tokens are refused.
const SandboxTokenPrefix = "tok_sandbox_"

// maxEMVHex bounds card.emv before it is decoded.
const maxEMVHex = 1024

// Parser parses card input. Its zero value is not usable: see New.
type Parser struct {
	fingerprintKey []byte // HMAC key of card fingerprints
	sandbox        bool   // accept sandbox card tokens
}

// New returns a parser whose fingerprints are keyed with fingerprintKey
// (derived from the server secret, so that replicas sharing a database
// agree) and which accepts sandbox tokens when sandbox is set.
func New(fingerprintKey []byte, sandbox bool) *Parser {
	return &Parser{fingerprintKey: fingerprintKey, sandbox: sandbox}
}

// Parse checks in and returns the card's data and the information an order
// keeps of it. Errors are *paygate.Error with the parameter at fault.
func (p *Parser) Parse(in *paygate.CardInput) (*paygate.CardData, *paygate.CardInfo, error) {
	switch in.EntryMode {
	case "":
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "card.entry_mode", "card.entry_mode is required (contactless, chip or swipe)")
	case paygate.EntryContactless, paygate.EntryChip, paygate.EntrySwipe:
	default:
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.entry_mode", "card.entry_mode must be contactless, chip or swipe")
	}
	if in.Type != "" && in.Type != paygate.CardCredit && in.Type != paygate.CardDebit {
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.type", "card.type must be credit or debit")
	}
	var data paygate.CardData
	var err error
	switch {
	case in.EMV != "" && in.Token != "":
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.token", "send card.emv or card.token, not both")
	case in.EMV != "":
		if len(in.EMV) > maxEMVHex {
			return nil, nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.emv", "card.emv is longer than 1024 hex characters")
		}
		data, err = ParseEMV(in.EMV)
	case in.Token != "":
		data, err = p.parseToken(in.Token)
	default:
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "card.emv", "card.emv (hex EMV TLV) or card.token is required")
	}
	if err != nil {
		return nil, nil, err
	}
	info := &paygate.CardInfo{EntryMode: in.EntryMode, BIN: data.PAN[:6], Last4: data.PAN[len(data.PAN)-4:]}
	bin := lookupBIN(data.PAN)
	switch {
	case in.Network != "" && bin.network != "" && in.Network != bin.network:
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.network", "card.network %q does not match the card number's network", truncateParam(in.Network))
	case bin.network != "":
		info.Network = bin.network
	case in.Network != "":
		if len(in.Network) > 20 {
			return nil, nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.network", "card.network is too long")
		}
		info.Network = in.Network
	default:
		info.Network = paygate.NetworkUnionPay
	}
	switch {
	case in.Type != "":
		info.Type = in.Type
	case bin.cardType != "":
		info.Type = bin.cardType
	default:
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "card.type", "the card's type is not known from its BIN; card.type (credit or debit) is required")
	}
	mac := hmac.New(sha256.New, p.fingerprintKey)
	mac.Write([]byte(data.PAN))
	info.Fingerprint = hex.EncodeToString(mac.Sum(nil))
	return &data, info, nil
}

func truncateParam(s string) string {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}

// parseToken resolves a sandbox card token.
func (p *Parser) parseToken(tok string) (paygate.CardData, error) {
	bad := paygate.ParamErrorf(paygate.EPARAMINVALID, "card.token", "card.token is not a valid sandbox card token (tok_sandbox_<PAN>_<YYMM>)")
	if !p.sandbox {
		return paygate.CardData{}, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.token", "card tokens are accepted in sandbox mode only; send card.emv")
	}
	rest, ok := strings.CutPrefix(tok, SandboxTokenPrefix)
	if !ok {
		return paygate.CardData{}, bad
	}
	pan, expiry, ok := strings.Cut(rest, "_")
	if !ok || len(expiry) != 4 || !digits(expiry) || expiry[2:] < "01" || expiry[2:] > "12" || !paygate.ValidPAN(pan) {
		return paygate.CardData{}, bad
	}
	return paygate.CardData{PAN: pan, Expiry: expiry}, nil
}

// digits reports whether s is one or more ASCII digits.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
