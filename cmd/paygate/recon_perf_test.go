//go:build harness

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/reconcile"
	"github.com/paygate-cn/paygate/store"
)

// TestReconciliationPerformance is the reconciliation harness of
// docs/performance.md. It runs only when asked (built with the harness
// tag, `go test -tags harness`): PAYGATE_RECON_PERF=N seeds
// a day of N paid orders on PostgreSQL (with COPY), writes the WeChat bill
// of that day (N lines), and measures, each in a child process (`paygate
// recon run --bill`, `paygate statement`), the wall time and the peak RSS
// beside `COPY (SELECT ... that day's orders) TO STDOUT` of the same data.
func TestReconciliationPerformance(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PAYGATE_RECON_PERF"))
	if n <= 0 {
		t.Skip("set PAYGATE_RECON_PERF=N (orders in the day) to run the reconciliation harness")
	}
	ctx := context.Background()
	bin := buildPaygate(t)
	dir := t.TempDir()
	schema := "reconperf_" + randSuffix()
	db, err := store.Open(ctx, postgresURL(), store.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if os.Getenv("PAYGATE_RECON_PERF_KEEP") == "" {
		t.Cleanup(func() { dropSchema(t, schema) })
	} else {
		t.Logf("schema %s kept", schema)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cfgURL, err := pgx.ParseConfig(postgresURL())
	if err != nil {
		t.Fatal(err)
	}
	cfgURL.RuntimeParams["search_path"] = schema
	conn, err := pgx.ConnectConfig(ctx, cfgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	const day = "2026-11-21"
	start, _ := paygate.ParseDay(day)
	step := 86400 * time.Second / time.Duration(n)
	billPath := filepath.Join(dir, "wechat_"+day+".csv")
	seedStart := time.Now()
	if err := seedDay(ctx, conn, billPath, start, step, n); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE orders"); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d orders and a %d-line bill in %s", n, n, time.Since(seedStart).Round(time.Millisecond))

	// The bound: the database handing over the day's orders, twice (the
	// first run warms the cache as the run will find it).
	dayQuery := fmt.Sprintf("SELECT * FROM orders WHERE paid_at >= '%s' AND paid_at < '%s'",
		start.UTC().Format(time.RFC3339), start.AddDate(0, 0, 1).UTC().Format(time.RFC3339))
	var copyTime time.Duration
	for range 2 {
		t0 := time.Now()
		tag, err := conn.PgConn().CopyTo(ctx, io.Discard, "COPY ("+dayQuery+") TO STDOUT")
		if err != nil {
			t.Fatal(err)
		}
		copyTime = time.Since(t0)
		if tag.RowsAffected() != int64(n) {
			t.Fatalf("COPY gave %d rows", tag.RowsAffected())
		}
	}
	t.Logf("COPY (SELECT * ... the day's orders) TO STDOUT: %s (%.0f rows/s)", copyTime.Round(time.Millisecond), float64(n)/copyTime.Seconds())

	config := wechatConfig(t, dir, "1900000109")
	dsn := postgresURL()
	if strings.Contains(dsn, "?") {
		dsn += "&search_path=" + schema
	} else {
		dsn += "?search_path=" + schema
	}
	env := childEnv("PAYGATE_CONFIG="+config, "PAYGATE_DATABASE_URL="+dsn, "PAYGATE_DATA_DIR="+dir)
	child := func(name string, args ...string) (time.Duration, int64) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		cmd.Stdout, cmd.Stderr = out, out
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
		d := time.Since(t0)
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
		return d, rss
	}
	if os.Getenv("PAYGATE_RECON_PERF_KEEP") == "seed" {
		return
	}
	runTime, runRSS := child("recon", "recon", "run", "--date", day, "--provider", "wechat", "--bill", billPath)
	latest, err := db.LatestReconciliations(ctx, day)
	if err != nil || latest["wechat"] == nil {
		t.Fatalf("no run recorded: %v", err)
	}
	if r := latest["wechat"]; r.Outcomes[paygate.ReconMatched] != int64(n) || len(r.Outcomes) != 1 {
		t.Fatalf("run outcomes %v", r.Outcomes)
	}
	t.Logf("recon run: %s (%.2f× COPY), peak RSS %d MiB", runTime.Round(time.Millisecond),
		runTime.Seconds()/copyTime.Seconds(), runRSS>>10)

	csvPath := filepath.Join(dir, "statement.csv")
	csvTime, csvRSS := child("csv", "statement", "--merchant", "m_perf", "--date", day, "--format", "csv", "--out", csvPath)
	st, _ := os.Stat(csvPath)
	t.Logf("CSV statement: %s (%.0f rows/s, %.0f%% of the COPY rate), %d MiB written, peak RSS %d MiB",
		csvTime.Round(time.Millisecond), float64(n)/csvTime.Seconds(), 100*copyTime.Seconds()/csvTime.Seconds(), st.Size()>>20, csvRSS>>10)

	xlsxPath := filepath.Join(dir, "statement.xlsx")
	xlsxTime, xlsxRSS := child("xlsx", "statement", "--merchant", "m_perf", "--date", day, "--format", "xlsx", "--out", xlsxPath)
	st, _ = os.Stat(xlsxPath)
	t.Logf("XLSX statement: %s, %d MiB written, peak RSS %d MiB", xlsxTime.Round(time.Millisecond), st.Size()>>20, xlsxRSS>>10)
}

// seedDay copies n paid WeChat orders of merchant m_perf into orders, spread
// over the day from start, and writes the WeChat trade bill (ALL) that lists
// each of them with the same numbers, amount and fee.
func seedDay(ctx context.Context, conn *pgx.Conn, billPath string, start time.Time, step time.Duration, n int) error {
	f, err := os.Create(billPath)
	if err != nil {
		return err
	}
	defer f.Close()
	bill := bufio.NewWriterSize(f, 1<<20)
	bill.WriteString("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n")
	route := `{"provider":"wechat","channel":"wechat","fee_rate":"0.006","fee_cap":null,"fee":%d,"rule":"wechat.default","candidates":[{"provider":"wechat","channel":"wechat","fee":%d,"eligible":true,"reason":"cheapest","fee_rate":"0.006"},{"provider":"alipay","channel":"alipay","fee":%d,"eligible":true,"reason":"dearer","fee_rate":"0.0065"}]}`
	var total, fees int64
	i := 0
	cols := []string{"id", "merchant_id", "merchant_order_no", "status", "amount", "currency", "subject", "method",
		"channel", "provider", "channel_trade_no", "fee", "net_amount", "route", "terminal_id", "created_at", "updated_at", "paid_at", "expires_at"}
	var werr error
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"orders"}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		at := start.Add(time.Duration(i) * step)
		amount := int64(100 + i%50000)
		fee := (amount*6 + 500) / 1000
		id := fmt.Sprintf("ord_perf%016d", i)
		trade := fmt.Sprintf("4200001234%018d", i)
		total += amount
		fees += fee
		row := []string{at.In(paygate.ChinaStandardTime).Format("2006-01-02 15:04:05"), "wx8888888888888888", "1900000109", "0", "",
			trade, id, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "MICROPAY", "SUCCESS", "OTHERS", "CNY", reconcile.Yuan(amount), "0.00", "0", "0",
			"0.00", "0.00", "", "", "咖啡", "", reconcile.Yuan(fee) + "000", "0.60%", reconcile.Yuan(amount), "0.00", ""}
		if _, err := bill.WriteString("`" + strings.Join(row, ",`") + "\r\n"); err != nil && werr == nil {
			werr = err
		}
		i++
		return []any{id, "m_perf", fmt.Sprintf("P%d", i), "succeeded", amount, "CNY", "咖啡", "auth_code", "wechat", "wechat",
			trade, fee, amount - fee, fmt.Sprintf(route, fee, fee, fee+fee/10), "T0001", at, at, at, at.Add(time.Minute)}, nil
	}))
	if err != nil {
		return err
	}
	bill.WriteString("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n")
	bill.WriteString("`" + strings.Join([]string{strconv.Itoa(n), reconcile.Yuan(total), "0.00", "0.00", reconcile.Yuan(fees), reconcile.Yuan(total), "0.00"}, ",`") + "\r\n")
	if werr != nil {
		return werr
	}
	return bill.Flush()
}
