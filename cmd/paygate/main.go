// Command paygate is the one binary of the gateway:
//
//	paygate serve              run the gateway (sandbox with no configuration)
//	paygate migrate            apply database migrations and exit
//	paygate sandbox            run the channel simulators alone
//	paygate api METHOD PATH    send a signed API request
//	paygate recon run|report   reconcile a day's bills; print the outcomes
//	paygate statement          a merchant's statement of a day
//	paygate config example     print the commented example configuration
//	paygate webhooks listen    receive, verify and print webhooks locally
//	paygate bench              measure B-scan-C throughput against the simulators
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: paygate <command> [arguments]

commands:
  serve                     run the gateway (with no configuration: a complete sandbox)
  migrate                   apply database migrations and exit
  sandbox                   run the channel simulators alone
  api METHOD PATH [-d JSON] [-i IDEMPOTENCY_KEY]
                            send a request signed with PAYGATE_KEY_ID / PAYGATE_SECRET
                            (or the sandbox key) to PAYGATE_URL (default http://127.0.0.1:8080)
  recon run --date D [--provider ID] [--bill FILE]
                            reconcile a day's bills (fetched, or the file given)
  recon report --date D     the day's reconciliation outcomes as a table
  statement --merchant M --date D [--format csv|xlsx|json] [--out FILE]
                            a merchant's statement of a day
  config example            print the commented example configuration
  bench [-channels wechat,alipay,...] [-orders N] [-database-url URL] [-redis-url URL]
                            measure end-to-end B-scan-C throughput against the simulators
                            beside each channel's signing limit (docs/performance.md)
  webhooks listen [--addr 127.0.0.1:9000] [--secret SECRET ...]
                            receive webhooks locally: verify each signature, print the
                            event (id, type, object status), deduplicate by event id

configuration: PAYGATE_CONFIG names a YAML file; PAYGATE_* variables override it
(see docs/configuration.md).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "paygate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, getenv, stdout)
	case "migrate":
		return migrate(ctx, getenv, stdout)
	case "sandbox":
		return runSandbox(ctx, getenv, stdout)
	case "api":
		return api(ctx, args[1:], getenv, stdout, stderr)
	case "recon":
		return recon(ctx, args[1:], getenv, stdout)
	case "statement":
		return statement(ctx, args[1:], getenv, stdout)
	case "config":
		return configCmd(args[1:], stdout)
	case "webhooks":
		return webhooks(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], getenv, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	m := NewMain()
	m.Getenv = getenv
	m.Out = stdout
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	<-ctx.Done()
	return m.Close()
}
