package unionpay

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Canonical is the string signMethod 01 signs: every field except
// `signature`, sorted by key in byte order, joined as key=value with '&'.
// Values are taken as they are, not URL-encoded.
func Canonical(fields map[string]string) string {
	keys := make([]string, 0, len(fields))
	n := 0
	for k, v := range fields {
		if k == "signature" {
			continue
		}
		keys = append(keys, k)
		n += len(k) + len(v) + 2
	}
	sort.Strings(keys)
	var b strings.Builder
	b.Grow(n)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(fields[k])
	}
	return b.String()
}

// digest is what signMethod 01 feeds to RSA: the lower-case hex SHA-256 of
// the canonical string is itself hashed with SHA-256 by SHA256withRSA.
func digest(fields map[string]string) []byte {
	inner := sha256.Sum256([]byte(Canonical(fields)))
	outer := sha256.Sum256([]byte(hex.EncodeToString(inner[:])))
	return outer[:]
}

// Sign sets fields["signature"] to the base64 RSA-SHA256 (PKCS #1 v1.5)
// signature of fields under key.
func Sign(fields map[string]string, key *rsa.PrivateKey) error {
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest(fields))
	if err != nil {
		return err
	}
	fields["signature"] = base64.StdEncoding.EncodeToString(sig)
	return nil
}

// Verify checks fields["signature"] against pub.
func Verify(fields map[string]string, pub *rsa.PublicKey) error {
	s, ok := fields["signature"]
	if !ok || s == "" {
		return errors.New("unionpay: no signature")
	}
	sig, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return errors.New("unionpay: signature is not base64")
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest(fields), sig); err != nil {
		return errors.New("unionpay: bad signature")
	}
	return nil
}

// ParsePrivateKey reads an RSA private key from PEM (PKCS #8 or PKCS #1).
func ParsePrivateKey(pemText string) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode([]byte(pemText))
	if blk == nil {
		return nil, errors.New("not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("not an RSA key (%T)", k)
	}
	return rk, nil
}

// ParsePublicKey reads an RSA public key from PEM: PKIX, PKCS #1 or an
// X.509 certificate (UnionPay distributes its keys as certificates).
func ParsePublicKey(pemText string) (*rsa.PublicKey, error) {
	blk, _ := pem.Decode([]byte(pemText))
	if blk == nil {
		return nil, errors.New("not PEM")
	}
	var k any
	var err error
	switch blk.Type {
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(blk.Bytes); err == nil {
			k = c.PublicKey
		}
	case "RSA PUBLIC KEY":
		k, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	default:
		k, err = x509.ParsePKIXPublicKey(blk.Bytes)
	}
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("not an RSA key (%T)", k)
	}
	return rk, nil
}

// EncryptPAN encrypts a card number for accNo (RSA PKCS #1 v1.5 under
// UnionPay's encryption key, base64), as sensitive fields are sent.
func EncryptPAN(pan string, pub *rsa.PublicKey) (string, error) {
	c, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte(pan))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(c), nil
}

// DecryptPAN reverses EncryptPAN.
func DecryptPAN(enc string, key *rsa.PrivateKey) (string, error) {
	c, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", err
	}
	p, err := rsa.DecryptPKCS1v15(nil, key, c)
	if err != nil {
		return "", err
	}
	return string(p), nil
}
