package paygate_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paygate "github.com/paygate-cn/paygate/sdk-clients/go"
)

// The tests run against a real `paygate serve` in sandbox mode, built from
// this repository, with its own data dir and port.
const (
	testKeyID         = "key_sdk_go_test"
	testSecret        = "sk_test_sdk_go_0123456789abcdef0123456789"
	testWebhookSecret = "whsec_sdk_go_0123456789abcdef"
)

var gatewayURL string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "paygate-sdk-go-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	stop, base, err := startGateway(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting paygate:", err)
		return 1
	}
	defer stop()
	gatewayURL = base
	return m.Run()
}

// startGateway builds ./cmd/paygate of the repository and runs
// `paygate serve` on a free loopback port.
func startGateway(dir string) (stop func(), base string, err error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return nil, "", err
	}
	bin := filepath.Join(dir, "paygate")
	build := exec.Command("go", "build", "-o", bin, "./cmd/paygate")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, "", fmt.Errorf("go build: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(),
		"PAYGATE_ADDR="+addr,
		"PAYGATE_DATA_DIR="+filepath.Join(dir, "data"),
		"PAYGATE_SANDBOX_KEY_ID="+testKeyID,
		"PAYGATE_SANDBOX_SECRET="+testSecret,
		"PAYGATE_SANDBOX_WEBHOOK_SECRET="+testWebhookSecret,
		"PAYGATE_PUBLIC_URL=http://"+addr,
	)
	log, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, "", err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		log.Close()
	}
	base = "http://" + addr
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return stop, base, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	out, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
	return nil, "", fmt.Errorf("paygate serve did not become healthy:\n%s", out)
}

// cleanEnv is the environment without PAYGATE_ settings, so that the
// gateway starts with its embedded sandbox defaults.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PAYGATE_") {
			env = append(env, kv)
		}
	}
	return env
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func newClient(t testing.TB, opts ...paygate.Option) *paygate.Client {
	t.Helper()
	return paygate.NewClient(testKeyID, testSecret, append([]paygate.Option{paygate.WithBaseURL(gatewayURL)}, opts...)...)
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func orderNo() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "SDKGO-" + hex.EncodeToString(b)
}

// wechatCode returns a WeChat payment code (18 digits, 10-15) whose last
// four digits pick no sandbox scenario: the payment succeeds at once.
func wechatCode() string {
	b := make([]byte, 8)
	rand.Read(b)
	n := uint64(0)
	for _, x := range b {
		n = n<<8 | uint64(x)
	}
	s := fmt.Sprintf("13%016d", n%1e16)
	if last := s[14:]; last[0] == last[1] && last[1] == last[2] && last[2] == last[3] {
		s = s[:14] + "1234"
	}
	return s
}
