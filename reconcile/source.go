package reconcile

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/paygate-cn/paygate"
)

// Bill fetch outcomes, for errors.Is on what Fetch returns.
var (
	// ErrBillNotReady: the channel has not made the day's bill yet
	// (WeChat STATEMENT_CREATING); try again later.
	ErrBillNotReady = paygate.ErrBillNotReady
	// ErrBillDigest: the bill failed the channel's digest (WeChat SHA1,
	// e-CNY SM3); Fetch reports it as a *ParseError.
	ErrBillDigest = paygate.ErrBillDigest
	// ErrNoBill is what a channel says for a day without trades; Fetch
	// turns it into an empty BillFile, not an error.
	ErrNoBill = paygate.ErrNoBill
	// ErrNoBillSource: the provider's channel cannot serve bills; give the
	// bill as a file (FileBill).
	ErrNoBillSource = errors.New("the channel serves no bills")
)

// BillFile is a day's bill of a provider kept as a local file.
type BillFile struct {
	Provider string
	Kind     string
	Day      time.Time // the CST calendar day, at midnight
	// Account is the merchant account the bill must belong to ("" when the
	// provider does not say, and then not checked).
	Account string
	// Path is the file; "" when Empty.
	Path string
	// SHA1 is the hex SHA1 of the file as stored (of the raw, gunzipped
	// bill for WeChat: the same as the channel's hash_value).
	SHA1 string
	Size int64
	// Empty: the channel has no bill for the day because nothing happened
	// (WeChat NO_STATEMENT_EXIST, UnionPay 98...): an empty bill.
	Empty bool
	// Name is the channel's name of the file, when it gave one.
	Name string
}

// Open reads the bill (an empty reader for an Empty one).
func (b *BillFile) Open() (BillReadCloser, error) {
	if b.Empty {
		return EmptyBill(), nil
	}
	return OpenBill(b.Kind, b.Path, b.Account, b.Day)
}

// billExt is the file name ending per kind, as the channels name them.
var billExt = map[string]string{
	paygate.KindWeChat:   ".csv",
	paygate.KindAlipay:   ".csv.zip",
	paygate.KindUnionPay: ".zip",
	paygate.KindECNY:     ".txt",
	paygate.KindAcquirer: ".csv",
}

// Account is the merchant account ch's bills are for ("" when it does not
// say).
func Account(ch paygate.Channel) string {
	if a, ok := paygate.As[paygate.BillAccounter](ch); ok {
		return a.BillAccount()
	}
	return ""
}

// Fetch downloads the bill of day (a CST calendar day) from ch into a new
// file in dir, streaming: the bill is never held in memory. The file is
// written under a temporary name and renamed when complete, so a file in
// dir is always a whole bill. A day without trades is an Empty BillFile.
//
// Returns an error wrapping ErrBillNotReady when the channel has not made
// the bill yet, a *ParseError wrapping ErrBillDigest when the file fails
// the channel's digest, ErrNoBillSource when ch serves no bills, and the
// channel's *paygate.ChannelError otherwise.
func Fetch(ctx context.Context, ch paygate.Channel, day time.Time, dir string) (*BillFile, error) {
	f, ok := paygate.As[paygate.BillFetcher](ch)
	if !ok {
		return nil, fmt.Errorf("provider %s: %w", ch.ID(), ErrNoBillSource)
	}
	day = dayOf(day)
	bf := &BillFile{Provider: ch.ID(), Kind: ch.Kind(), Day: day, Account: Account(ch)}
	base := ch.ID() + "_" + day.Format("20060102")
	tmp, err := os.CreateTemp(dir, "."+base+"-*.part")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	h := sha1.New()
	counter := &countingWriter{}
	info, err := f.FetchBill(ctx, day, io.MultiWriter(tmp, h, counter))
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	switch {
	case errors.Is(err, paygate.ErrNoBill):
		bf.Empty = true
		return bf, nil
	case errors.Is(err, paygate.ErrBillDigest):
		return nil, &ParseError{File: base + billExt[bf.Kind], Msg: "the bill does not match the channel's digest: " + err.Error(), Err: err}
	case err != nil:
		return nil, err
	}
	bf.SHA1 = hex.EncodeToString(h.Sum(nil))
	bf.Size = counter.n
	if info != nil {
		bf.Name = info.Name
		if info.Account != "" {
			bf.Account = info.Account
		}
	}
	bf.Path = filepath.Join(dir, base+"_"+bf.SHA1[:12]+billExt[bf.Kind])
	if info != nil && info.Controls != "" {
		// The acquirer's 0510 totals, for the reader to check the file.
		if err := os.WriteFile(bf.Path+BatchTotalsSuffix, []byte(info.Controls+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(tmp.Name(), bf.Path); err != nil {
		return nil, err
	}
	return bf, nil
}

// FileBill describes a bill received by other means (e-mail, SFTP: the
// --bill FILE of `paygate recon run`) as a BillFile of ch's provider,
// reading it once for its SHA1. The file is read as it is; its format is
// checked when it is opened.
func FileBill(ch paygate.Channel, day time.Time, path string) (*BillFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha1.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, err
	}
	return &BillFile{Provider: ch.ID(), Kind: ch.Kind(), Day: dayOf(day), Account: Account(ch), Path: path,
		SHA1: hex.EncodeToString(h.Sum(nil)), Size: n, Name: filepath.Base(path)}, nil
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
