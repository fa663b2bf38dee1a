package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/acquirer"
	"github.com/paygate-cn/paygate/channels/alipay"
	"github.com/paygate-cn/paygate/channels/ecny"
	"github.com/paygate-cn/paygate/channels/unionpay"
	"github.com/paygate-cn/paygate/channels/wechat"
	"github.com/paygate-cn/paygate/gateway"
)

// newChannel builds the client of a configured provider by its kind. The
// acquirer client stamps its messages and a sale's time with now, the
// gateway's clock (the wallets report the channel's own times).
func newChannel(spec paygate.ProviderSpec, now paygate.Clock) (paygate.Channel, error) {
	switch spec.Kind {
	case paygate.KindWeChat:
		return wechat.New(spec)
	case paygate.KindAlipay:
		return alipay.New(spec)
	case paygate.KindUnionPay:
		return unionpay.New(spec)
	case paygate.KindECNY:
		return ecny.New(spec)
	case paygate.KindAcquirer:
		return acquirer.New(spec, acquirer.WithClock(now))
	}
	return nil, fmt.Errorf("kind %q is not supported by this build", spec.Kind)
}

// cardParser turns a card-present order's card input into the card data
// the channel needs (in memory only) and the card information the order
// keeps: entry mode, type, network, BIN, last 4 and a fingerprint. See
// docs/terminals.md for the rules.
type cardParser struct {
	fingerprintKey []byte // derived from the server secret
	sandbox        bool   // accept sandbox card tokens
}

// newCardParser returns the gateway's ParseCard hook.
func newCardParser(serverSecret []byte, sandbox bool) func(in *paygate.CardInput) (*paygate.CardData, *paygate.CardInfo, error) {
	p := &cardParser{fingerprintKey: gateway.DeriveKey(serverSecret, gateway.PurposeCardFingerprint), sandbox: sandbox}
	return p.parse
}

// SandboxTokenPrefix starts a sandbox card token: "tok_sandbox_" + PAN +
// "_" + expiry YYMM. It stands in for a token vault so that an integration
// can send card.token before it reads real cards; outside sandbox mode
// tokens are refused.
const SandboxTokenPrefix = "tok_sandbox_"

func (p *cardParser) parse(in *paygate.CardInput) (*paygate.CardData, *paygate.CardInfo, error) {
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
		if len(in.EMV) > 1024 {
			return nil, nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.emv", "card.emv is longer than 1024 hex characters")
		}
		data, err = acquirer.ParseEMV(in.EMV)
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
func (p *cardParser) parseToken(tok string) (paygate.CardData, error) {
	bad := paygate.ParamErrorf(paygate.EPARAMINVALID, "card.token", "card.token is not a valid sandbox card token (tok_sandbox_<PAN>_<YYMM>)")
	if !p.sandbox {
		return paygate.CardData{}, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.token", "card tokens are accepted in sandbox mode only; send card.emv")
	}
	rest, ok := strings.CutPrefix(tok, SandboxTokenPrefix)
	if !ok {
		return paygate.CardData{}, bad
	}
	pan, expiry, ok := strings.Cut(rest, "_")
	if !ok || len(expiry) != 4 || !allDigits(expiry) || expiry[2:] < "01" || expiry[2:] > "12" || !luhnValid(pan) {
		return paygate.CardData{}, bad
	}
	return paygate.CardData{PAN: pan, Expiry: expiry}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// luhnValid checks 13-19 digits and the Luhn check digit.
func luhnValid(pan string) bool {
	if len(pan) < 13 || len(pan) > 19 || !allDigits(pan) {
		return false
	}
	sum, double := 0, false
	for i := len(pan) - 1; i >= 0; i-- {
		d := int(pan[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

type binInfo struct {
	network  string // "" when the prefix is not recognised
	cardType string // "" when the BIN table does not know it
}

// binTypes is the small built-in table of BINs whose card type is known
// (issuer BIN lists are licensed data; a deployment that needs more sends
// card.type from the terminal, which reads it from the card application).
var binTypes = map[string]string{
	"622202": paygate.CardDebit,  // ICBC debit
	"621700": paygate.CardDebit,  // CCB debit
	"622848": paygate.CardDebit,  // ABC debit
	"621483": paygate.CardDebit,  // CMB debit
	"622588": paygate.CardCredit, // CMB credit
	"625965": paygate.CardCredit, // UnionPay credit (sandbox)
	"411111": paygate.CardCredit, // Visa test card
	"555555": paygate.CardCredit, // Mastercard test card
}

// lookupBIN classifies a card number by its leading digits: the network
// from the IIN ranges, the type from binTypes.
func lookupBIN(pan string) binInfo {
	b := binInfo{cardType: binTypes[pan[:6]]}
	two, _ := strconv.Atoi(pan[:2])
	four, _ := strconv.Atoi(pan[:4])
	switch {
	case pan[:2] == "62" || pan[:2] == "81":
		b.network = paygate.NetworkUnionPay
	case pan[0] == '4':
		b.network = "visa"
	case two >= 51 && two <= 55, four >= 2221 && four <= 2720:
		b.network = "mastercard"
	case four >= 3528 && four <= 3589:
		b.network = "jcb"
	case two == 34 || two == 37:
		b.network = "amex"
	}
	return b
}
