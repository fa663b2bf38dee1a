package unionpay

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
)

// maxBill bounds the decompressed reconciliation archive DownloadBill
// keeps in memory (64 MiB); FetchBill streams and has no such bound.
const maxBill = 64 << 20

// MaxFileAnswer bounds a file transfer answer FetchBill spools (2 GiB).
const MaxFileAnswer = 2 << 30

// BillTimeout bounds a file transfer, whose answer carries the files.
const BillTimeout = 5 * time.Minute

// FetchBill streams the day's reconciliation archive (txnType 76, fileType
// 00, settleDate MMDD) to w: the zip holding INN{yyMMdd}88ZM_{merId} and
// INN{yyMMdd}88ZME_{merId}. The answer's fileContent (base64 of the
// DEFLATE-compressed zip) is spooled to a temporary file while the answer
// arrives, the answer's signature is checked over it, and only then is it
// decoded and inflated into w. A day without a file (respCode 98) is
// paygate.ErrNoBill.
func (c *Client) FetchBill(ctx context.Context, day time.Time, w io.Writer) (*paygate.BillInfo, error) {
	f := c.fields(TxnFile, SubFile, BizGeneral)
	delete(f, "channelType")
	f["fileType"] = "00"
	f["settleDate"] = day.In(shanghai).Format("0102")
	f["txnTime"] = c.nowTxnTime()
	for k, v := range f {
		if v == "" {
			delete(f, k)
		}
	}
	if err := Sign(f, c.key); err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "signing failed", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, BillTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+PathFileTrans, strings.NewReader(EncodeForm(f)))
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "bad request", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Timeout: isTimeout(ctx, err), Message: "no answer", Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: fmt.Sprintf("HTTP %d", resp.StatusCode)}
	}
	spool, err := os.CreateTemp("", "paygate-unionpay-file-*")
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "cannot spool the answer", Err: err}
	}
	defer func() { spool.Close(); os.Remove(spool.Name()) }()
	ans, n, err := readFileAnswer(bufio.NewReader(io.LimitReader(resp.Body, MaxFileAnswer+1)), spool)
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Timeout: isTimeout(ctx, err), Message: "malformed answer", Err: err}
	}
	if n > 0 {
		ans["fileContent"] = "" // stands for the spooled value in the digest
	}
	if err := c.verifyFileAnswer(ans, spool, n); err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "answer failed verification", Err: err}
	}
	switch code := ans["respCode"]; code {
	case RespSuccess:
	case RespFileNotPresent:
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Code: code, Message: ans["respMsg"], Err: paygate.ErrNoBill}
	default:
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Code: code, Message: ans["respMsg"]}
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "cannot read the spooled answer", Err: err}
	}
	zr, err := zlib.NewReader(base64.NewDecoder(base64.StdEncoding, io.LimitReader(spool, n)))
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "fileContent is not deflated base64", Err: err}
	}
	if _, err := io.Copy(w, zr); err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "fileContent is not deflated base64", Err: err}
	}
	name := ans["fileName"]
	if name == "" {
		name = "unionpay_" + day.In(shanghai).Format("20060102") + ".zip"
	}
	return &paygate.BillInfo{Account: c.merID, Name: name}, nil
}

// readFileAnswer reads an answer's key=value pairs (ParseMessage's
// syntax), writing fileContent's value to spool instead of memory; n is
// its length. The other fields are small and bounded.
func readFileAnswer(r *bufio.Reader, spool io.Writer) (fields map[string]string, n int64, err error) {
	fields = map[string]string{}
	var small int
	for {
		key, err := r.ReadString('=')
		if err == io.EOF && strings.TrimRight(key, "\r\n") == "" && len(fields) > 0 {
			return fields, n, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("malformed pair %q", truncate(key))
		}
		key = strings.TrimPrefix(key[:len(key)-1], "&")
		if key == "" || len(key) > 64 {
			return nil, 0, fmt.Errorf("malformed key %q", truncate(key))
		}
		if _, dup := fields[key]; dup {
			return nil, 0, fmt.Errorf("duplicate field %q", truncate(key))
		}
		if key == "fileContent" {
			// base64: never '&', '{' or '}'.
			for {
				b, err := r.ReadSlice('&')
				end := err == nil
				if end {
					b = b[:len(b)-1]
				} else if err != bufio.ErrBufferFull && err != io.EOF {
					return nil, 0, err
				}
				if err == io.EOF {
					b = []byte(strings.TrimRight(string(b), "\r\n"))
				}
				if _, werr := spool.Write(b); werr != nil {
					return nil, 0, werr
				}
				n += int64(len(b))
				if n > MaxFileAnswer {
					return nil, 0, errors.New("fileContent too large")
				}
				if end {
					break
				}
				if err == io.EOF {
					fields[key] = ""
					return fields, n, nil
				}
			}
			fields[key] = ""
			continue
		}
		// A value runs to the next '&' outside braces.
		var v strings.Builder
		depth := 0
		for {
			ch, err := r.ReadByte()
			if err == io.EOF {
				fields[key] = strings.TrimRight(v.String(), "\r\n")
				return fields, n, nil
			}
			if err != nil {
				return nil, 0, err
			}
			if ch == '{' {
				depth++
			} else if ch == '}' {
				depth--
			} else if ch == '&' && depth == 0 {
				_ = r.UnreadByte()
				break
			}
			v.WriteByte(ch)
			if small++; small > MaxMessage {
				return nil, 0, errors.New("answer fields too large")
			}
		}
		fields[key] = v.String()
	}
}

// verifyFileAnswer checks the answer's signature as verify does, reading
// fileContent's value from spool (n bytes) into the digest.
func (c *Client) verifyFileAnswer(m map[string]string, spool io.ReadSeeker, n int64) error {
	if m["certId"] != c.upCertID {
		return errors.New("certId is not the platform's signing certificate")
	}
	if sm := m["signMethod"]; sm != "" && sm != SignMethod {
		return errors.New("unsupported signMethod")
	}
	sig, err := base64.StdEncoding.DecodeString(m["signature"])
	if err != nil || len(sig) == 0 {
		return errors.New("unionpay: no or malformed signature")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	inner := sha256.New()
	for i, k := range keys {
		if i > 0 {
			io.WriteString(inner, "&")
		}
		io.WriteString(inner, k+"=")
		if k == "fileContent" && n > 0 {
			if _, err := spool.Seek(0, io.SeekStart); err != nil {
				return err
			}
			if _, err := io.Copy(inner, io.LimitReader(spool, n)); err != nil {
				return err
			}
			continue
		}
		io.WriteString(inner, m[k])
	}
	outer := sha256.Sum256([]byte(hex.EncodeToString(inner.Sum(nil))))
	if err := rsa.VerifyPKCS1v15(c.upKey, crypto.SHA256, outer[:], sig); err != nil {
		return errors.New("unionpay: bad signature")
	}
	return nil
}

// DownloadBill fetches the day's archive in memory and returns its ZM file
// (small days and tests; reconciliation streams with FetchBill). A day the
// platform has no file for is ENOTFOUND.
func (c *Client) DownloadBill(ctx context.Context, day time.Time) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := c.FetchBill(ctx, day, &buf); err != nil {
		if errors.Is(err, paygate.ErrNoBill) {
			return nil, paygate.Errorf(paygate.ENOTFOUND, "UnionPay has no reconciliation file for %s", day.Format("2006-01-02"))
		}
		return nil, err
	}
	if buf.Len() > maxBill {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "archive larger than the in-memory limit"}
	}
	zipped := buf.Bytes()
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

// BillAccount is the merchant account the bills are for: the merId.
func (c *Client) BillAccount() string { return c.merID }
