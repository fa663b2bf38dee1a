package unionpay

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestReadFileAnswer(t *testing.T) {
	body := "certId=1&fileContent=QUJD+/==&fileName=a.zip&reserved={a=b&c=d}&respCode=00&signature=c2ln=="
	var spool bytes.Buffer
	f, n, err := readFileAnswer(bufio.NewReaderSize(strings.NewReader(body), 16), &spool)
	if err != nil {
		t.Fatal(err)
	}
	if spool.String() != "QUJD+/==" || n != 8 || f["fileName"] != "a.zip" || f["reserved"] != "{a=b&c=d}" ||
		f["signature"] != "c2ln==" || f["respCode"] != "00" {
		t.Fatalf("%q %d %v", spool.String(), n, f)
	}
	for _, bad := range []string{"", "=x", "a=1&a=2", "novalue"} {
		if _, _, err := readFileAnswer(bufio.NewReader(strings.NewReader(bad)), &spool); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzReadFileAnswer: the file transfer answer reader never panics and
// never keeps more than MaxMessage of fields beside the spooled content.
func FuzzReadFileAnswer(f *testing.F) {
	f.Add("certId=1&fileContent=QUJD&respCode=00&signature=c2ln")
	f.Add("respCode=98&respMsg={x=y}")
	f.Fuzz(func(t *testing.T, body string) {
		var spool bytes.Buffer
		fields, n, err := readFileAnswer(bufio.NewReaderSize(strings.NewReader(body), 16), &spool)
		if err != nil {
			return
		}
		if int64(spool.Len()) != n {
			t.Fatalf("spooled %d, said %d", spool.Len(), n)
		}
		size := 0
		for k, v := range fields {
			size += len(k) + len(v)
		}
		if size > 2*MaxMessage+len(fields)*64 {
			t.Fatalf("fields hold %d bytes", size)
		}
	})
}
