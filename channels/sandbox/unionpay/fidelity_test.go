package unionpay_test

// An independent check of the simulator's signatures, written from the
// platform's specification (signMethod 01: SHA256withRSA over the hex
// SHA-256 of the sorted key=value string). It shares no code with the
// client package: its own request signing, answer parsing, canonical string
// and RSA verification, using only the standard library.

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	sbup "github.com/paygate-cn/paygate/channels/sandbox/unionpay"
)

func specString(m map[string]string) string {
	var keys []string
	for k := range m {
		if k != "signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, "&")
}

func specHash(m map[string]string) []byte {
	h := sha256.Sum256([]byte(specString(m)))
	hx := hex.EncodeToString(h[:])
	d := sha256.Sum256([]byte(hx))
	return d[:]
}

func specSign(t *testing.T, m map[string]string, keyPEM string) {
	blk, _ := pem.Decode([]byte(keyPEM))
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.(*rsa.PrivateKey), crypto.SHA256, specHash(m))
	if err != nil {
		t.Fatal(err)
	}
	m["signature"] = base64.StdEncoding.EncodeToString(sig)
}

func specVerify(t *testing.T, what string, m map[string]string, pubPEM, certID string) {
	t.Helper()
	blk, _ := pem.Decode([]byte(pubPEM))
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if m["certId"] != certID {
		t.Fatalf("%s: certId %q, want %q", what, m["certId"], certID)
	}
	sig, err := base64.StdEncoding.DecodeString(m["signature"])
	if err != nil {
		t.Fatalf("%s: signature not base64", what)
	}
	if err := rsa.VerifyPKCS1v15(k.(*rsa.PublicKey), crypto.SHA256, specHash(m), sig); err != nil {
		t.Fatalf("%s: signature does not verify: %v", what, err)
	}
}

// specAnswer splits a synchronous answer: raw pairs, '&' outside braces.
func specAnswer(t *testing.T, body string) map[string]string {
	m := map[string]string{}
	depth, last := 0, 0
	for i := 0; i <= len(body); i++ {
		if i < len(body) {
			if body[i] == '{' {
				depth++
			} else if body[i] == '}' {
				depth--
			}
			if body[i] != '&' || depth > 0 {
				continue
			}
		}
		kv := body[last:i]
		last = i + 1
		j := strings.IndexByte(kv, '=')
		if j <= 0 {
			t.Fatalf("bad pair %q", kv)
		}
		m[kv[:j]] = kv[j+1:]
	}
	return m
}

func TestSignaturesFollowTheSpec(t *testing.T) {
	notifies := make(chan url.Values, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		notifies <- r.PostForm
	}))
	defer recv.Close()
	sim, err := sbup.New(sbup.Options{NotifyURL: recv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	cred := sim.Credentials()

	post := func(path string, m map[string]string) map[string]string {
		form := url.Values{}
		for k, v := range m {
			form.Set(k, v)
		}
		resp, err := http.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return specAnswer(t, string(b))
	}

	// an unsigned request: the platform refuses it (11), and signs that answer
	bad := post("/gateway/api/backTransReq.do", map[string]string{"version": "5.1.0", "merId": cred["mer_id"], "certId": cred["cert_id"], "signature": "AAAA"})
	if bad["respCode"] != "11" {
		t.Fatalf("unsigned request answered %q", bad["respCode"])
	}
	specVerify(t, "refusal", bad, cred["unionpay_public_key"], cred["unionpay_cert_id"])

	// a consume signed by this file's own code is accepted and answered signed
	req := map[string]string{
		"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "certId": cred["cert_id"], "merId": cred["mer_id"],
		"txnType": "01", "txnSubType": "06", "bizType": "000000", "accessType": "0", "channelType": "08",
		"orderId": "ordspec0000000000000000001", "txnTime": time.Now().Format("20060102150405"),
		"txnAmt": "100", "currencyCode": "156", "qrNo": "6212345678901230001",
	}
	specSign(t, req, cred["private_key"])
	ans := post("/gateway/api/backTransReq.do", req)
	if ans["respCode"] != "00" || ans["queryId"] == "" {
		t.Fatalf("consume answered %v", ans)
	}
	specVerify(t, "consume answer", ans, cred["unionpay_public_key"], cred["unionpay_cert_id"])

	// the backUrl notify
	select {
	case form := <-notifies:
		m := map[string]string{}
		for k := range form {
			m[k] = form.Get(k)
		}
		if m["txnAmt"] != "100" || m["respCode"] != "00" {
			t.Fatalf("notify %v", m)
		}
		specVerify(t, "notify", m, cred["unionpay_public_key"], cred["unionpay_cert_id"])
	case <-time.After(10 * time.Second):
		t.Fatal("no notify")
	}
}
