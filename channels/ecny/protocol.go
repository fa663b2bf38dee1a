package ecny

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Protocol constants (docs/channels/ecny.md).
const (
	Version         = "1.0"
	SignType        = "SM2"
	SignatureHeader = "X-ECNY-Signature"

	LabelRequest  = "REQUEST"
	LabelResponse = "RESPONSE"
	LabelNotify   = "NOTIFY"

	// NotifyPath is the PATH element of a notification's signing string.
	NotifyPath = "/notify"

	// TimeLayout is the layout of head.timestamp and of times in bodies.
	TimeLayout = time.RFC3339
)

// Operation paths, relative to the bank's base URL.
const (
	PathMicropay     = "/v1/trade/micropay"
	PathPrecreate    = "/v1/trade/precreate"
	PathJSAPI        = "/v1/trade/jsapi"
	PathQuery        = "/v1/trade/query"
	PathCancel       = "/v1/trade/cancel"
	PathClose        = "/v1/trade/close"
	PathRefund       = "/v1/refund/apply"
	PathRefundQuery  = "/v1/refund/query"
	PathBillDownload = "/v1/bill/download"
)

// Notification types (head.notify_type).
const (
	NotifyTradeSuccess  = "TRADE_SUCCESS"
	NotifyRefundSuccess = "REFUND_SUCCESS"
)

// Result codes of head.code.
const (
	CodeOK               = "0000"
	CodeBadSignature     = "1001"
	CodeMalformed        = "1002"
	CodeUnknownMerchant  = "1003"
	CodeStaleTimestamp   = "1004"
	CodeInsufficient     = "2001"
	CodeInvalidCode      = "2002"
	CodeWalletFrozen     = "2003"
	CodeNotFound         = "2004"
	CodeDuplicateTradeNo = "2005"
	CodeRefundExceeds    = "2006"
	CodeInvalidState     = "2007"
	CodeSystemError      = "9999"
)

// Trade statuses.
const (
	TradeNotPay  = "NOTPAY"
	TradePaying  = "PAYING"
	TradeSuccess = "SUCCESS"
	TradeFailed  = "FAILED"
	TradeClosed  = "CLOSED"
	TradeRevoked = "REVOKED"
)

// Refund statuses.
const (
	RefundProcessing = "PROCESSING"
	RefundSuccess    = "SUCCESS"
	RefundFail       = "FAIL"
)

// Wallet types.
const (
	WalletSoft = "SOFT"
	WalletHard = "HARD"
)

// Bank time is China Standard Time; the zone is fixed (no DST).
var bankZone = time.FixedZone("CST", 8*3600)

// BankTime formats t as the protocol writes times.
func BankTime(t time.Time) string { return t.In(bankZone).Format(TimeLayout) }

// Head is the envelope head of requests, responses and notifications.
type Head struct {
	Version    string `json:"version"`
	MerchantNo string `json:"merchant_no"`
	RequestID  string `json:"request_id,omitempty"`
	NotifyID   string `json:"notify_id,omitempty"`
	NotifyType string `json:"notify_type,omitempty"`
	Timestamp  string `json:"timestamp"`
	SignType   string `json:"sign_type"`
	Code       string `json:"code,omitempty"`
	Message    string `json:"message,omitempty"`
}

// Envelope is every message of the protocol.
type Envelope struct {
	Head Head            `json:"head"`
	Body json.RawMessage `json:"body,omitempty"`
}

// MicropayRequest is the body of PathMicropay.
type MicropayRequest struct {
	OutTradeNo string `json:"out_trade_no"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	Subject    string `json:"subject"`
	AuthCode   string `json:"auth_code"`
	WalletType string `json:"wallet_type"`
	TerminalID string `json:"terminal_id,omitempty"`
	NotifyURL  string `json:"notify_url,omitempty"`
}

// PrecreateRequest is the body of PathPrecreate.
type PrecreateRequest struct {
	OutTradeNo string `json:"out_trade_no"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	Subject    string `json:"subject"`
	ExpireTime string `json:"expire_time,omitempty"`
	NotifyURL  string `json:"notify_url,omitempty"`
}

// JSAPIRequest is the body of PathJSAPI: a payment the payer confirms in
// the e-CNY app, which opened the merchant's page (the wallet id comes from
// the app's authorisation).
type JSAPIRequest struct {
	PrecreateRequest
	WalletID string `json:"wallet_id"`
}

// TradeRef names a trade (query, cancel, close).
type TradeRef struct {
	OutTradeNo string `json:"out_trade_no"`
}

// Trade is the bank's trade object.
type Trade struct {
	OutTradeNo  string `json:"out_trade_no"`
	TradeNo     string `json:"trade_no,omitempty"`
	TradeStatus string `json:"trade_status"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency,omitempty"`
	WalletType  string `json:"wallet_type,omitempty"`
	WalletID    string `json:"wallet_id,omitempty"`
	CodeURL     string `json:"code_url,omitempty"`
	PayRef      string `json:"pay_ref,omitempty"`
	PaidAt      string `json:"paid_at,omitempty"`
	FailCode    string `json:"fail_code,omitempty"`
	FailMessage string `json:"fail_message,omitempty"`
}

// RefundApply is the body of PathRefund.
type RefundApply struct {
	OutTradeNo   string `json:"out_trade_no"`
	OutRefundNo  string `json:"out_refund_no"`
	RefundAmount int64  `json:"refund_amount"`
	Reason       string `json:"reason,omitempty"`
	NotifyURL    string `json:"notify_url,omitempty"`
}

// RefundRef names a refund.
type RefundRef struct {
	OutRefundNo string `json:"out_refund_no"`
}

// RefundInfo is the bank's refund object.
type RefundInfo struct {
	OutTradeNo   string `json:"out_trade_no"`
	TradeNo      string `json:"trade_no,omitempty"`
	OutRefundNo  string `json:"out_refund_no"`
	RefundNo     string `json:"refund_no,omitempty"`
	RefundAmount int64  `json:"refund_amount"`
	RefundStatus string `json:"refund_status"`
	SuccessTime  string `json:"success_time,omitempty"`
	FailCode     string `json:"fail_code,omitempty"`
	FailMessage  string `json:"fail_message,omitempty"`
}

// BillRequest is the body of PathBillDownload.
type BillRequest struct {
	BillDate string `json:"bill_date"` // yyyyMMdd
}

// BillFile is the answer to PathBillDownload.
type BillFile struct {
	BillDate string `json:"bill_date"`
	Content  string `json:"content"` // base64
	Digest   string `json:"digest"`  // hex SM3 of the decoded content
}

// SigningBytes returns the string M that is signed: LABEL "\n" PATH "\n" BODY.
func SigningBytes(label, path string, body []byte) []byte {
	m := make([]byte, 0, len(label)+len(path)+2+len(body))
	m = append(m, label...)
	m = append(m, '\n')
	m = append(m, path...)
	m = append(m, '\n')
	return append(m, body...)
}

// uid is the SM2 user id of the protocol, GM/T 0009's default.
var uid = []byte("1234567812345678")

// Sign signs M with SM2 (SM3 over Z_A||M) and returns the base64 DER signature.
func Sign(key *sm2.PrivateKey, m []byte) (string, error) {
	sig, err := key.Sign(rand.Reader, m, sm2.NewSM2SignerOption(true, uid))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// Verify reports whether sig (base64 DER) is pub's SM2 signature of M.
func Verify(pub *ecdsa.PublicKey, m []byte, sig string) bool {
	der, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(der) == 0 {
		return false
	}
	return sm2.VerifyASN1WithSM2(pub, uid, m, der)
}

// ParsePrivateKey reads an SM2 private key from PEM (PKCS#8, or SEC 1
// "EC PRIVATE KEY" with the SM2 curve).
func ParsePrivateKey(pemText string) (*sm2.PrivateKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := smx509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		sk, ok := k.(*sm2.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("not an SM2 key: %T", k)
		}
		return sk, nil
	case "EC PRIVATE KEY":
		return smx509.ParseSM2PrivateKey(block.Bytes)
	}
	return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
}

// ParsePublicKey reads an SM2 public key from PEM (SubjectPublicKeyInfo).
func ParsePublicKey(pemText string) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
	}
	k, err := smx509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pk, ok := k.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pk) {
		return nil, fmt.Errorf("not an SM2 public key: %T", k)
	}
	return pk, nil
}

// MarshalPrivateKey encodes key as PKCS#8 PEM.
func MarshalPrivateKey(key *sm2.PrivateKey) (string, error) {
	der, err := smx509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// MarshalPublicKey encodes pub as SubjectPublicKeyInfo PEM.
func MarshalPublicKey(pub *ecdsa.PublicKey) (string, error) {
	der, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// WalletTypeOf returns the wallet type of a payment code: tap codes of hard
// wallets start "019", everything else is a soft wallet's code.
func WalletTypeOf(code string) string {
	if len(code) >= 3 && code[:3] == "019" {
		return WalletHard
	}
	return WalletSoft
}
