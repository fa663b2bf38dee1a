import datetime
import json
import secrets

import paygate

from . import gateway


def client(**kwargs):
    kwargs.setdefault("base_url", gateway.base_url())
    return paygate.Client(key_id=gateway.KEY_ID, secret=gateway.SECRET, **kwargs)


def order_no():
    return "SDKPY-" + secrets.token_hex(8)


def wechat_code():
    """A WeChat payment code (18 digits, 10-15) whose last four digits pick
    no sandbox scenario: the payment succeeds at once."""
    code = "13" + "".join(str(secrets.randbelow(10)) for _ in range(16))
    last = code[-4:]
    if len(set(last)) == 1:
        code = code[:-4] + "1234"
    return code


def luhn(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


def emv(pan):
    """The TLV of a chip read: PAN (5A) and expiry (5F24)."""
    p = pan + ("F" if len(pan) % 2 else "")
    return "5A%02X%s5F2403301231" % (len(p) // 2, p)


def cst_today():
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).strftime("%Y-%m-%d")


def body_of(ex):
    return json.loads(ex["body"].decode("utf-8"))
