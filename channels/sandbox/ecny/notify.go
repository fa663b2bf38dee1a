package ecny

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	api "github.com/paygate-cn/paygate/channels/ecny"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

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
			raw, err := json.Marshal(api.Envelope{
				Head: api.Head{Version: api.Version, MerchantNo: s.opts.MerchantNo, NotifyID: notifyID,
					NotifyType: typ, Timestamp: api.BankTime(s.now()), SignType: api.SignType},
				Body: b,
			})
			if err != nil {
				return nil, err
			}
			sig, err := api.Sign(s.bankKey, api.SigningBytes(api.LabelNotify, api.NotifyPath, raw))
			if err != nil {
				return nil, err
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
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
