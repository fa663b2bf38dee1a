package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/gateway/apitest"
	"gopkg.in/yaml.v3"
)

// The example configuration (paygate config example) starts the full
// gateway against PostgreSQL, Redis and the channel simulators, and takes
// a payment. Only what must differ is changed: each provider's base_url
// points at the simulators (the acquirer that the example reaches over
// tls:// at a TLS front of the simulated host), and every credential the
// example names gets the simulators' value — in the environment variable
// or file the example names, or in place of a literal. A credential name
// the example got wrong has no simulator value and fails the test; a name
// it lacks fails the start.
func TestExampleConfigServes(t *testing.T) {
	gwAddr := freeAddr(t)
	gwURL := "http://" + gwAddr
	sb, err := StartSandbox(SandboxOptions{PublicURL: gwURL})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	simURL := "http://" + ln.Addr().String()
	e := gin.New()
	sb.Mount(e)
	sims := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go sims.Serve(ln)
	defer sims.Close()
	front, caPEM := startTLSFront(t, sb.Acquirer.Addr())

	var doc map[string]any
	if err := yaml.Unmarshal(config.Example(), &doc); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := map[string]string{}
	put := func(ref, value string) string { // the value, stored where ref says
		switch {
		case strings.HasPrefix(ref, "env:"):
			env[strings.TrimPrefix(ref, "env:")] = value
			return ref
		case strings.HasPrefix(ref, "file:"):
			path := filepath.Join(dir, strings.TrimPrefix(ref, "file:"))
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(value+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return ref
		}
		return value
	}
	sim := map[string]paygate.ProviderSpec{}
	for _, p := range sb.Providers {
		sim[p.Kind] = p
	}
	for _, raw := range doc["providers"].([]any) {
		p := raw.(map[string]any)
		kind := p["kind"].(string)
		s, ok := sim[kind]
		if !ok {
			t.Fatalf("no simulator for kind %s", kind)
		}
		switch base, _ := p["base_url"].(string); {
		case kind != paygate.KindAcquirer:
			p["base_url"] = strings.Replace(s.BaseURL, gwURL, simURL, 1)
		case strings.HasPrefix(base, "tls://"):
			p["base_url"] = "tls://" + front.addr
		default:
			p["base_url"] = "tcp://" + sb.Acquirer.Addr()
		}
		creds := p["credentials"].(map[string]any)
		for name, ref := range creds {
			value, ok := s.Credentials[name]
			if kind == paygate.KindAcquirer && name == "tls_ca_cert" {
				value, ok = caPEM, true
			}
			if !ok {
				t.Fatalf("provider %s: the example's credential %q is not one the %s simulator issues", p["id"], name, kind)
			}
			creds[name] = put(ref.(string), value)
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "paygate.yaml")
	if err := os.WriteFile(cfgPath, out, 0o600); err != nil {
		t.Fatal(err)
	}
	// Every other secret the example reads (API keys, webhook secrets).
	for _, m := range regexp.MustCompile(`"((?:env|file):[^"]+)"`).FindAllStringSubmatch(string(config.Example()), -1) {
		name := strings.TrimPrefix(m[1], "env:")
		if _, set := env[name]; set || strings.HasPrefix(m[1], "file:") && fileExists(filepath.Join(dir, strings.TrimPrefix(m[1], "file:"))) {
			continue
		}
		put(m[1], "sk_example_"+randSuffix()+randSuffix()+randSuffix())
	}
	schema := "example_" + randSuffix()
	t.Cleanup(func() { dropSchema(t, schema) })
	env["PAYGATE_PG_URL"] = postgresURL()
	env["PAYGATE_REDIS"] = redisURL()
	env["PAYGATE_CONFIG"] = cfgPath
	env["PAYGATE_ADDR"] = gwAddr
	env["PAYGATE_PUBLIC_URL"] = gwURL
	env["PAYGATE_DATA_DIR"] = filepath.Join(dir, "data")
	env["PAYGATE_REDIS_PREFIX"] = "test:" + randSuffix() + ":"

	m := NewMain()
	m.Getenv = func(k string) string { return env[k] }
	m.Out, m.Logger, m.DBSchema = io.Discard, discardLogger(), schema
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("the example configuration does not start: %v", err)
	}
	defer m.Close()
	apiDoc, err := apitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	secret, err := config.Load(cfgPath, m.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	key := secret.Merchants[0].Keys[0]
	c := &client{t: t, m: m, base: m.URL, doc: apiDoc, keyID: key.ID, secret: key.Secret}
	r := c.createOrder(authCodeOrder("134567890123456789", 1234), "")
	if r.Status != 201 {
		t.Fatalf("payment: %d %s", r.Status, r.Body)
	}
	o := r.decode(t)
	if o["status"] != "succeeded" || o["provider"] != "wechat" || o["merchant_id"] != "m_cafe_sh01" {
		t.Fatalf("payment: %v", o)
	}
	// The tls:// acquirer connected: its sign-on went through the TLS front.
	deadline := time.Now().Add(10 * time.Second)
	for front.relayed.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the tls:// acquirer never completed a TLS connection")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// tlsFront terminates TLS and relays to a plain TCP address.
type tlsFront struct {
	addr    string
	relayed atomic.Int64 // bytes relayed from TLS clients after a handshake
}

// startTLSFront listens with a fresh self-signed certificate for
// 127.0.0.1 and returns it (PEM) as the CA to trust.
func startTLSFront(t *testing.T, target string) (*tlsFront, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "acquirer test host"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &tlsFront{addr: ln.Addr().String()}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				if err := in.(*tls.Conn).Handshake(); err != nil {
					return
				}
				out, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer out.Close()
				go func() { io.Copy(in, out); in.Close() }()
				io.Copy(&countingWriter{w: out, n: &f.relayed}, in)
			}()
		}
	}()
	return f, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// Bad credential values of several providers are reported together when
// the gateway starts, each naming its provider.
func TestStartReportsEveryProviderFault(t *testing.T) {
	cfg := config.Default()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.DatabaseURL = "sqlite:" + cfg.DataDir + "/paygate.db"
	cfg.Providers = append(cfg.Providers,
		paygate.ProviderSpec{ID: "ali2", Kind: paygate.KindAlipay, Timeout: time.Second,
			Credentials: map[string]string{"app_id": "2021000000000002", "private_key": "not a key", "alipay_public_key": "not a key"}},
		paygate.ProviderSpec{ID: "ecny2", Kind: paygate.KindECNY, BaseURL: "https://ecny.example.com", Timeout: time.Second,
			Credentials: map[string]string{"merchant_no": "ECNY2", "private_key": "not a key", "bank_public_key": "not a key"}},
	)
	m := NewMain()
	m.Config, m.Out, m.Logger = cfg, io.Discard, discardLogger()
	err := m.Run(context.Background())
	m.Close()
	if err == nil {
		t.Fatal("started with bad credentials")
	}
	for _, want := range []string{"provider ali2: credentials.private_key", "provider ecny2:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start error %q does not contain %q", err, want)
		}
	}
}
