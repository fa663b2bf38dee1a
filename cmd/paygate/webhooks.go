package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/internal/webhookrecv"
)

// webhooks runs `paygate webhooks listen`: a local receiver that verifies
// each webhook's Paygate-Signature and prints the event.
func webhooks(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "listen" {
		return fmt.Errorf("usage: paygate webhooks listen [--addr 127.0.0.1:9000] [--secret SECRET ...]")
	}
	fs := flag.NewFlagSet("webhooks listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on")
	var secrets stringList
	fs.Var(&secrets, "secret", "webhook secret to verify with (repeat during a rotation); "+
		"default $PAYGATE_WEBHOOK_SECRET, else $"+config.EnvSandboxWebhookSecret)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if len(secrets) == 0 {
		for _, env := range []string{"PAYGATE_WEBHOOK_SECRET", config.EnvSandboxWebhookSecret} {
			if v := getenv(env); v != "" {
				secrets = append(secrets, v)
				break
			}
		}
	}
	if len(secrets) == 0 {
		return errors.New("webhooks listen: give --secret (or set PAYGATE_WEBHOOK_SECRET)")
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	rcv := &webhookrecv.Receiver{Secrets: secrets, Out: stdout}
	srv := newHTTPServer(config.Server{
		ReadHeaderTimeout: config.DefaultReadHeaderTimeout, ReadTimeout: config.DefaultReadTimeout,
		WriteTimeout: config.DefaultWriteTimeout, IdleTimeout: config.DefaultIdleTimeout,
	}, rcv)
	fmt.Fprintf(stdout, "listening for webhooks on http://%s/ (point the merchant's webhook_url, or PAYGATE_SANDBOX_WEBHOOK_URL, here)\n", l.Addr())
	return serveUntil(ctx, srv, l)
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
