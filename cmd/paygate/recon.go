package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/payments"
	"github.com/paygate-cn/paygate/reconcile"
	"github.com/paygate-cn/paygate/store"
)

// accountCredential names, per channel kind, the credential holding the
// provider's merchant account at the channel, which a bill must be for.
var accountCredential = map[string]string{
	paygate.KindWeChat:   "mchid",
	paygate.KindAlipay:   "seller_id",
	paygate.KindUnionPay: "mer_id",
	paygate.KindECNY:     "merchant_no",
	paygate.KindAcquirer: "acquirer_id",
}

// billProviders returns the enabled providers, by id.
func billProviders(cfg *config.Config) map[string]paygate.ProviderSpec {
	out := map[string]paygate.ProviderSpec{}
	for _, p := range cfg.Providers {
		if !p.Disabled {
			out[p.ID] = p
		}
	}
	return out
}

func sortedIDs(specs map[string]paygate.ProviderSpec) []string {
	ids := make([]string, 0, len(specs))
	for id := range specs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// openBillFile opens a bill file for a provider and day (--bill FILE).
func openBillFile(kind, account, path, day string) (*reconcile.Bill, error) {
	start, err := paygate.ParseDay(day)
	if err != nil {
		return nil, err
	}
	return reconcile.OpenBillFile(kind, path, account, start)
}

// reconService builds the reconciliation service over db: repairs go
// through the payments package (pay), as callbacks do, so they write the
// same events.
func reconService(db *store.DB, pay reconcile.Applier, specs map[string]paygate.ProviderSpec, now paygate.Clock,
	open func(ctx context.Context, provider, day string) (*reconcile.Bill, error)) *reconcile.Service {
	return &reconcile.Service{
		Matcher: &reconcile.Matcher{Store: db, Orders: db, Refunds: db, Applier: pay,
			Holder: holderName(), Now: now,
			KeepsFees: func(id string) bool { return reconcile.KeepsFees(specs[id].Kind) }},
		Providers: func() []string { return sortedIDs(specs) },
		Open:      open,
		NotReady:  func(err error) bool { return errors.Is(err, reconcile.ErrBillNotReady) },
		Now:       now,
	}
}

// reconMemoryLimit is the soft memory limit of the recon and statement
// commands when GOMEMLIMIT is unset: a day of a million transactions is
// matched in about 120 MB of live heap (docs/performance.md), and the
// collector keeps the process near that instead of doubling it (the
// peak RSS follows this limit, not the live heap).
const reconMemoryLimit = 160 << 20

func limitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(reconMemoryLimit)
	}
}

// holderName names this process in the daily job's claims and the runs it
// holds.
func holderName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), paygate.NewID("", time.Now())[:16])
}

// reconcileAt parses jobs.reconcile_at (HH:MM, validated by config).
func reconcileAt(s string) time.Duration {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 10*time.Hour + 30*time.Minute
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
}

const reconUsage = `usage:
  paygate recon run --date YYYY-MM-DD [--provider ID] [--bill FILE]
  paygate recon report --date YYYY-MM-DD [--provider ID]`

// recon runs `paygate recon run|report`.
func recon(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "run" && args[0] != "report") {
		return fmt.Errorf("%s", reconUsage)
	}
	fs := flag.NewFlagSet("recon "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	date := fs.String("date", "", "the day, YYYY-MM-DD (China Standard Time)")
	provider := fs.String("provider", "", "one provider id (default: every provider)")
	bill := fs.String("bill", "", "reconcile this bill file instead of fetching it (needs --provider)")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%v\n%s", err, reconUsage)
	}
	if _, err := paygate.ParseDay(*date); err != nil {
		return fmt.Errorf("--date: %s", paygate.ErrorMessage(err))
	}
	cfg, db, err := openForCLI(ctx, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	specs := billProviders(cfg)
	if *provider != "" {
		if _, ok := specs[*provider]; !ok {
			return fmt.Errorf("--provider: no enabled provider %q", *provider)
		}
	}
	if args[0] == "report" {
		return reconReport(ctx, db, *date, *provider, stdout)
	}
	if *bill != "" && *provider == "" {
		return fmt.Errorf("--bill needs --provider")
	}
	limitMemory()
	open := func(ctx context.Context, id, day string) (*reconcile.Bill, error) {
		ch, chErr := newChannel(specs[id], time.Now)
		if c, ok := ch.(io.Closer); ok && chErr == nil {
			defer c.Close()
		}
		if *bill != "" {
			account := ""
			if chErr == nil {
				account = reconcile.Account(ch)
			} else {
				account = strings.TrimSpace(specs[id].Credentials[accountCredential[specs[id].Kind]])
			}
			return openBillFile(specs[id].Kind, account, *bill, day)
		}
		if chErr != nil {
			return nil, fmt.Errorf("provider %s: %w", id, chErr)
		}
		return fetchBill(ctx, ch, filepath.Join(cfg.DataDir, "bills"), day)
	}
	svc := reconService(db, &payments.Payments{Orders: db, Refunds: db, Now: time.Now}, specs, time.Now, open)
	runs, err := svc.ReconcileAll(ctx, *date, func(p string) bool { return *provider == "" || p == *provider })
	for _, r := range runs {
		fmt.Fprintf(stdout, "%s %s %s %s", r.ID, r.Provider, r.Date, r.Status)
		if r.Failure != "" {
			fmt.Fprintf(stdout, ": %s", r.Failure)
		}
		fmt.Fprintln(stdout)
	}
	if err != nil {
		return err
	}
	return reconReport(ctx, db, *date, *provider, stdout)
}

// fetchBill downloads a provider's bill of day into dir (reconcile.Fetch)
// and opens it.
func fetchBill(ctx context.Context, ch paygate.Channel, dir, day string) (*reconcile.Bill, error) {
	if ch == nil {
		return nil, fmt.Errorf("no channel for this provider")
	}
	start, err := paygate.ParseDay(day)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	bf, err := reconcile.Fetch(ctx, ch, start, dir)
	if err != nil {
		return nil, err
	}
	br, err := bf.Open()
	if err != nil {
		return nil, err
	}
	return &reconcile.Bill{Reader: br, SHA1: bf.SHA1, Close: br.Close}, nil
}

// reconReport prints the latest run of each provider for the day.
func reconReport(ctx context.Context, db *store.DB, day, provider string, out io.Writer) error {
	runs, err := db.Reconciliations(ctx, "", day, nil)
	if err != nil {
		return err
	}
	return reconcile.WriteReport(out, day, provider, runs)
}

const statementUsage = "usage: paygate statement --merchant M --date YYYY-MM-DD [--format csv|xlsx|json] [--out FILE]"

// statement writes a merchant's statement of a day to stdout or a file.
func statement(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("statement", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	merchant := fs.String("merchant", "", "merchant id")
	date := fs.String("date", "", "the day, YYYY-MM-DD (China Standard Time)")
	format := fs.String("format", "csv", "csv, xlsx or json")
	outPath := fs.String("out", "", "write to this file instead of stdout")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%v\n%s", err, statementUsage)
	}
	if *merchant == "" {
		return fmt.Errorf("--merchant is required\n%s", statementUsage)
	}
	if _, err := paygate.ParseDay(*date); err != nil {
		return fmt.Errorf("--date: %s", paygate.ErrorMessage(err))
	}
	_, db, err := openForCLI(ctx, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	limitMemory()
	w := stdout
	if *outPath != "" {
		f, err := os.Create(*outPath)
		if err != nil {
			return err
		}
		defer f.Close()
		bw := bufio.NewWriterSize(f, 256<<10)
		defer bw.Flush()
		w = bw
	}
	if err := reconcile.WriteStatement(ctx, db, w, *merchant, *date, *format); err != nil {
		return fmt.Errorf("%s", paygate.ErrorMessage(err))
	}
	return nil
}

// openForCLI loads the configuration and opens the migrated store.
func openForCLI(ctx context.Context, getenv func(string) string) (*config.Config, *store.DB, error) {
	cfg, err := config.Load(getenv("PAYGATE_CONFIG"), getenv)
	if err != nil {
		return nil, nil, err
	}
	dsn := cfg.DatabaseURL
	if dsn == "" {
		dsn = "sqlite:" + cfg.DataDir + "/paygate.db"
	}
	db, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		return nil, nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	return cfg, db, nil
}
