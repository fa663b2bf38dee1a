package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/paygate-cn/paygate/internal/bench"
)

// runBench measures end-to-end B-scan-C throughput per wallet channel
// against the in-process sandbox, beside the channel's signing limit
// measured in the same run (internal/bench, docs/performance.md):
//
//	paygate bench [-channels wechat,alipay,unionpay,ecny] [-orders 2000]
//	              [-concurrency 16] [-max-time 60s] [-sign-time 3s]
//	              [-database-url postgres://...] [-redis-url redis://...]
//
// With no database URL it uses a temporary SQLite file and the in-process
// Redis. Everything listens on loopback only.
func runBench(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	channels := fs.String("channels", "wechat,alipay,unionpay,ecny", "wallet channels to measure, comma-separated")
	orders := fs.Int("orders", 2000, "orders per channel (after 100 warm-up orders)")
	conc := fs.Int("concurrency", 16, "concurrent clients")
	maxTime := fs.Duration("max-time", 60*time.Second, "time limit per channel")
	signTime := fs.Duration("sign-time", 3*time.Second, "how long to measure the signing rate")
	dbURL := fs.String("database-url", getenv("PAYGATE_DATABASE_URL"), "database (default: a temporary SQLite file)")
	redisURL := fs.String("redis-url", getenv("PAYGATE_REDIS_URL"), "Redis (default: in-process)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the load runs to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := bench.Options{
		Kinds: strings.Split(*channels, ","), Orders: *orders, Concurrency: *conc,
		MaxTime: *maxTime, SignTime: *signTime, Postgres: strings.HasPrefix(*dbURL, "postgres"),
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		opts.CPUProfile = f
	}

	tmp, err := os.MkdirTemp("", "paygate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	m := NewMain()
	m.Config = bench.Config(tmp, *dbURL, *redisURL)
	m.Out = io.Discard
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if opts.Postgres {
		m.DBSchema = "bench_" + bench.Random()
	}
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	defer func() {
		m.Close()
		if opts.Postgres {
			bench.DropSchema(*dbURL, m.DBSchema)
		}
	}()
	return bench.Run(ctx, out, bench.Target{
		URL: m.URL, KeyID: m.Config.Sandbox.KeyID, Secret: m.Config.Sandbox.Secret,
		Channels: m.Payments.Channels,
	}, opts)
}
