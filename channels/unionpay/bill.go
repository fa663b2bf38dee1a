package unionpay

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
)

// maxBill bounds the decompressed reconciliation archive (64 MiB).
const maxBill = 64 << 20

// DownloadBill fetches the day's reconciliation files (txnType 76,
// fileType 00, settleDate MMDD) and returns the ZM file from the archive.
// The answer's fileContent is base64 of the zlib-deflated zip. A day the
// platform has no file for (respCode 98) is ENOTFOUND.
func (c *Client) DownloadBill(ctx context.Context, day time.Time) ([]byte, error) {
	f := c.fields(TxnFile, SubFile, BizGeneral)
	delete(f, "channelType")
	f["fileType"] = "00"
	f["settleDate"] = day.In(shanghai).Format("0102")
	f["txnTime"] = c.nowTxnTime()
	ans, err := c.call(ctx, "bill", PathFileTrans, f)
	if err != nil {
		return nil, err
	}
	switch code := ans["respCode"]; code {
	case RespSuccess:
	case RespFileNotPresent:
		return nil, paygate.Errorf(paygate.ENOTFOUND, "UnionPay has no reconciliation file for %s", day.Format("2006-01-02"))
	default:
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Code: code, Message: ans["respMsg"]}
	}
	zipped, err := inflate(ans["fileContent"])
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "fileContent is not deflated base64", Err: err}
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "file archive is not a zip", Err: err}
	}
	want := ZMFileName(day, c.merID)
	for _, zf := range zr.File {
		if zf.Name != want && !(strings.HasPrefix(zf.Name, "INN") && strings.Contains(zf.Name, "ZM_")) {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "bad archive entry", Err: err}
		}
		defer rc.Close()
		data, err := io.ReadAll(io.LimitReader(rc, maxBill+1))
		if err != nil || len(data) > maxBill {
			return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "bad archive entry", Err: err}
		}
		return data, nil
	}
	return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "archive has no ZM file"}
}

// ZMFileName is the ZM file's name inside the day's archive.
func ZMFileName(day time.Time, merID string) string {
	return fmt.Sprintf("INN%s88ZM_%s", day.In(shanghai).Format("060102"), merID)
}

func inflate(b64 string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	zr, err := zlib.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxBill+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxBill {
		return nil, fmt.Errorf("archive larger than %d bytes", maxBill)
	}
	return out, nil
}

// PackFiles builds fileContent: a zip of files, deflated with zlib, base64.
// The sandbox answers with it.
func PackFiles(files map[string][]byte) (string, error) {
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			return "", err
		}
		if _, err := w.Write(data); err != nil {
			return "", err
		}
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	var dbuf bytes.Buffer
	dw := zlib.NewWriter(&dbuf)
	if _, err := dw.Write(zbuf.Bytes()); err != nil {
		return "", err
	}
	if err := dw.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(dbuf.Bytes()), nil
}
