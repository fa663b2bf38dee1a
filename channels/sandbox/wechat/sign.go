package wechat

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paygate-cn/paygate/channels/sandbox"
)

const authScheme = "WECHATPAY2-SHA256-RSA2048"

// maxRequestBytes bounds a request body.
const maxRequestBytes = 1 << 20

type bodyKey struct{}

// authenticate verifies the merchant's Authorization header over the
// canonical request message "METHOD\nURL\ntimestamp\nnonce\nbody\n" and
// answers 401 SIGN_ERROR when it does not verify.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
		if err != nil || len(body) > maxRequestBytes {
			s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "请求体无效"))
			return
		}
		if r.Header.Get("Wechatpay-Serial") == s.platformSerial || r.URL.Path == "/v3/certificates" {
			w.Header().Set("Wechatpay-Serial", s.platformSerial) // read back by reply
		}
		if msg := s.checkAuth(r, body); msg != "" {
			s.reply(w, http.StatusUnauthorized, errBody("SIGN_ERROR", msg))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bodyKey{}, body)))
	})
}

func requestBody(r *http.Request) []byte {
	b, _ := r.Context().Value(bodyKey{}).([]byte)
	return b
}

// checkAuth returns "" when the request is signed by the merchant.
func (s *Server) checkAuth(r *http.Request, body []byte) string {
	h := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(h, authScheme+" ")
	if !ok {
		return "Authorization 缺失或认证类型错误"
	}
	params := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return "Authorization 格式错误"
		}
		params[k] = strings.Trim(v, `"`)
	}
	if params["mchid"] != s.opts.MchID {
		return "商户号不匹配"
	}
	if params["serial_no"] != s.merchantSerial {
		return "商户证书序列号不匹配"
	}
	sec, err := strconv.ParseInt(params["timestamp"], 10, 64)
	if err != nil {
		return "timestamp 无效"
	}
	if d := s.wall().Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return "timestamp 超出有效期"
	}
	if params["nonce_str"] == "" {
		return "nonce_str 缺失"
	}
	sig, err := base64.StdEncoding.DecodeString(params["signature"])
	if err != nil {
		return "signature 无效"
	}
	msg := r.Method + "\n" + r.URL.RequestURI() + "\n" + params["timestamp"] + "\n" + params["nonce_str"] + "\n" + string(body) + "\n"
	sum := sha256.Sum256([]byte(msg))
	if rsa.VerifyPKCS1v15(&s.merchantKey.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return "签名错误"
	}
	return ""
}

// sign returns the Wechatpay-* headers for body, naming the platform
// public key id.
func (s *Server) sign(body []byte) http.Header { return s.signAs(body, s.platformKeyID) }

// signAs returns the Wechatpay-* headers for body naming serial: the
// public key id, or the platform certificate's serial number for clients
// in certificate mode.
func (s *Server) signAs(body []byte, serial string) http.Header {
	ts := strconv.FormatInt(s.wall().Unix(), 10)
	nonce := randomString(32)
	sum := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.platformKey, crypto.SHA256, sum[:])
	if err != nil {
		panic("wechat sandbox: signing failed: " + err.Error())
	}
	h := http.Header{}
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
	h.Set("Wechatpay-Serial", serial)
	h.Set("Wechatpay-Signature-Type", authScheme)
	return h
}

// reply writes a signed JSON answer (no body when v is nil).
func (s *Server) reply(w http.ResponseWriter, status int, v any) {
	var body []byte
	if v != nil {
		body, _ = json.Marshal(v)
	}
	// A client that named the platform certificate (certificate mode, and
	// every /v3/certificates answer) gets answers signed under its serial.
	serial := s.platformKeyID
	if w.Header().Get("Wechatpay-Serial") == s.platformSerial {
		serial = s.platformSerial
	}
	for k, vs := range s.signAs(body, serial) {
		w.Header()[k] = vs
	}
	w.Header().Set("Request-ID", randomString(24))
	if body != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func errBody(code, msg string) apiError { return apiError{Code: code, Message: msg} }

// notification is the outer JSON of a v3 notification.
type notification struct {
	ID           string   `json:"id"`
	CreateTime   string   `json:"create_time"`
	ResourceType string   `json:"resource_type"`
	EventType    string   `json:"event_type"`
	Summary      string   `json:"summary"`
	Resource     resource `json:"resource"`
}

type resource struct {
	OriginalType   string `json:"original_type"`
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
}

// encrypt seals plaintext with AEAD_AES_256_GCM under the APIv3 key.
func (s *Server) encrypt(originalType string, plain []byte) resource {
	block, _ := aes.NewCipher(s.apiV3Key)
	gcm, _ := cipher.NewGCM(block)
	nonce := randomString(12)
	ct := gcm.Seal(nil, []byte(nonce), plain, []byte(originalType))
	return resource{
		OriginalType:   originalType,
		Algorithm:      "AEAD_AES_256_GCM",
		Ciphertext:     base64.StdEncoding.EncodeToString(ct),
		AssociatedData: originalType,
		Nonce:          nonce,
	}
}

// notify sends a notification to url in the background; each attempt is
// signed anew, the body (and so its id) stays the same.
func (s *Server) notify(url, eventType, summary, originalType string, payload any, copies int) {
	if url == "" {
		return
	}
	body := s.notification(eventType, summary, originalType, payload)
	s.notifier.Send(sandbox.Delivery{
		Copies: copies,
		Build: func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header = s.sign(body)
			req.Header.Set("Content-Type", "application/json")
			return req, nil
		},
		Accepted: func(status int, _ []byte) bool {
			return status == http.StatusOK || status == http.StatusNoContent
		},
	})
}

// notification is the body of a notification carrying payload, encrypted.
func (s *Server) notification(eventType, summary, originalType string, payload any) []byte {
	plain, _ := json.Marshal(payload)
	n := notification{
		ID:           randomUUID(),
		CreateTime:   s.now().In(beijing).Format(time.RFC3339),
		ResourceType: "encrypt-resource",
		EventType:    eventType,
		Summary:      summary,
		Resource:     s.encrypt(originalType, plain),
	}
	body, _ := json.Marshal(n)
	return body
}

// TradeNotice returns the resource a payment notification of the trade
// out_trade_no carries (decrypted), as it would be sent now; ok is false for
// an unknown trade. A test aid, with SignNotice.
func (s *Server) TradeNotice(outTradeNo string) (resource map[string]any, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.trades[outTradeNo]
	if !ok {
		return nil, false
	}
	return s.tradeJSON(t), true
}

// SignNotice returns the headers and body of a TRANSACTION.SUCCESS
// notification of resource, encrypted and signed as the simulator's own
// are. A test aid: with resource edited, it crafts callbacks that are
// correctly signed yet wrong (another amount, another merchant).
func (s *Server) SignNotice(resource map[string]any) (http.Header, []byte) {
	body := s.notification("TRANSACTION.SUCCESS", "支付成功", "transaction", resource)
	h := s.sign(body)
	h.Set("Content-Type", "application/json")
	return h, body
}

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hexLower(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func hexLower(b []byte) string { return strings.ToLower(hexUpper(b)) }
