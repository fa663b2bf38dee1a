package wechat

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"

	v3 "github.com/go-pay/gopay/wechat/v3"

	"github.com/paygate-cn/paygate"
)

// TestSimulatorCertificatesAndQueryByID: the simulator lists its platform
// certificate (decrypted with the APIv3 key, its key the one answers are
// verified with), answers a query by transaction id, and signs its 404s.
func TestSimulatorCertificatesAndQueryByID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	certPEM, serial := e.sim.PlatformCertificate()
	got, certs, err := e.client.wx.GetAndSelectNewestCert()
	if err != nil || got != serial {
		t.Fatalf("certificates: %q %v, want serial %s", got, err, serial)
	}
	if strings.TrimSpace(certs[serial]) != strings.TrimSpace(certPEM) {
		t.Fatalf("listed certificate differs: %q", certs[serial])
	}
	block, _ := pem.Decode([]byte(certPEM))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if strings.TrimSpace(e.sim.Credentials()["platform_public_key"]) != strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))) {
		t.Fatal("the certificate's key is not the platform public key")
	}

	res, err := e.client.Pay(context.Background(), authCodeReq("134567890123456789"))
	if err != nil || res.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("pay: %+v %v", res, err)
	}
	q, err := e.client.wx.V3TransactionQueryOrder(context.Background(), v3.TransactionId, res.ChannelTradeNo)
	if err != nil || q.Code != v3.Success || q.Response.TransactionId != res.ChannelTradeNo || !e.client.signedAnswer(q.SignInfo) {
		t.Fatalf("query by transaction id: %+v %v", q, err)
	}
	q, err = e.client.wx.V3TransactionQueryOrder(context.Background(), v3.TransactionId, "4200000000000000000000000000")
	if err != nil || q.Code != http.StatusNotFound || q.ErrResponse.Code != "ORDER_NOT_EXIST" || !e.client.signedAnswer(q.SignInfo) {
		t.Fatalf("unknown transaction id: %+v %v", q, err)
	}
	resp, err := http.Get(e.base + "/no/such/path")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Wechatpay-Signature") == "" {
		t.Fatalf("unknown path: %d %v", resp.StatusCode, resp.Header)
	}
}
