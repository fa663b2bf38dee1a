package wechat

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/paygate-cn/paygate"
)

// MaxCallbackBytes is the largest callback body accepted.
const MaxCallbackBytes = 64 << 10

// CallbackSkew is how far a callback's Wechatpay-Timestamp may be from now.
const CallbackSkew = 5 * time.Minute

// Notification event types.
const (
	EventTransactionSuccess = "TRANSACTION.SUCCESS"
	EventRefundSuccess      = "REFUND.SUCCESS"
	EventRefundAbnormal     = "REFUND.ABNORMAL"
	EventRefundClosed       = "REFUND.CLOSED"
)

// notify is the outer JSON of a v3 notification.
type notify struct {
	ID           string          `json:"id"`
	CreateTime   string          `json:"create_time"`
	EventType    string          `json:"event_type"`
	ResourceType string          `json:"resource_type"`
	Summary      string          `json:"summary"`
	Resource     *notifyResource `json:"resource"`
}

type notifyResource struct {
	Algorithm      string `json:"algorithm"`
	OriginalType   string `json:"original_type"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
}

// paidTransaction is the decrypted resource of TRANSACTION.SUCCESS.
type paidTransaction struct {
	Mchid          string `json:"mchid"`
	OutTradeNo     string `json:"out_trade_no"`
	TransactionID  string `json:"transaction_id"`
	TradeState     string `json:"trade_state"`
	TradeStateDesc string `json:"trade_state_desc"`
	SuccessTime    string `json:"success_time"`
	Payer          *struct {
		Openid string `json:"openid"`
	} `json:"payer"`
	Amount *struct {
		Total int64 `json:"total"`
	} `json:"amount"`
}

// refundedTransaction is the decrypted resource of REFUND.*.
type refundedTransaction struct {
	Mchid        string `json:"mchid"`
	OutTradeNo   string `json:"out_trade_no"`
	OutRefundNo  string `json:"out_refund_no"`
	RefundID     string `json:"refund_id"`
	RefundStatus string `json:"refund_status"`
	SuccessTime  string `json:"success_time"`
	Amount       *struct {
		Refund int64 `json:"refund"`
	} `json:"amount"`
}

func invalidSig(msg string) error {
	return paygate.Errorf(paygate.EINVALIDSIG, "wechat callback: %s", msg)
}
func invalid(msg string) error { return paygate.Errorf(paygate.EINVALID, "wechat callback: %s", msg) }

// ParseCallback verifies, decrypts and classifies a WeChat Pay v3
// notification. Returns EINVALIDSIG for a forged or tampered callback,
// ESTALETIMESTAMP for a stale one, and EINVALID for a malformed one.
func (c *Client) ParseCallback(ctx context.Context, header http.Header, body []byte) (*paygate.Notification, error) {
	if len(body) > MaxCallbackBytes {
		return nil, invalid("body too large")
	}
	ts, nonce := header.Get("Wechatpay-Timestamp"), header.Get("Wechatpay-Nonce")
	sig, serial := header.Get("Wechatpay-Signature"), header.Get("Wechatpay-Serial")
	if ts == "" || nonce == "" || sig == "" || serial == "" {
		return nil, invalidSig("signature headers missing")
	}
	if serial != c.platforID {
		return nil, invalidSig("signed with an unknown key")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, invalidSig("bad timestamp")
	}
	if d := c.now().Sub(time.Unix(sec, 0)); d > CallbackSkew || d < -CallbackSkew {
		return nil, paygate.Errorf(paygate.ESTALETIMESTAMP, "wechat callback: timestamp outside the allowed window")
	}
	if err := verifyRSA(c.platform, ts, nonce, string(body), sig); err != nil {
		return nil, invalidSig(err.Error())
	}
	return c.parseVerified(body)
}

// parseVerified decrypts and classifies a notification whose signature has
// been verified. Returns EINVALID for anything malformed.
func (c *Client) parseVerified(body []byte) (*paygate.Notification, error) {
	var n notify
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, invalid("body is not JSON")
	}
	if n.ID == "" || n.Resource == nil {
		return nil, invalid("id or resource missing")
	}
	if n.Resource.Algorithm != "AEAD_AES_256_GCM" {
		return nil, invalid("unsupported algorithm")
	}
	plain, err := c.decrypt(n.Resource)
	if err != nil {
		return nil, invalid("resource does not decrypt")
	}
	out := &paygate.Notification{ID: n.ID, Provider: c.id}
	switch n.EventType {
	case EventTransactionSuccess:
		var t paidTransaction
		if err := json.Unmarshal(plain, &t); err != nil || t.OutTradeNo == "" {
			return nil, invalid("transaction resource malformed")
		}
		if t.Mchid != c.mchid {
			return nil, invalid("notification for another merchant")
		}
		out.OrderID = t.OutTradeNo
		r := &paygate.Result{ChannelTradeNo: t.TransactionID}
		if t.Amount != nil {
			r.Amount = t.Amount.Total
		}
		if t.Payer != nil {
			r.PayerID = t.Payer.Openid
		}
		res, err := c.tradeResult("callback", t.TradeState, t.TradeStateDesc, t.TransactionID, t.SuccessTime, nil, nil)
		if err != nil {
			return nil, invalid("unknown trade_state")
		}
		r.Outcome, r.PaidAt, r.Failure = res.Outcome, res.PaidAt, res.Failure
		out.Result = r
	case EventRefundSuccess, EventRefundAbnormal, EventRefundClosed:
		var t refundedTransaction
		if err := json.Unmarshal(plain, &t); err != nil || t.OutRefundNo == "" {
			return nil, invalid("refund resource malformed")
		}
		if t.Mchid != c.mchid {
			return nil, invalid("notification for another merchant")
		}
		res, err := c.refundResult("callback", t.RefundStatus, t.RefundID, t.SuccessTime, nil)
		if err != nil {
			return nil, invalid("unknown refund_status")
		}
		if t.Amount != nil {
			res.Amount = t.Amount.Refund
		}
		out.RefundID = t.OutRefundNo
		out.OrderID = t.OutTradeNo
		out.Refund = res
	default:
		return nil, invalid("unsupported event_type")
	}
	return out, nil
}

// decrypt opens an AEAD_AES_256_GCM resource with the APIv3 key.
func (c *Client) decrypt(r *notifyResource) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(r.Ciphertext)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(c.apiV3Key)
	if err != nil {
		return nil, err
	}
	if len(r.Nonce) == 0 {
		return nil, errors.New("empty nonce")
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(r.Nonce))
	if err != nil {
		return nil, err
	}
	return gcm.Open(nil, []byte(r.Nonce), ct, []byte(r.AssociatedData))
}

// CallbackReply answers WeChat: 204 with no body when the notification was
// taken, otherwise an error status with {"code":"FAIL","message":...} so that
// WeChat retries.
func (c *Client) CallbackReply(err error) (status int, contentType string, body []byte) {
	if err == nil {
		return http.StatusNoContent, "", nil
	}
	status = http.StatusInternalServerError
	switch paygate.ErrorCode(err) {
	case paygate.EINVALIDSIG, paygate.ESTALETIMESTAMP:
		status = http.StatusUnauthorized
	case paygate.EINVALID:
		status = http.StatusBadRequest
	}
	body, _ = json.Marshal(map[string]string{"code": "FAIL", "message": paygate.ErrorMessage(err)})
	return status, "application/json", body
}
