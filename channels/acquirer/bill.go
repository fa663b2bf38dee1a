package acquirer

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/paygate-cn/paygate"
)

var _ paygate.BillFetcher = (*Client)(nil)

// cst is China time: the acquirer's business days.
var cst = time.FixedZone("CST", 8*3600)

// BillTimeout bounds the download of a settlement file.
const BillTimeout = 5 * time.Minute

var billHTTP = &http.Client{Timeout: BillTimeout}

// FetchBill settles the day's batch (0500; its 0510 field 48 totals come
// back in BillInfo.Controls, for the reader to check the file against)
// and streams the acquirer's settlement file of day from settlement_url
// (GET ?date=yyyyMMdd) to w. docs/channels/acquirer.md, "Settlement file",
// describes the file; docs/reconciliation.md the checks.
func (c *Client) FetchBill(ctx context.Context, day time.Time, w io.Writer) (*paygate.BillInfo, error) {
	if c.settlementURL == "" {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Code: "unsupported",
			Message: "no settlement_url configured: give the settlement file with --bill"}
	}
	tot, err := c.Settle(ctx, day)
	if err != nil {
		return nil, err
	}
	date := day.In(cst).Format("20060102")
	ctx, cancel := context.WithTimeout(ctx, BillTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.settlementURL+"?date="+date, nil)
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "bad settlement_url", Err: err}
	}
	resp, err := billHTTP.Do(req)
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Timeout: ctx.Err() != nil, Message: "no answer", Err: err}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Code: "404", Message: "no settlement file yet", Err: paygate.ErrBillNotReady}
	case resp.StatusCode != http.StatusOK:
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Code: strconv.Itoa(resp.StatusCode), Message: "settlement file download failed"}
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Timeout: ctx.Err() != nil, Message: "settlement file broken off", Err: err}
	}
	return &paygate.BillInfo{Account: c.acquirerID, Name: "settlement_" + date + ".csv", Controls: FormatTotals(tot)}, nil
}

// BillAccount is the account the settlement files are for: the acquirer
// institution code (each line names its merchant no.).
func (c *Client) BillAccount() string { return c.acquirerID }
