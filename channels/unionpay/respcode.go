package unionpay

import "github.com/paygate-cn/paygate"

// Response codes of the platform (《平台接入接口规范 第5部分 附录》) that
// paygate tells apart. Every other code is a final refusal.
const (
	RespSuccess        = "00" // 成功
	RespFailed         = "01" // 交易失败
	RespTimeout        = "03" // 交易通讯超时，请发起查询交易
	RespUnknown        = "04" // 交易状态未明，请查询对账结果
	RespAccepted       = "05" // 交易已受理，请稍后查询交易结果
	RespBusy           = "06" // 系统繁忙，请稍后再试
	RespFormat         = "10" // 报文格式错误
	RespBadSignature   = "11" // 验证签名失败
	RespDuplicate      = "12" // 重复交易
	RespMissingField   = "13" // 报文交易要素缺失
	RespAmountLimit    = "33" // 交易金额超限
	RespNoSuchTxn      = "34" // 查无此交易
	RespOrigBadState   = "35" // 原交易不存在或状态不正确
	RespOrigMismatch   = "36" // 与原交易信息不符
	RespRisk           = "38" // 银联风险受限
	RespAlreadyUndone  = "45" // 原交易已被成功退货或已被成功撤销
	RespBadNumber      = "44" // 输入号码错误或暂未开通此项业务 (payment code invalid)
	RespInvalidCard    = "61" // 输入的卡号无效
	RespCardState      = "63" // 卡状态不正确
	RespInsufficient   = "64" // 卡上的余额不足
	RespCardExpired    = "73" // 支付卡已超过有效期
	RespMonthlyLimit   = "81" // 月累计交易笔数(金额)超限
	RespFileNotPresent = "98" // 文件不存在
)

// unknownCodes leave the outcome undecided: the caller must query.
// 06 is included because a busy platform may or may not have kept the
// request; treating it as a refusal could hide a payment.
func unknownCode(code string) bool {
	return code == RespTimeout || code == RespUnknown || code == RespBusy
}

// failureOf turns a refusal into paygate's Failure.
func failureOf(code, msg string) *paygate.Failure {
	f := &paygate.Failure{Code: "declined", Message: msg, ChannelCode: code}
	switch code {
	case RespInsufficient:
		f.Code = "insufficient_balance"
	case RespAmountLimit, RespMonthlyLimit:
		f.Code = "amount_limit_exceeded"
	case RespBadNumber:
		f.Code = "invalid_auth_code"
	case RespInvalidCard, RespCardState:
		f.Code = "invalid_card"
	case RespCardExpired:
		f.Code = "card_expired"
	case RespRisk:
		f.Code = "risk_declined"
	case RespBadSignature, RespFormat, RespMissingField:
		f.Code = "channel_rejected_request"
	case RespOrigBadState, RespOrigMismatch, RespAlreadyUndone:
		f.Code = "invalid_state"
	}
	if f.Message == "" {
		f.Message = "declined by UnionPay (respCode " + code + ")"
	}
	return f
}
