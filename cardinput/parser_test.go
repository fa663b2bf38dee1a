package cardinput_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/cardinput"
)

var fpKey = []byte("0123456789abcdef0123456789abcdef")

// Card numbers with a valid Luhn check digit.
const (
	icbcDebit   = "6222020000000007"    // 622202: debit in the BIN table
	cmbCredit   = "6225880000000001"    // 622588: credit
	unknownUP   = "6200000000000005"    // UnionPay range, BIN not in the table
	visaTest    = "4111111111111111"    // Visa test card
	mastercard2 = "2221000000000009"    // Mastercard 2-series
	jcb         = "3530111333300000"    // JCB
	other19     = "9000000000000000001" // no known network, 19 digits
)

func tlv(tag string, value []byte) string {
	return tag + fmt.Sprintf("%02X", len(value)) + strings.ToUpper(hex.EncodeToString(value))
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// emv is the TLV a chip or contactless read gives: PAN (5A), expiry (5F24)
// and some ICC data.
func emv(pan, yymmdd string) string {
	if len(pan)%2 == 1 {
		pan += "F"
	}
	return tlv("5A", mustHex(pan)) + tlv("5F24", mustHex(yymmdd)) + tlv("82", mustHex("1980")) + tlv("9F36", mustHex("0042"))
}

func fingerprint(pan string) string {
	m := hmac.New(sha256.New, fpKey)
	m.Write([]byte(pan))
	return hex.EncodeToString(m.Sum(nil))
}

func TestParse(t *testing.T) {
	p := cardinput.New(fpKey, false)
	for _, tc := range []struct {
		name             string
		in               paygate.CardInput
		pan, expiry      string
		network, cardTyp string
	}{
		{"debit by BIN", paygate.CardInput{EntryMode: paygate.EntryChip, EMV: emv(icbcDebit, "301231")}, icbcDebit, "3012", paygate.NetworkUnionPay, paygate.CardDebit},
		{"credit by BIN", paygate.CardInput{EntryMode: paygate.EntryContactless, EMV: emv(cmbCredit, "281130")}, cmbCredit, "2811", paygate.NetworkUnionPay, paygate.CardCredit},
		{"type from the terminal wins", paygate.CardInput{EntryMode: paygate.EntryChip, Type: paygate.CardCredit, EMV: emv(icbcDebit, "301231")}, icbcDebit, "3012", paygate.NetworkUnionPay, paygate.CardCredit},
		{"unknown BIN with a type", paygate.CardInput{EntryMode: paygate.EntryChip, Type: paygate.CardDebit, EMV: emv(unknownUP, "301231")}, unknownUP, "3012", paygate.NetworkUnionPay, paygate.CardDebit},
		{"visa", paygate.CardInput{EntryMode: paygate.EntryChip, EMV: emv(visaTest, "301231")}, visaTest, "3012", "visa", paygate.CardCredit},
		{"mastercard 2-series", paygate.CardInput{EntryMode: paygate.EntryChip, Type: paygate.CardCredit, EMV: emv(mastercard2, "301231")}, mastercard2, "3012", "mastercard", paygate.CardCredit},
		{"network named as the number's", paygate.CardInput{EntryMode: paygate.EntryChip, Network: "jcb", Type: paygate.CardCredit, EMV: emv(jcb, "301231")}, jcb, "3012", "jcb", paygate.CardCredit},
		{"outside the ranges: the request's network", paygate.CardInput{EntryMode: paygate.EntryChip, Network: "local", Type: paygate.CardDebit, EMV: emv(other19, "301231")}, other19, "3012", "local", paygate.CardDebit},
		{"outside the ranges: unionpay by default", paygate.CardInput{EntryMode: paygate.EntryChip, Type: paygate.CardDebit, EMV: emv(other19, "301231")}, other19, "3012", paygate.NetworkUnionPay, paygate.CardDebit},
		{"swipe: track 2", paygate.CardInput{EntryMode: paygate.EntrySwipe, EMV: tlv("57", mustHex(icbcDebit+"D30122010000"))}, icbcDebit, "3012", paygate.NetworkUnionPay, paygate.CardDebit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, info, err := p.Parse(&tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if data.PAN != tc.pan || data.Expiry != tc.expiry {
				t.Errorf("data %s %s", data.PAN, data.Expiry)
			}
			want := paygate.CardInfo{EntryMode: tc.in.EntryMode, Type: tc.cardTyp, Network: tc.network,
				BIN: tc.pan[:6], Last4: tc.pan[len(tc.pan)-4:], Fingerprint: fingerprint(tc.pan)}
			if *info != want {
				t.Errorf("info %+v, want %+v", *info, want)
			}
		})
	}
}

// Fingerprints are keyed: the same card under another key is another
// fingerprint, and it never contains the number.
func TestFingerprintKeyed(t *testing.T) {
	in := &paygate.CardInput{EntryMode: paygate.EntryChip, EMV: emv(icbcDebit, "301231")}
	_, a, _ := cardinput.New(fpKey, false).Parse(in)
	_, b, _ := cardinput.New([]byte("another key of thirty-two bytes!"), false).Parse(in)
	_, again, _ := cardinput.New(fpKey, false).Parse(in)
	if a.Fingerprint == b.Fingerprint || a.Fingerprint != again.Fingerprint || strings.Contains(a.Fingerprint, icbcDebit) {
		t.Fatalf("fingerprints %s %s %s", a.Fingerprint, b.Fingerprint, again.Fingerprint)
	}
}

func TestSandboxTokens(t *testing.T) {
	tok := cardinput.SandboxTokenPrefix + cmbCredit + "_3012"
	in := &paygate.CardInput{EntryMode: paygate.EntryContactless, Token: tok}
	data, info, err := cardinput.New(fpKey, true).Parse(in)
	if err != nil || data.PAN != cmbCredit || data.Expiry != "3012" || info.Type != paygate.CardCredit || info.Last4 != "0001" {
		t.Fatalf("sandbox token: %v %+v %v", data, info, err)
	}
	if _, _, err := cardinput.New(fpKey, false).Parse(in); !isParamError(err, paygate.EPARAMINVALID, "card.token") ||
		!strings.Contains(err.Error(), "sandbox mode only") {
		t.Fatalf("a token outside sandbox mode: %v", err)
	}
}

func isParamError(err error, code, param string) bool {
	e, ok := err.(*paygate.Error)
	return ok && e.Code == code && e.Param == param
}

func TestParseRefuses(t *testing.T) {
	good := emv(icbcDebit, "301231")
	badLuhn := icbcDebit[:15] + "8"
	p := cardinput.New(fpKey, true)
	for _, tc := range []struct {
		name        string
		in          paygate.CardInput
		code, param string
	}{
		{"no entry mode", paygate.CardInput{EMV: good}, paygate.EPARAMMISSING, "card.entry_mode"},
		{"unknown entry mode", paygate.CardInput{EntryMode: "magstripe", EMV: good}, paygate.EPARAMINVALID, "card.entry_mode"},
		{"unknown type", paygate.CardInput{EntryMode: paygate.EntryChip, Type: "prepaid", EMV: good}, paygate.EPARAMINVALID, "card.type"},
		{"emv and token", paygate.CardInput{EntryMode: paygate.EntryChip, EMV: good, Token: cardinput.SandboxTokenPrefix + icbcDebit + "_3012"}, paygate.EPARAMINVALID, "card.token"},
		{"neither emv nor token", paygate.CardInput{EntryMode: paygate.EntryChip}, paygate.EPARAMMISSING, "card.emv"},
		{"emv too long", paygate.CardInput{EntryMode: paygate.EntryChip, EMV: good + strings.Repeat("00", 513)}, paygate.EPARAMINVALID, "card.emv"},
		{"emv not hex", paygate.CardInput{EntryMode: paygate.EntryChip, EMV: "5A08ZZ"}, paygate.EPARAMINVALID, "card.emv"},
		{"emv odd hex", paygate.CardInput{EntryMode: paygate.EntryChip, EMV: "5A0"}, paygate.EPARAMINVALID, "card.emv"},
		{"emv bad Luhn", paygate.CardInput{EntryMode: paygate.EntryChip, EMV: emv(badLuhn, "301231")}, paygate.EPARAMINVALID, "card.emv"},
		{"emv without 5A", paygate.CardInput{EntryMode: paygate.EntryChip, EMV: tlv("5F24", mustHex("301231")) + tlv("82", mustHex("1980"))}, paygate.EPARAMINVALID, "card.emv"},
		{"emv truncated", paygate.CardInput{EntryMode: paygate.EntryChip, EMV: good[:20]}, paygate.EPARAMINVALID, "card.emv"},
		{"emv month 13", paygate.CardInput{EntryMode: paygate.EntryChip, EMV: emv(icbcDebit, "301331")}, paygate.EPARAMINVALID, "card.emv"},
		{"token bad prefix", paygate.CardInput{EntryMode: paygate.EntryChip, Token: "tok_live_" + icbcDebit + "_3012"}, paygate.EPARAMINVALID, "card.token"},
		{"token bad Luhn", paygate.CardInput{EntryMode: paygate.EntryChip, Token: cardinput.SandboxTokenPrefix + badLuhn + "_3012"}, paygate.EPARAMINVALID, "card.token"},
		{"token bad expiry", paygate.CardInput{EntryMode: paygate.EntryChip, Token: cardinput.SandboxTokenPrefix + icbcDebit + "_3013"}, paygate.EPARAMINVALID, "card.token"},
		{"token no expiry", paygate.CardInput{EntryMode: paygate.EntryChip, Token: cardinput.SandboxTokenPrefix + icbcDebit}, paygate.EPARAMINVALID, "card.token"},
		{"network not the number's", paygate.CardInput{EntryMode: paygate.EntryChip, Network: "visa", EMV: good}, paygate.EPARAMINVALID, "card.network"},
		{"network too long", paygate.CardInput{EntryMode: paygate.EntryChip, Network: strings.Repeat("n", 21), Type: paygate.CardDebit, EMV: emv(other19, "301231")}, paygate.EPARAMINVALID, "card.network"},
		{"type unknown from the BIN", paygate.CardInput{EntryMode: paygate.EntryChip, EMV: emv(unknownUP, "301231")}, paygate.EPARAMMISSING, "card.type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, info, err := p.Parse(&tc.in)
			if !isParamError(err, tc.code, tc.param) || data != nil || info != nil {
				t.Fatalf("Parse = %v %v %v, want %s on %s", data, info, err, tc.code, tc.param)
			}
			for _, pan := range []string{icbcDebit, badLuhn, unknownUP, other19} {
				if strings.Contains(err.Error(), pan) {
					t.Fatalf("the error carries the card number: %v", err)
				}
			}
		})
	}
}

// FuzzParse feeds arbitrary card input to the parser: it must never panic,
// refuse only with a parameter error, and accept only a card whose number
// is valid and whose kept information matches it.
func FuzzParse(f *testing.F) {
	f.Add(paygate.EntryChip, "", "", emv(icbcDebit, "301231"), "")
	f.Add(paygate.EntrySwipe, "", "", tlv("57", mustHex(icbcDebit+"D30122010000")), "")
	f.Add(paygate.EntryContactless, paygate.CardCredit, "visa", emv(visaTest, "301231"), "")
	f.Add(paygate.EntryContactless, "", "", "", cardinput.SandboxTokenPrefix+cmbCredit+"_3012")
	f.Add(paygate.EntryChip, paygate.CardDebit, "local", emv(other19, "301231"), "")
	p := cardinput.New(fpKey, true)
	f.Fuzz(func(t *testing.T, mode, typ, network, emvHex, token string) {
		in := &paygate.CardInput{EntryMode: mode, Type: typ, Network: network, EMV: emvHex, Token: token}
		data, info, err := p.Parse(in)
		if err != nil {
			var e *paygate.Error
			if pe, ok := err.(*paygate.Error); ok {
				e = pe
			}
			if e == nil || (e.Code != paygate.EPARAMINVALID && e.Code != paygate.EPARAMMISSING) || !strings.HasPrefix(e.Param, "card.") {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		if !paygate.ValidPAN(data.PAN) || len(data.Expiry) != 4 || info.BIN != data.PAN[:6] ||
			info.Last4 != data.PAN[len(data.PAN)-4:] || info.Fingerprint != fingerprint(data.PAN) ||
			(info.Type != paygate.CardCredit && info.Type != paygate.CardDebit) || info.Network == "" || info.EntryMode != mode {
			t.Fatalf("accepted %+v as %v %+v", in, data, info)
		}
	})
}
