package reconcile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuzzRead drains a reader: it must end with io.EOF or a *ParseError, never
// panic or loop, and every line it yields must be usable.
func fuzzRead(t *testing.T, r BillReader) {
	for i := 0; ; i++ {
		ln, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v, want *ParseError", err, err)
			}
			return
		}
		if ln.Amount < 0 || ln.Fee < 0 {
			t.Fatalf("negative amount or fee: %+v", ln)
		}
		if ln.Kind != LinePayment && ln.Kind != LineRefund {
			t.Fatalf("line without kind: %+v", ln)
		}
		if i > 1<<16 {
			t.Fatal("runaway reader")
		}
	}
}

func seed(f *testing.F, names ...string) {
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzWeChatReader(f *testing.F) {
	seed(f, "wechat_all.csv", "wechat_success.csv", "wechat_refund.csv", "wechat_legacy.csv", "wechat_empty.csv", "wechat_all_truncated.csv")
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRead(t, NewWeChatReader(bytes.NewReader(b), "fuzz", ""))
	})
}

func FuzzAlipayDetailReader(f *testing.F) {
	seed(f, "alipay_detail.csv")
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRead(t, NewAlipayDetailReader(bytes.NewReader(b), "fuzz", "", time.Time{}))
	})
}

func FuzzAlipaySummary(f *testing.F) {
	f.Add([]byte(alipaySummary("-0.03")))
	f.Fuzz(func(t *testing.T, b []byte) {
		readAlipaySummary(bytes.NewReader(b), "fuzz")
	})
}

func FuzzZMReader(f *testing.F) {
	seed(f, "INN26112188ZM_"+unionMerID, "INN26112288ZM_"+unionMerID, "INN27010188ZM_"+unionMerID, "INN26112188ZME_"+unionMerID)
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRead(t, NewZMReader(bytes.NewReader(b), "fuzz", "", day(2026, 1, 2), false))
	})
}

func FuzzECNYReader(f *testing.F) {
	seed(f, "ecny_20261121.txt", "ecny_empty.txt", "ecny_truncated.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRead(t, NewECNYReader(bytes.NewReader(b), "fuzz", "", time.Time{}))
	})
}

func FuzzAcquirerReader(f *testing.F) {
	seed(f, "acquirer_20261121.csv", "acquirer_truncated.csv")
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRead(t, NewAcquirerReader(bytes.NewReader(b), "fuzz", "", time.Time{}, nil))
	})
}

// FuzzOpenBillZip feeds archives to the zip readers (Alipay, UnionPay).
func FuzzOpenBillZip(f *testing.F) {
	seed(f, "20889211234567890156_20261121.csv.zip", "unionpay_20261121.zip")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "bill.zip")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{"alipay", "unionpay"} {
			r, err := OpenBill(kind, path, "", day(2026, 11, 21))
			if err != nil {
				continue
			}
			fuzzRead(t, r)
			r.Close()
		}
	})
}
