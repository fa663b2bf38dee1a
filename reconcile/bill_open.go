package reconcile

import (
	"archive/zip"
	"bufio"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/paygate-cn/paygate"
)

// BillReadCloser is a BillReader over a file; Close releases the file.
type BillReadCloser interface {
	BillReader
	io.Closer
}

// OpenBillFile opens the bill file at path as OpenBill does, for a run:
// the raw file's SHA-1 (the run's bill_sha1, docs/reconciliation.md) is
// computed first, so that the run records which file it matched. It is
// what `paygate recon run --bill FILE` reads.
func OpenBillFile(kind, path, account string, day time.Time) (*Bill, error) {
	sum, err := fileSHA1(path)
	if err != nil {
		return nil, err
	}
	br, err := OpenBill(kind, path, account, day)
	if err != nil {
		return nil, err
	}
	return &Bill{Reader: br, SHA1: sum, Close: br.Close}, nil
}

// fileSHA1 returns the hex SHA-1 of the file at path.
func fileSHA1(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha1.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// OpenBill opens the bill at path as a kind's bill (paygate.KindWeChat,
// ...), for the merchant account the provider has at the channel (mchid,
// pid, merId, e-CNY or acquirer merchant no.; "" skips the foreign-file
// check) and the CST calendar day it covers (the zero time skips the date
// checks; UnionPay then takes the year from the file name).
//
// Any file a channel serves or a finance team receives is accepted as it
// is: WeChat's bill raw or gzipped; Alipay's csv.zip or its detail CSV
// alone; UnionPay's archive or a bare ZM/ZME file; the e-CNY bill; the
// acquirer's settlement file (with the 0510 totals Fetch keeps beside it).
// A file that is none of these is a *ParseError.
func OpenBill(kind, path, account string, day time.Time) (BillReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Size() == 0 {
		f.Close()
		return nil, &ParseError{File: path, Line: 1, Msg: "truncated bill: the file is empty"}
	}
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	isZip := n == 4 && string(magic[:]) == "PK\x03\x04"
	isGzip := n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b

	var r io.Reader = bufio.NewReaderSize(f, 64<<10)
	closers := []io.Closer{f}
	if isGzip {
		gz, err := gzip.NewReader(r)
		if err != nil {
			f.Close()
			return nil, &ParseError{File: path, Msg: "not a gzip stream: " + err.Error()}
		}
		r = gz
		closers = append(closers, gz)
	}
	done := func(br BillReader, extra io.Closer) (BillReadCloser, error) {
		if extra != nil {
			closers = append([]io.Closer{extra}, closers...)
		}
		return &fileBill{BillReader: br, closers: closers}, nil
	}
	fail := func(err error) (BillReadCloser, error) {
		for _, c := range closers {
			c.Close()
		}
		return nil, err
	}
	openZip := func(open func(*zip.Reader, string, string, time.Time) (BillReader, io.Closer, error)) (BillReadCloser, error) {
		zr, err := zip.NewReader(f, st.Size())
		if err != nil {
			return fail(&ParseError{File: path, Msg: "not a zip archive: " + err.Error()})
		}
		br, c, err := open(zr, path, account, day)
		if err != nil {
			return fail(err)
		}
		return done(br, c)
	}

	switch kind {
	case paygate.KindWeChat:
		return done(NewWeChatReader(r, path, account), nil)
	case paygate.KindAlipay:
		if isZip {
			return openZip(openAlipayZip)
		}
		return done(NewAlipayDetailReader(r, path, account, day), nil)
	case paygate.KindUnionPay:
		if isZip {
			return openZip(openZMZip)
		}
		d, mer, errFile, ok := parseZMName(filepath.Base(path))
		if ok {
			if account != "" && mer != account {
				return fail(&ParseError{File: path, Msg: "foreign bill: merId " + mer + " is not " + account, Err: ErrForeignBill})
			}
			if !day.IsZero() && !d.Equal(dayOf(day)) {
				return fail(&ParseError{File: path, Msg: "bill of another day: settlement date " + d.Format("2006-01-02")})
			}
			day = d
		} else if day.IsZero() {
			return fail(&ParseError{File: path, Msg: "a ZM file not named INN{yyMMdd}88ZM_{merId} needs its settlement day"})
		}
		return done(NewZMReader(r, path, account, day, errFile), nil)
	case paygate.KindECNY:
		return done(NewECNYReader(r, path, account, day), nil)
	case paygate.KindAcquirer:
		batch, err := readBatchTotals(path)
		if err != nil {
			return fail(err)
		}
		return done(NewAcquirerReader(r, path, account, day, batch), nil)
	}
	return fail(&ParseError{File: path, Msg: "no bill reader for channel kind " + kind})
}

type fileBill struct {
	BillReader
	closers []io.Closer
}

func (b *fileBill) Close() error {
	var first error
	for _, c := range b.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	b.closers = nil
	return first
}

// EmptyBill is the bill of a day without trades (WeChat NO_STATEMENT_EXIST,
// Alipay or UnionPay without a file): its first Next is io.EOF.
func EmptyBill() BillReadCloser { return emptyBill{} }

type emptyBill struct{}

func (emptyBill) Next() (Line, error) { return Line{}, io.EOF }
func (emptyBill) Close() error        { return nil }
