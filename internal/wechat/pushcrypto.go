package wechat

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Message-push crypto (docs/wechat.md §5): the signatures and WeChat's
// "safe mode" AES-256-CBC envelope.

// pushBlock is the PKCS#7 block size WeChat pads to. It is 32, not AES's 16:
// a 16-byte unpad rejects every message whose pad byte is 17..32.
const pushBlock = 32

// pushRandomLen is the length of the random prefix of a plaintext.
const pushRandomLen = 16

// Crypto errors, matched with errors.Is. None of them ever carries key
// material or decrypted bytes.
var (
	// ErrBadAESKey: the EncodingAESKey is not 43 base64 characters decoding
	// to 32 bytes.
	ErrBadAESKey = errors.New("wechat push: EncodingAESKey must be 43 base64 characters decoding to 32 bytes")
	// ErrDecrypt: the Encrypt field is not a well-formed ciphertext (base64,
	// block size, padding or length field).
	ErrDecrypt = errors.New("wechat push: cannot decrypt message")
	// ErrAppIDMismatch: the message decrypted but names another appid.
	ErrAppIDMismatch = errors.New("wechat push: message is for another appid")
)

// Signature is WeChat's push signature: the lowercase hex SHA-1 of the
// concatenation of the sorted token, timestamp and nonce.
func Signature(token, timestamp, nonce string) string {
	return pushSHA1Sorted(token, timestamp, nonce)
}

// MsgSignature is WeChat's safe-mode signature: the lowercase hex SHA-1 of
// the concatenation of the sorted token, timestamp, nonce and Encrypt field.
// Unlike Signature it covers the message body.
func MsgSignature(token, timestamp, nonce, encrypt string) string {
	return pushSHA1Sorted(token, timestamp, nonce, encrypt)
}

func pushSHA1Sorted(parts ...string) string {
	slices.Sort(parts)
	h := sha1.New()
	for _, p := range parts {
		h.Write([]byte(p)) //nolint:errcheck // hash.Hash.Write never fails
	}
	return hex.EncodeToString(h.Sum(nil))
}

// pushSignatureEqual compares a received signature with the expected one in
// constant time.
func pushSignatureEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// Cryptor does WeChat's safe-mode message crypto: AES-256-CBC with
// key = base64(EncodingAESKey+"="), IV = key[:16], PKCS#7 padding to a
// 32-byte block, and plaintext = 16 random bytes ‖ 4-byte big-endian message
// length ‖ message ‖ appid. It is safe for concurrent use.
//
// CBC carries no MAC: callers must check MsgSignature before calling Decrypt,
// so that the distinct decryption errors cannot serve as a padding oracle.
// Receiver.Open does.
type Cryptor struct {
	block cipher.Block
	iv    []byte
	appID []byte
}

// NewCryptor builds a Cryptor from the 43-character EncodingAESKey and the
// mini-program's appid, which every decrypted message must end with. Errors
// never echo the key.
func NewCryptor(encodingAESKey, appID string) (*Cryptor, error) {
	if len(encodingAESKey) != 43 {
		return nil, fmt.Errorf("%w (got %d characters)", ErrBadAESKey, len(encodingAESKey))
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		// err would quote the offending byte: do not wrap it.
		return nil, ErrBadAESKey
	}
	if appID == "" {
		return nil, errors.New("wechat push: cryptor needs the appid")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, ErrBadAESKey
	}
	return &Cryptor{block: block, iv: slices.Clone(key[:aes.BlockSize]), appID: []byte(appID)}, nil
}

// Encrypt encrypts msg with a random prefix from crypto/rand and returns the
// base64 Encrypt field.
func (c *Cryptor) Encrypt(msg []byte) (string, error) {
	random := make([]byte, pushRandomLen)
	if _, err := rand.Read(random); err != nil {
		return "", fmt.Errorf("wechat push: random prefix: %w", err)
	}
	return c.EncryptWithRandom(random, msg)
}

// EncryptWithRandom encrypts msg with the given 16-byte random prefix. It
// exists for test vectors; use Encrypt otherwise.
func (c *Cryptor) EncryptWithRandom(random []byte, msg []byte) (string, error) {
	if len(random) != pushRandomLen {
		return "", fmt.Errorf("wechat push: random prefix must be %d bytes, got %d", pushRandomLen, len(random))
	}
	if uint64(len(msg)) > math.MaxUint32-uint64(len(c.appID)) {
		return "", errors.New("wechat push: message too long to encrypt")
	}
	n := pushRandomLen + 4 + len(msg) + len(c.appID)
	pad := pushBlock - n%pushBlock // 1..32: a full block when n is aligned
	plain := make([]byte, 0, n+pad)
	plain = append(plain, random...)
	plain = binary.BigEndian.AppendUint32(plain, uint32(len(msg)))
	plain = append(plain, msg...)
	plain = append(plain, c.appID...)
	for range pad {
		plain = append(plain, byte(pad))
	}
	cipher.NewCBCEncrypter(c.block, c.iv).CryptBlocks(plain, plain)
	return base64.StdEncoding.EncodeToString(plain), nil
}

// Decrypt decrypts a base64 Encrypt field and returns the message. It
// rejects bad base64, a ciphertext that is not a whole number of 32-byte
// blocks, bad padding (pad byte outside 1..32 or pad bytes that differ), a
// length field that does not account for exactly the bytes between the
// prefix and the appid, and an appid other than the Cryptor's.
func (c *Cryptor) Decrypt(encrypt string) ([]byte, error) {
	// Whitespace is not part of WeChat's encoding; base64's decoder would
	// skip \r and \n silently, so refuse them up front.
	if strings.ContainsAny(encrypt, "\r\n") {
		return nil, fmt.Errorf("%w: bad base64", ErrDecrypt)
	}
	raw, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		return nil, fmt.Errorf("%w: bad base64", ErrDecrypt)
	}
	if len(raw) == 0 || len(raw)%pushBlock != 0 {
		return nil, fmt.Errorf("%w: ciphertext of %d bytes is not a whole number of %d-byte blocks", ErrDecrypt, len(raw), pushBlock)
	}
	cipher.NewCBCDecrypter(c.block, c.iv).CryptBlocks(raw, raw)

	pad := int(raw[len(raw)-1])
	if pad < 1 || pad > pushBlock {
		return nil, fmt.Errorf("%w: bad padding", ErrDecrypt)
	}
	for _, b := range raw[len(raw)-pad:] {
		if int(b) != pad {
			return nil, fmt.Errorf("%w: bad padding", ErrDecrypt)
		}
	}
	plain := raw[:len(raw)-pad]

	if len(plain) < pushRandomLen+4+len(c.appID) {
		return nil, fmt.Errorf("%w: plaintext too short", ErrDecrypt)
	}
	n := uint64(binary.BigEndian.Uint32(plain[pushRandomLen:]))
	if n != uint64(len(plain)-pushRandomLen-4-len(c.appID)) {
		return nil, fmt.Errorf("%w: length field does not match the plaintext", ErrDecrypt)
	}
	start := pushRandomLen + 4
	end := start + int(n)
	if subtle.ConstantTimeCompare(plain[end:], c.appID) != 1 {
		return nil, ErrAppIDMismatch
	}
	return plain[start:end:end], nil
}
