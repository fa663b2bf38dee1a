package wechat

import (
	"encoding/pem"
	"errors"
	"net/http"
	"time"

	"github.com/paygate-cn/paygate/channels/sandbox"
)

// notFound answers any path WeChat Pay does not serve: 404 with a signed
// JSON error body, as every answer of the platform is signed.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.reply(w, http.StatusNotFound, errBody("NOT_FOUND", "请求的资源不存在"))
}

// queryByID serves GET /v3/pay/transactions/id/{id}?mchid=.
func (s *Server) queryByID(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("mchid") != s.opts.MchID {
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "mchid 无效"))
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.trades {
		if t.transactionID == id && id != "" {
			s.settleLocked(t)
			s.reply(w, http.StatusOK, s.tradeJSON(t))
			return
		}
	}
	s.reply(w, http.StatusNotFound, errBody("ORDER_NOT_EXIST", "订单不存在"))
}

// certificates serves GET /v3/certificates: the platform certificate,
// encrypted with AEAD_AES_256_GCM under the APIv3 key (associated data
// "certificate"), in an answer signed under the certificate's serial.
func (s *Server) certificates(w http.ResponseWriter, r *http.Request) {
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.platformCert})
	res := s.encrypt("certificate", cert)
	notBefore, notAfter := s.certValidity()
	w.Header().Set("Wechatpay-Serial", s.platformSerial)
	s.reply(w, http.StatusOK, map[string]any{"data": []any{map[string]any{
		"serial_no":      s.platformSerial,
		"effective_time": s.timeString(notBefore),
		"expire_time":    s.timeString(notAfter),
		"encrypt_certificate": map[string]string{
			"algorithm": res.Algorithm, "nonce": res.Nonce,
			"associated_data": res.AssociatedData, "ciphertext": res.Ciphertext,
		},
	}}})
}

func (s *Server) certValidity() (time.Time, time.Time) {
	c, err := parseCert(s.platformCert)
	if err != nil {
		return time.Time{}, time.Time{}
	}
	return c.NotBefore, c.NotAfter
}

// confirmable describes a JSAPI, App or h5 prepay (ref: its prepay_id)
// for the confirm page and returns how to pay it; called with s.mu held.
func (s *Server) confirmable(ref string) (sandbox.ConfirmInfo, func(), error) {
	t, ok := s.trades[s.codes[ref]]
	if !ok || ref == "" || t.tradeType == "NATIVE" {
		return sandbox.ConfirmInfo{}, nil, sandbox.ErrUnknownRef
	}
	s.settleLocked(t)
	info := sandbox.ConfirmInfo{Subject: t.description, Amount: t.total}
	if t.state != stateNotPay {
		return info, nil, errors.New("订单状态为 " + t.state)
	}
	return info, func() { s.paidLocked(t, 1) }, nil
}
