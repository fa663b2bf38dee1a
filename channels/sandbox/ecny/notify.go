package ecny

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	api "github.com/paygate-cn/paygate/channels/ecny"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

const noticeContentType = "application/json; charset=utf-8"

// notify sends a notification to url (else Options.NotifyURL) in the
// background. Every attempt is re-stamped and re-signed; notify_id stays.
func (s *Server) notify(typ string, body any, url string, copies int) {
	if url == "" {
		url = s.opts.NotifyURL
	}
	if url == "" {
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		return
	}
	notifyID := "N" + randomHex(15)
	s.notifier.Send(sandbox.Delivery{
		Copies: copies,
		Build: func(ctx context.Context) (*http.Request, error) {
			raw, sig, err := s.signEnvelope(s.noticeHead(typ, notifyID), b)
			if err != nil {
				return nil, err
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", noticeContentType)
			req.Header.Set(api.SignatureHeader, sig)
			return req, nil
		},
		Accepted: func(status int, body []byte) bool {
			var ack struct {
				Code string `json:"code"`
			}
			return status == http.StatusOK && json.Unmarshal(body, &ack) == nil && ack.Code == "SUCCESS"
		},
	})
}

// noticeHead is the head of a notification stamped now.
func (s *Server) noticeHead(typ, notifyID string) api.Head {
	return api.Head{Version: api.Version, MerchantNo: s.opts.MerchantNo, NotifyID: notifyID,
		NotifyType: typ, Timestamp: api.BankTime(s.wall()), SignType: api.SignType}
}

// signEnvelope encodes a notification and signs it with the bank's key.
func (s *Server) signEnvelope(head any, body json.RawMessage) (raw []byte, sig string, err error) {
	raw, err = json.Marshal(struct {
		Head any             `json:"head"`
		Body json.RawMessage `json:"body,omitempty"`
	}{head, body})
	if err != nil {
		return nil, "", err
	}
	sig, err = api.Sign(s.bankKey, api.SigningBytes(api.LabelNotify, api.NotifyPath, raw))
	return raw, sig, err
}

// TradeNotice returns the trade notification of out_trade_no as it would be
// sent now, unsigned, as {"head": {...}, "body": {...}}; ok is false for an
// unknown trade. A test aid, with SignNotice.
func (s *Server) TradeNotice(outTradeNo string) (notice map[string]any, ok bool) {
	s.mu.Lock()
	t := s.trades[outTradeNo]
	var tr api.Trade
	if t != nil {
		s.settle(t)
		tr = t.Trade
	}
	s.mu.Unlock()
	if t == nil {
		return nil, false
	}
	return s.notice(api.NotifyTradeSuccess, tr)
}

// RefundNotice returns the REFUND_SUCCESS notification of out_refund_no as
// it is sent when the refund succeeds, now for one still processing,
// unsigned, as {"head": {...}, "body": {...}}; ok is false for an unknown
// refund. A test aid, with SignRefundNotice.
func (s *Server) RefundNotice(outRefundNo string) (notice map[string]any, ok bool) {
	s.mu.Lock()
	rf := s.refunds[outRefundNo]
	var info api.RefundInfo
	if rf != nil {
		info = rf.RefundInfo
		if info.RefundStatus != api.RefundSuccess {
			info.RefundStatus, info.SuccessTime = api.RefundSuccess, api.BankTime(s.now())
		}
	}
	s.mu.Unlock()
	if rf == nil {
		return nil, false
	}
	return s.notice(api.NotifyRefundSuccess, info)
}

// notice is a notification of type typ carrying body, stamped now, as the
// generic {"head": {...}, "body": {...}} a test edits.
func (s *Server) notice(typ string, body any) (map[string]any, bool) {
	var head, b map[string]any
	hj, _ := json.Marshal(s.noticeHead(typ, "N"+randomHex(15)))
	bj, _ := json.Marshal(body)
	if json.Unmarshal(hj, &head) != nil || json.Unmarshal(bj, &b) != nil {
		return nil, false
	}
	return map[string]any{"head": head, "body": b}, true
}

// SetRefundDelay makes refunds requested from now on stay PROCESSING for d
// before they succeed and are notified; 0, the default, succeeds them at
// once.
func (s *Server) SetRefundDelay(d time.Duration) {
	s.mu.Lock()
	s.opts.RefundDelay = d
	s.mu.Unlock()
}

// SignRefundNotice returns the headers and body of the refund notification
// notice, signed as the simulator's own are. Refund and trade notifications
// share one envelope, so this is SignNotice; a test aid like it.
func (s *Server) SignRefundNotice(notice map[string]any) (http.Header, []byte) {
	return s.SignNotice(notice)
}

// SignNotice returns the headers and body of the notification notice
// ({"head": ..., "body": ...}), signed with the bank's SM2 key as the
// simulator's own are. A test aid: with notice edited, it crafts
// notifications that are correctly signed yet wrong (another amount, another
// merchant).
func (s *Server) SignNotice(notice map[string]any) (http.Header, []byte) {
	b, err := json.Marshal(notice["body"])
	if err != nil {
		panic("ecny sandbox: " + err.Error())
	}
	raw, sig, err := s.signEnvelope(notice["head"], b)
	if err != nil {
		panic("ecny sandbox: signing failed: " + err.Error())
	}
	h := http.Header{}
	h.Set("Content-Type", noticeContentType)
	h.Set(api.SignatureHeader, sig)
	return h, raw
}
