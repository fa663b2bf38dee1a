package ecny_test

// An independent check of the simulator against docs/channels/ecny.md,
// written from the document alone: it shares no code with paygate's e-CNY
// client (its own signing string, digest and envelope handling), using only
// the SM2/SM3 primitives of the gmsm library.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/paygate-cn/paygate/channels/sandbox"
	bank "github.com/paygate-cn/paygate/channels/sandbox/ecny"
)

// docUID is the SM2 user id the document prescribes.
const docUID = "1234567812345678"

// docMessage is the document's signing string M = LABEL \n PATH \n BODY.
func docMessage(label, path string, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString(label)
	b.WriteByte('\n')
	b.WriteString(path)
	b.WriteByte('\n')
	b.Write(body)
	return b.Bytes()
}

// docDigest is e = SM3(Z_A || M) of GB/T 32918.2.
func docDigest(t *testing.T, pub *ecdsa.PublicKey, m []byte) []byte {
	t.Helper()
	za, err := sm2.CalculateZA(pub, []byte(docUID))
	if err != nil {
		t.Fatal(err)
	}
	h := sm3.New()
	h.Write(za)
	h.Write(m)
	return h.Sum(nil)
}

func docSign(t *testing.T, key *sm2.PrivateKey, m []byte) string {
	t.Helper()
	der, err := sm2.SignASN1(rand.Reader, key, docDigest(t, &key.PublicKey, m), nil)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func docVerify(t *testing.T, pub *ecdsa.PublicKey, m []byte, header string) bool {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(header)
	if err != nil || header == "" {
		return false
	}
	return sm2.VerifyASN1(pub, docDigest(t, pub, m), der)
}

func pemBytes(t *testing.T, text, typ string) []byte {
	t.Helper()
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != typ {
		t.Fatalf("credential is not a PEM %q block", typ)
	}
	return block.Bytes
}

type docEnvelope struct {
	Head map[string]string `json:"head"`
	Body json.RawMessage   `json:"body"`
}

func TestSignaturesFollowTheDocument(t *testing.T) {
	notes := make(chan *http.Request, 8)
	bodies := make(chan []byte, 8)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		notes <- r
		bodies <- b
		io.WriteString(w, `{"code":"SUCCESS"}`)
	}))
	defer receiver.Close()
	notifier := sandbox.NewNotifier()
	defer notifier.Close()
	b, err := bank.New(bank.Options{MerchantNo: "898310000000077", NotifyURL: receiver.URL, Notifier: notifier})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()

	creds := b.Credentials()
	if len(creds) != 3 || creds["merchant_no"] != "898310000000077" {
		t.Fatalf("credentials %v", keys(creds))
	}
	anyKey, err := smx509.ParsePKCS8PrivateKey(pemBytes(t, creds["private_key"], "PRIVATE KEY"))
	if err != nil {
		t.Fatal(err)
	}
	merchantKey := anyKey.(*sm2.PrivateKey)
	anyPub, err := smx509.ParsePKIXPublicKey(pemBytes(t, creds["bank_public_key"], "PUBLIC KEY"))
	if err != nil {
		t.Fatal(err)
	}
	bankPub := anyPub.(*ecdsa.PublicKey)

	post := func(path, body, sig string) (int, []byte, docEnvelope) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("x-ecny-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if !docVerify(t, bankPub, docMessage("RESPONSE", path, raw), resp.Header.Get("X-ECNY-Signature")) {
			t.Fatalf("%s: response signature does not verify per the document: %s", path, raw)
		}
		var env docEnvelope
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, raw, env
	}
	envelope := func(requestID, body string) string {
		return fmt.Sprintf(`{"head":{"version":"1.0","merchant_no":"898310000000077","request_id":%q,"timestamp":%q,"sign_type":"SM2"},"body":%s}`,
			requestID, time.Now().In(time.FixedZone("", 8*3600)).Format(time.RFC3339), body)
	}

	// A payment signed per the document is accepted; the answer is signed.
	const path = "/v1/trade/micropay"
	pay := envelope("req-fidelity-0001", `{"out_trade_no":"fid1","amount":888,"currency":"CNY","subject":"tea","auth_code":"0112345678901234321","wallet_type":"SOFT"}`)
	status, _, env := post(path, pay, docSign(t, merchantKey, docMessage("REQUEST", path, []byte(pay))))
	if status != 200 || env.Head["code"] != "0000" || env.Head["request_id"] != "req-fidelity-0001" || env.Head["sign_type"] != "SM2" {
		t.Fatalf("payment: HTTP %d head %v", status, env.Head)
	}
	var trade map[string]any
	json.Unmarshal(env.Body, &trade)
	if trade["trade_status"] != "SUCCESS" || trade["amount"] != float64(888) {
		t.Fatalf("trade %v", trade)
	}

	// Signed for another path, or with the bank's label: 1001, still signed.
	for _, sig := range []string{
		docSign(t, merchantKey, docMessage("REQUEST", "/v1/trade/query", []byte(pay))),
		docSign(t, merchantKey, docMessage("RESPONSE", path, []byte(pay))),
		"",
	} {
		status, _, env = post(path, pay, sig)
		if status != http.StatusUnauthorized || env.Head["code"] != "1001" {
			t.Fatalf("bad signature: HTTP %d head %v", status, env.Head)
		}
	}

	// Envelope errors are answered with their documented codes, signed.
	for _, tc := range []struct {
		name, body, code string
		status           int
	}{
		{"unknown merchant", strings.Replace(pay, "898310000000077", "898310000000078", 1), "1003", 403},
		{"stale timestamp", strings.Replace(pay, time.Now().In(time.FixedZone("", 8*3600)).Format("2006-01-02"), "2020-01-01", 1), "1004", 400},
		{"no body", strings.Replace(pay, `"body":`, `"bodx":`, 1), "1002", 400},
		{"wrong sign_type", strings.Replace(pay, `"SM2"`, `"RSA2"`, 1), "1002", 400},
		{"reused out_trade_no", strings.Replace(pay, `"amount":888`, `"amount":889`, 1), "2005", 200},
	} {
		status, _, env := post(path, tc.body, docSign(t, merchantKey, docMessage("REQUEST", path, []byte(tc.body))))
		if status != tc.status || env.Head["code"] != tc.code {
			t.Fatalf("%s: HTTP %d head %v, want %d %s", tc.name, status, env.Head, tc.status, tc.code)
		}
	}

	// The notification is signed with LABEL NOTIFY and PATH /notify.
	select {
	case r := <-notes:
		body := <-bodies
		if !docVerify(t, bankPub, docMessage("NOTIFY", "/notify", body), r.Header.Get("X-ECNY-Signature")) {
			t.Fatalf("notification signature does not verify per the document: %s", body)
		}
		var n docEnvelope
		json.Unmarshal(body, &n)
		if n.Head["notify_id"] == "" || n.Head["notify_type"] != "TRADE_SUCCESS" || n.Head["merchant_no"] != "898310000000077" {
			t.Fatalf("notification head %v", n.Head)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
	}

	// The bill's digest is SM3 of the file, and the file is as documented.
	const billPath = "/v1/bill/download"
	date := time.Now().In(time.FixedZone("", 8*3600)).Format("20060102")
	req := envelope("req-fidelity-0002", fmt.Sprintf(`{"bill_date":%q}`, date))
	status, _, env = post(billPath, req, docSign(t, merchantKey, docMessage("REQUEST", billPath, []byte(req))))
	var bill struct{ BillDate, Content, Digest string }
	if err := json.Unmarshal(env.Body, &bill); err != nil || status != 200 {
		t.Fatalf("bill: HTTP %d %v", status, err)
	}
	file, _ := base64.StdEncoding.DecodeString(bill.Content)
	sum := sm3.Sum(file)
	if bill.Digest != hex.EncodeToString(sum[:]) {
		t.Fatal("bill digest is not SM3 of the file")
	}
	lines := strings.Split(strings.TrimSuffix(string(file), "\n"), "\n")
	if lines[0] != "ECNYBILL|1.0|898310000000077|"+date || lines[len(lines)-1] != "TOTAL|1|888|0|0|0" ||
		!strings.Contains(lines[2], "|PAY|fid1|") || !strings.HasSuffix(lines[2], "|SOFT|"+maskedWallet(lines[2])+"|888|0|SUCCESS") {
		t.Fatalf("bill file:\n%s", file)
	}
}

func maskedWallet(line string) string {
	f := strings.Split(line, "|")
	if len(f) != 11 || len(f[7]) != 16 || f[7][4:12] != "********" {
		return "<not a masked wallet id>"
	}
	return f[7]
}

func keys(m map[string]string) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	return k
}
