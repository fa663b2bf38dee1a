package reconcile

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Each benchmark reads a generated 100,000-line bill of its format from
// memory and reports lines/s; allocs/op divided by 100,000 is the
// allocations per line. docs/performance.md has the figures.
const benchLines = 100_000

func benchRead(b *testing.B, data []byte, open func(io.Reader) BillReader) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		r := open(bytes.NewReader(data))
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != benchLines {
			b.Fatalf("%d lines", n)
		}
	}
	b.ReportMetric(float64(b.N)*benchLines/time.Since(start).Seconds(), "lines/s")
}

func fen2yuan(v int64) string { return yuanText(v) }

func genWeChat() []byte {
	var buf bytes.Buffer
	buf.WriteString("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n")
	var total, fees int64
	for i := range benchLines {
		amt := int64(100 + i%5000)
		fee := (amt*6 + 500) / 1000
		total += amt
		fees += fee
		n := strconv.Itoa(1000000000 + i)
		f := []string{"2026-11-21 10:00:01", "wx8888888888888888", "1900000109", "0", "", "42000012342026112" + n, "ord_" + n,
			"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "MICROPAY", "SUCCESS", "OTHERS", "CNY", fen2yuan(amt), "0.00", "0", "0", "0.00", "0.00",
			"", "", "咖啡", "", fen2yuan(fee) + "000", "0.60%", fen2yuan(amt), "0.00", ""}
		buf.WriteString("`" + strings.Join(f, ",`") + "\r\n")
	}
	buf.WriteString("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n")
	buf.WriteString("`" + strings.Join([]string{strconv.Itoa(benchLines), fen2yuan(total), "0.00", "0.00", fen2yuan(fees), fen2yuan(total), "0.00"}, ",`") + "\r\n")
	return buf.Bytes()
}

func BenchmarkWeChatReader(b *testing.B) {
	data := genWeChat()
	benchRead(b, data, func(r io.Reader) BillReader { return NewWeChatReader(r, "bench", "1900000109") })
}

func genAlipay(b *testing.B) []byte {
	var s strings.Builder
	s.WriteString("#支付宝业务明细查询\n#账号：[20889211234567890156]\n#-----------------------------------------业务明细列表----------------------------------------\n")
	s.WriteString("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\n")
	var total int64
	for i := range benchLines {
		amt := int64(100 + i%5000)
		total += amt
		n := strconv.Itoa(1000000000 + i)
		f := []string{"202611212200140000" + n, "ord_" + n, "交易", "咖啡", "2026-11-21 10:00:00", "2026-11-21 10:00:05", "", "", "", "", "buy***@example.com",
			fen2yuan(amt), fen2yuan(amt), "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", "", "-" + fen2yuan((amt*6+500)/1000), "0.00", ""}
		s.WriteString(strings.Join(f, "\t,") + "\t\n")
	}
	s.WriteString("#-----------------------------------------业务明细列表结束------------------------------------\n")
	s.WriteString("#交易合计：" + strconv.Itoa(benchLines) + "笔，商家实收：" + fen2yuan(total) + "元，商家优惠：0.00元\n#退款合计：0笔，商家实收：0.00元，商家优惠：0.00元\n")
	return gbk(b, s.String())
}

func BenchmarkAlipayReader(b *testing.B) {
	data := genAlipay(b)
	benchRead(b, data, func(r io.Reader) BillReader {
		return NewAlipayDetailReader(r, "bench", "2088921123456789", time.Time{})
	})
}

func BenchmarkZMReader(b *testing.B) {
	var buf bytes.Buffer
	for i := range benchLines {
		r := zmConsume
		n := strconv.Itoa(100000 + i)
		r.trace = n
		r.queryID = "261121100005000" + n
		r.orderID = "ord01kf0n4r6g8h3m5q7s" + n
		buf.WriteString(r.record(b, i%2 == 0) + "\r\n")
	}
	data := buf.Bytes()
	benchRead(b, data, func(r io.Reader) BillReader {
		return NewZMReader(r, "bench", unionMerID, day(2026, 11, 21), false)
	})
}

func BenchmarkECNYReader(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("ECNYBILL|1.0|898310000000001|20261121\ntrade_time|trade_type|out_trade_no|trade_no|out_refund_no|refund_no|wallet_type|wallet_id|amount|fee|status\n")
	var total int64
	for i := range benchLines {
		amt := int64(100 + i%5000)
		total += amt
		n := strconv.Itoa(1000000000 + i)
		buf.WriteString("2026-11-21 15:30:00|PAY|ord_" + n + "|E20261121" + n + "|||SOFT|0021****5678|" + strconv.FormatInt(amt, 10) + "|0|SUCCESS\n")
	}
	buf.WriteString("TOTAL|" + strconv.Itoa(benchLines) + "|" + strconv.FormatInt(total, 10) + "|0|0|0\n")
	benchRead(b, buf.Bytes(), func(r io.Reader) BillReader {
		return NewECNYReader(r, "bench", "898310000000001", time.Time{})
	})
}

func BenchmarkAcquirerReader(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("acquirer_id,merchant_no,terminal_id,batch_no,stan,rrn,orig_rrn,auth_code,txn_time,txn_type,dc,pan,card_type,issuer,amount,fee,settle_amount,settle_date\n")
	var total, fees int64
	for i := range benchLines {
		amt := int64(100 + i%5000)
		fee := (amt*6 + 500) / 1000
		total += amt
		fees += fee
		n := strconv.Itoa(100000 + i)
		buf.WriteString("48020000,898310058125812,T0001,261121," + n + ",63251" + n + "1,,000001,20261121103005,SALE,D,622202******0007,DEBIT,ICBC," +
			strconv.FormatInt(amt, 10) + "," + strconv.FormatInt(fee, 10) + "," + strconv.FormatInt(amt-fee, 10) + ",20261121\n")
	}
	buf.WriteString("TOTAL," + strconv.Itoa(benchLines) + "," + strconv.FormatInt(total, 10) + ",0,0," + strconv.FormatInt(fees, 10) + "," + strconv.FormatInt(total-fees, 10) + "\n")
	benchRead(b, buf.Bytes(), func(r io.Reader) BillReader {
		return NewAcquirerReader(r, "bench", "48020000", time.Time{}, nil)
	})
}
