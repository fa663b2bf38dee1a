package paygate

import "strings"

// AuthCodeRule recognises a wallet's payment code (付款码) by its length and
// its two-digit prefix.
type AuthCodeRule struct {
	Channel  string
	Length   []int    // accepted lengths
	Prefixes []string // accepted leading digits
}

// DefaultAuthCodeRules are the defaults (docs/configuration.md, auth_codes): WeChat 18 digits starting
// 10-15; Alipay 16-24 digits starting 25-30; UnionPay 19 digits starting 62;
// e-CNY 19 digits starting 01.
var DefaultAuthCodeRules = []AuthCodeRule{
	{Channel: KindWeChat, Length: []int{18}, Prefixes: []string{"10", "11", "12", "13", "14", "15"}},
	{Channel: KindAlipay, Length: []int{16, 17, 18, 19, 20, 21, 22, 23, 24}, Prefixes: []string{"25", "26", "27", "28", "29", "30"}},
	{Channel: KindUnionPay, Length: []int{19}, Prefixes: []string{"62"}},
	{Channel: KindECNY, Length: []int{19}, Prefixes: []string{"01"}},
}

// DetectAuthCode returns the channel kind of a payment code, or ok=false if
// no rule matches or the code is not all digits.
func DetectAuthCode(rules []AuthCodeRule, code string) (channel string, ok bool) {
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	for _, r := range rules {
		lenOK := false
		for _, n := range r.Length {
			lenOK = lenOK || len(code) == n
		}
		if !lenOK {
			continue
		}
		for _, p := range r.Prefixes {
			if strings.HasPrefix(code, p) {
				return r.Channel, true
			}
		}
	}
	return "", false
}
