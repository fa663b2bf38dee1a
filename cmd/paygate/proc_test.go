//go:build harness

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Helpers for tests that run paygate, Redis and the channel simulators as
// separate operating-system processes, so that a crash is a real SIGKILL.
// Like the performance harnesses, they are built only with the harness tag
// (README, "The two commands").

// buildPaygate compiles this package into a binary in a temporary
// directory and returns its path. It skips the test when there is no go
// tool to build with.
func buildPaygate(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to build the paygate binary")
	}
	bin := filepath.Join(t.TempDir(), "paygate")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// childEnv is this process's environment without any PAYGATE_ variable,
// plus extra: a child sees only the configuration the test gives it.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PAYGATE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// proc is a child process that can be killed and started again with the
// same command line and environment. Its output goes to a log file that is
// shown when the test fails.
type proc struct {
	t    *testing.T
	name string
	path string
	args []string
	env  []string
	log  string
	// hidden is how many leading bytes of the output a failure report
	// leaves out (the simulators' printed credentials).
	hidden atomic.Int64

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the running process has exited
}

// startProc starts a child; t.Cleanup kills it, whatever happens.
func startProc(t *testing.T, name, path string, args, env []string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, path: path, args: args, env: env,
		log: filepath.Join(t.TempDir(), name+".log")}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			p.dumpLog()
		}
	})
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// start runs the command (again). Like every method of proc that can
// fail, it returns the error rather than failing the test, so that it may
// be called from any goroutine.
func (p *proc) start() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		f.Close()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	return nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// exited reports whether the running process has ended.
func (p *proc) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// output is what the process has written so far.
func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

func (p *proc) dumpLog() {
	out := p.output()
	if n := int(p.hidden.Load()); n <= len(out) {
		out = out[n:]
	}
	if lines := strings.Split(out, "\n"); len(lines) > 40 {
		out = strings.Join(lines[len(lines)-40:], "\n")
	}
	p.t.Logf("--- %s (last lines) ---\n%s", p.name, out)
}

// waitUntil polls ready until it returns nil; it gives up, showing the
// process's output, if p exits or the deadline passes first.
func (p *proc) waitUntil(what string, ready func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if p.exited() {
			p.dumpLog()
			return fmt.Errorf("%s exited before %s", p.name, what)
		}
		if time.Now().After(deadline) {
			p.dumpLog()
			return fmt.Errorf("%s: %s: %w", p.name, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitHTTP waits until url answers 200.
func (p *proc) waitHTTP(url string) error {
	return p.waitUntil("answering "+url, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	})
}

// redisProc is a redis-server child on a port of its own, without
// persistence: killed and started again, it has forgotten every key, as a
// Redis that lost its memory would.
type redisProc struct {
	*proc
	addr string
}

// startRedis starts redis-server on a free port; it skips the test when
// redis-server is not installed.
func startRedis(t *testing.T) *redisProc {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed")
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	r := &redisProc{addr: addr, proc: startProc(t, "redis", bin, []string{
		"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
		"--protected-mode", "no", "--dir", t.TempDir(),
	}, childEnv())}
	if err := r.waitReady(); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitReady waits until the server answers PING.
func (r *redisProc) waitReady() error {
	c := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	defer c.Close()
	return r.waitUntil("answering PING", func() error {
		return c.Ping(context.Background()).Err()
	})
}

// restart starts the server again on the same port.
func (r *redisProc) restart() error {
	if err := r.start(); err != nil {
		return err
	}
	return r.waitReady()
}

// sandboxProc runs `paygate sandbox`: the channel simulators as a process
// of their own, shared by every gateway, as a real channel is.
type sandboxProc struct {
	*proc
	URL string
	// Providers is the providers YAML the simulators printed.
	Providers []byte
}

// startSandbox starts the simulators; gatewayURL is where their
// notifications go when an order names no notify URL.
func startSandbox(t *testing.T, bin, gatewayURL string) *sandboxProc {
	t.Helper()
	addr := freeAddr(t)
	s := &sandboxProc{URL: "http://" + addr, proc: startProc(t, "sandbox", bin, []string{"sandbox"},
		childEnv("PAYGATE_ADDR="+addr, "PAYGATE_GATEWAY_URL="+gatewayURL, "PAYGATE_DATA_DIR="+t.TempDir()))}
	// The providers are printed before the server starts answering, so
	// once it answers, the output is complete.
	err := s.waitUntil("serving", func() error {
		resp, err := http.Get(s.URL + "/sandbox/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := []byte(s.output())
	if !bytes.Contains(out, []byte("providers:")) {
		t.Fatalf("paygate sandbox printed no providers:\n%s", out)
	}
	s.Providers = out
	s.hidden.Store(int64(len(out)))
	return s
}
