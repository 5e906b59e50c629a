package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// Official vectors, docs/wechat.md §5.
const (
	pushVecToken  = "AAAAA"
	pushVecAESKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // 43 × A
	pushVecAppID  = "wxba5fad812f8e6fb9"

	pushVecHandshakeTS    = "1714036504"
	pushVecHandshakeNonce = "1514711492"
	pushVecHandshakeSig   = "f464b24fc39322e44b38aa78f5edd27bd1441696"

	pushVecTS      = "1714112445"
	pushVecNonce   = "415670741"
	pushVecEncrypt = "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="
	pushVecMsgSig  = "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"
	pushVecPlain   = `{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}`

	pushVecReplyRandom  = "707722b803182950"
	pushVecReplyMsg     = `{"demo_resp":"good luck"}`
	pushVecReplyEncrypt = "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ=="
	pushVecReplyTS      = "1713424427"
	pushVecReplyNonce   = "415670741"
	pushVecReplyMsgSig  = "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1"
)

func pushVecCryptor(t testing.TB) *Cryptor {
	t.Helper()
	c, err := NewCryptor(pushVecAESKey, pushVecAppID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pushRawKey is the AES key behind pushVecAESKey, for tests that build
// ciphertexts by hand.
func pushRawKey(t testing.TB) []byte {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(pushVecAESKey + "=")
	if err != nil || len(key) != 32 {
		t.Fatalf("vector key: %v (%d bytes)", err, len(key))
	}
	return key
}

// pushEncryptRaw CBC-encrypts an already padded plaintext with the vector key,
// bypassing every check of Cryptor.
func pushEncryptRaw(t testing.TB, plain []byte) string {
	t.Helper()
	key := pushRawKey(t)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(plain)
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, out)
	return base64.StdEncoding.EncodeToString(out)
}

// pushDecryptRaw undoes pushEncryptRaw without unpadding.
func pushDecryptRaw(t testing.TB, encrypt string) []byte {
	t.Helper()
	key := pushRawKey(t)
	raw, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(raw, raw)
	return raw
}

func TestSignatureVector(t *testing.T) {
	if got := Signature(pushVecToken, pushVecHandshakeTS, pushVecHandshakeNonce); got != pushVecHandshakeSig {
		t.Fatalf("Signature = %s, want %s", got, pushVecHandshakeSig)
	}
	// Order of the arguments must not matter: they are sorted.
	if got := Signature(pushVecHandshakeNonce, pushVecToken, pushVecHandshakeTS); got != pushVecHandshakeSig {
		t.Fatalf("Signature with permuted inputs = %s", got)
	}
}

func TestMsgSignatureVectors(t *testing.T) {
	if got := MsgSignature(pushVecToken, pushVecTS, pushVecNonce, pushVecEncrypt); got != pushVecMsgSig {
		t.Errorf("MsgSignature(push) = %s, want %s", got, pushVecMsgSig)
	}
	if got := MsgSignature(pushVecToken, pushVecReplyTS, pushVecReplyNonce, pushVecReplyEncrypt); got != pushVecReplyMsgSig {
		t.Errorf("MsgSignature(reply) = %s, want %s", got, pushVecReplyMsgSig)
	}
}

func TestDecryptVector(t *testing.T) {
	c := pushVecCryptor(t)
	got, err := c.Decrypt(pushVecEncrypt)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != pushVecPlain {
		t.Fatalf("Decrypt = %s\nwant     %s", got, pushVecPlain)
	}

	// The vector's pad byte is 19: valid under a 32-byte block, impossible
	// under a 16-byte one, so a 16-byte unpad would have rejected it.
	raw := pushDecryptRaw(t, pushVecEncrypt)
	if pad := raw[len(raw)-1]; pad != 19 {
		t.Fatalf("vector pad byte = %d, want 19", pad)
	}
	if len(raw)%32 != 0 {
		t.Fatalf("vector ciphertext is %d bytes, not a multiple of 32", len(raw))
	}
}

func TestEncryptReplyVector(t *testing.T) {
	c := pushVecCryptor(t)
	got, err := c.EncryptWithRandom([]byte(pushVecReplyRandom), []byte(pushVecReplyMsg))
	if err != nil {
		t.Fatal(err)
	}
	if got != pushVecReplyEncrypt {
		t.Fatalf("EncryptWithRandom = %s\nwant              %s", got, pushVecReplyEncrypt)
	}
	if sig := MsgSignature(pushVecToken, pushVecReplyTS, pushVecReplyNonce, got); sig != pushVecReplyMsgSig {
		t.Fatalf("MsgSignature = %s, want %s", sig, pushVecReplyMsgSig)
	}
	back, err := c.Decrypt(got)
	if err != nil || string(back) != pushVecReplyMsg {
		t.Fatalf("Decrypt(reply) = %q, %v", back, err)
	}
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	c := pushVecCryptor(t)
	// Lengths around the block boundaries, including those that need a full
	// 32-byte pad block (16+4+len+18 ≡ 0 mod 32 at len = 26, 58, ...).
	for n := 0; n <= 130; n++ {
		msg := bytes.Repeat([]byte{byte('a' + n%26)}, n)
		enc, err := c.Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		raw := pushDecryptRaw(t, enc)
		if len(raw)%32 != 0 {
			t.Fatalf("len %d: ciphertext %d bytes", n, len(raw))
		}
		if pad := int(raw[len(raw)-1]); pad < 1 || pad > 32 || (16+4+n+len(pushVecAppID)+pad)%32 != 0 {
			t.Fatalf("len %d: pad %d", n, pad)
		}
		got, err := c.Decrypt(enc)
		if err != nil {
			t.Fatalf("len %d: %v", n, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("len %d: got %q", n, got)
		}
	}
	// Encrypt uses a fresh random prefix each time.
	a, _ := c.Encrypt([]byte("same"))
	b, _ := c.Encrypt([]byte("same"))
	if a == b {
		t.Fatal("two encryptions of the same message are identical")
	}
}

// pushPlain builds 16 random bytes ‖ length ‖ msg ‖ appid with a chosen
// length field, padded with 32-byte PKCS#7.
func pushPlain(lenField uint32, msg, appID string) []byte {
	p := append([]byte("0123456789abcdef"), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(p[16:], lenField)
	p = append(p, msg...)
	p = append(p, appID...)
	pad := 32 - len(p)%32
	return append(p, bytes.Repeat([]byte{byte(pad)}, pad)...)
}

func TestDecryptRejects(t *testing.T) {
	c := pushVecCryptor(t)
	msg := `{"a":1}`
	good := pushPlain(uint32(len(msg)), msg, pushVecAppID)
	if _, err := c.Decrypt(pushEncryptRaw(t, good)); err != nil {
		t.Fatalf("control case: %v", err)
	}
	withLast := func(p []byte, f func([]byte)) []byte { p = bytes.Clone(p); f(p); return p }
	// 64 bytes whose last block is all padding with the given byte.
	padded := func(pad byte) []byte {
		p := pushPlain(uint32(len(msg)), msg, pushVecAppID)
		return withLast(p, func(p []byte) { p[len(p)-1] = pad })
	}

	tests := []struct {
		name    string
		encrypt string
		want    error
	}{
		{"bad base64", "not*base64!", ErrDecrypt},
		{"base64 with newline", pushVecEncrypt[:40] + "\n" + pushVecEncrypt[40:], ErrDecrypt},
		{"empty", "", ErrDecrypt},
		{"16-byte ciphertext", base64.StdEncoding.EncodeToString(make([]byte, 16)), ErrDecrypt},
		{"48-byte ciphertext", base64.StdEncoding.EncodeToString(make([]byte, 48)), ErrDecrypt},
		{"truncated vector", base64.StdEncoding.EncodeToString(pushDecodeB64(t, pushVecEncrypt)[:33]), ErrDecrypt},
		{"pad 0", pushEncryptRaw(t, padded(0)), ErrDecrypt},
		{"pad 33", pushEncryptRaw(t, padded(33)), ErrDecrypt},
		{"pad 255", pushEncryptRaw(t, padded(255)), ErrDecrypt},
		{"inconsistent pad bytes", pushEncryptRaw(t, withLast(good, func(p []byte) { p[len(p)-2] ^= 1 })), ErrDecrypt},
		{"length field too large", pushEncryptRaw(t, pushPlain(uint32(len(msg))+1, msg, pushVecAppID)), ErrDecrypt},
		{"length field huge", pushEncryptRaw(t, pushPlain(0xFFFFFFFF, msg, pushVecAppID)), ErrDecrypt},
		{"length field too small", pushEncryptRaw(t, pushPlain(uint32(len(msg))-1, msg, pushVecAppID)), ErrDecrypt},
		{"plaintext shorter than prefix and appid", pushEncryptRaw(t, pushPlain(0, "", "wx")), ErrDecrypt},
		{"wrong appid, same length", pushEncryptRaw(t, pushPlain(uint32(len(msg)), msg, "wxaaaaaaaaaaaaaaaa")), ErrAppIDMismatch},
		{"wrong appid, longer", pushEncryptRaw(t, pushPlain(uint32(len(msg)), msg, pushVecAppID+"x")), ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Decrypt(tt.encrypt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decrypt = %q, %v; want %v", got, err, tt.want)
			}
			pushAssertNoSecret(t, err)
		})
	}

	// An appid whose length differs is still caught by the exact-fit rule,
	// and the same appid encrypted by another Cryptor is accepted.
	other, err := NewCryptor(pushVecAESKey, "wx0000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := other.Encrypt([]byte(msg))
	if _, err := c.Decrypt(enc); !errors.Is(err, ErrAppIDMismatch) {
		t.Fatalf("other appid: %v", err)
	}
}

func pushDecodeB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pushAssertNoSecret fails if err mentions the vector key, its raw bytes in
// any printable form, or the token.
func pushAssertNoSecret(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	s := err.Error()
	for _, secret := range []string{pushVecAESKey, pushVecAESKey[:10], pushVecToken, "AAAAA"} {
		if strings.Contains(s, secret) {
			t.Fatalf("error %q leaks secret material", s)
		}
	}
}

func TestNewCryptorRejects(t *testing.T) {
	tests := []struct {
		name, key, appID string
		want             error
	}{
		{"42 chars", strings.Repeat("B", 42), pushVecAppID, ErrBadAESKey},
		{"44 chars", strings.Repeat("B", 44), pushVecAppID, ErrBadAESKey},
		{"empty", "", pushVecAppID, ErrBadAESKey},
		{"43 chars not base64", strings.Repeat("B", 42) + "*", pushVecAppID, ErrBadAESKey},
		{"43 chars with padding", strings.Repeat("B", 41) + "==", pushVecAppID, ErrBadAESKey},
		{"no appid", strings.Repeat("B", 43), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCryptor(tt.key, tt.appID)
			if err == nil || c != nil {
				t.Fatalf("NewCryptor = %v, %v; want error", c, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if len(tt.key) >= 10 && strings.Contains(err.Error(), tt.key[len(tt.key)-10:]) {
				t.Fatalf("error %q echoes the key", err)
			}
		})
	}
}

func TestEncryptWithRandomRejectsBadPrefix(t *testing.T) {
	c := pushVecCryptor(t)
	for _, n := range []int{0, 15, 17} {
		if _, err := c.EncryptWithRandom(make([]byte, n), []byte("x")); err == nil {
			t.Errorf("random of %d bytes accepted", n)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	c := pushVecCryptor(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(pushVecEncrypt)))
	for b.Loop() {
		if _, err := c.Decrypt(pushVecEncrypt); err != nil {
			b.Fatal(err)
		}
	}
}
