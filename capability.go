package paygate

import "slices"

// Request parameters a payment flow may need beyond the common ones
// (amount, subject, method). They are the order request's JSON names, so
// that a missing one is reported with that name as the error's param.
const (
	ParamAuthCode   = "auth_code"   // the customer's payment code (B-scan-C)
	ParamCard       = "card"        // card data (card.emv or card.token)
	ParamTerminalID = "terminal_id" // the POS terminal (ISO 8583 field 41, UnionPay termId)
	ParamPayerID    = "payer_id"    // the payer's id in the wallet (WeChat openid, Alipay buyer id)
	ParamClientIP   = "client_ip"   // the payer's IP address (WeChat H5)
)

// Flow is one payment method as a channel kind implements it.
type Flow struct {
	Method Method
	// Requires lists the request parameters the flow cannot start without.
	Requires []string
	// EntryModes are the card entry modes the flow takes (card only);
	// empty means every entry mode.
	EntryModes []string
}

// Takes reports whether the flow takes a card read with entry mode.
func (f *Flow) Takes(entryMode string) bool {
	return len(f.EntryModes) == 0 || slices.Contains(f.EntryModes, entryMode)
}

// Capabilities is what one channel kind's client implements: a flow per
// method it takes. A method without a flow is not offered: requests for it
// are refused before anything is written, and routing never picks a
// provider of the kind for it.
type Capabilities struct {
	Kind  string
	Flows []Flow
}

// Flow returns the kind's flow for method m.
func (c *Capabilities) Flow(m Method) (*Flow, bool) {
	for i := range c.Flows {
		if c.Flows[i].Method == m {
			return &c.Flows[i], true
		}
	}
	return nil, false
}

// ChannelKinds declares, once, what each channel kind's client implements
// (channels/<kind>/pay.go). Request validation and routing both read it; a
// client that learns a new method is declared here and nowhere else. The
// flows of a method whose channel routing chooses (card) require the same
// parameters in every kind, so that a request can be checked before the
// channel is known.
var ChannelKinds = []Capabilities{
	// WeChat Pay v3: codepay, native, jsapi prepay (payer.openid), h5
	// prepay (scene_info.payer_client_ip), app prepay. No desktop web flow.
	{Kind: KindWeChat, Flows: []Flow{
		{Method: MethodAuthCode, Requires: []string{ParamAuthCode}},
		{Method: MethodQR},
		{Method: MethodJSAPI, Requires: []string{ParamPayerID}},
		{Method: MethodH5, Requires: []string{ParamClientIP}},
		{Method: MethodApp},
	}},
	// Alipay: trade.pay, trade.precreate, trade.create (buyer_id or
	// buyer_open_id), wap pay, app pay, page pay.
	{Kind: KindAlipay, Flows: []Flow{
		{Method: MethodAuthCode, Requires: []string{ParamAuthCode}},
		{Method: MethodQR},
		{Method: MethodJSAPI, Requires: []string{ParamPayerID}},
		{Method: MethodH5},
		{Method: MethodApp},
		{Method: MethodWeb},
	}},
	// UnionPay acp: consume with the payer's code (qrNo), QR apply, the
	// in-app consume (the payer's UnionPay user id), the front-end consume
	// form (h5, web), and the QuickPass contactless card consume.
	{Kind: KindUnionPay, Flows: []Flow{
		{Method: MethodAuthCode, Requires: []string{ParamAuthCode}},
		{Method: MethodQR},
		{Method: MethodJSAPI, Requires: []string{ParamPayerID}},
		{Method: MethodH5},
		{Method: MethodWeb},
		{Method: MethodCard, Requires: []string{ParamCard, ParamTerminalID}, EntryModes: []string{EntryContactless}},
	}},
	// e-CNY: micropay (soft wallet code or hard wallet tap), precreate, and
	// the in-app trade (the payer's wallet id). No h5 or app flow.
	{Kind: KindECNY, Flows: []Flow{
		{Method: MethodAuthCode, Requires: []string{ParamAuthCode}},
		{Method: MethodQR},
		{Method: MethodJSAPI, Requires: []string{ParamPayerID}},
	}},
	// ISO 8583 acquirer: sale 0200, pre-authorisation 0100.
	{Kind: KindAcquirer, Flows: []Flow{
		{Method: MethodCard, Requires: []string{ParamCard, ParamTerminalID}},
	}},
}

// CapabilitiesOf returns what channel kind implements; false for an
// unknown kind.
func CapabilitiesOf(kind string) (*Capabilities, bool) {
	for i := range ChannelKinds {
		if ChannelKinds[i].Kind == kind {
			return &ChannelKinds[i], true
		}
	}
	return nil, false
}

// FlowOf returns kind's flow for method m; false when the kind is unknown
// or does not implement m.
func FlowOf(kind string, m Method) (*Flow, bool) {
	c, ok := CapabilitiesOf(kind)
	if !ok {
		return nil, false
	}
	return c.Flow(m)
}

// KindsFor lists the kinds that implement method m, in declaration order.
func KindsFor(m Method) []string {
	var kinds []string
	for i := range ChannelKinds {
		if _, ok := ChannelKinds[i].Flow(m); ok {
			kinds = append(kinds, ChannelKinds[i].Kind)
		}
	}
	return kinds
}
