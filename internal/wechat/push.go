package wechat

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// The message-push receiver (WeChat → reminderd, docs/wechat.md §5).
//
// Open checks, in order: body size, mode, signature (msg_signature over the
// ciphertext in safe mode), timestamp skew, decryption and appid, event
// syntax, and finally duplicates. Only a delivery that passed everything is
// remembered, so a forged or broken request can neither fill the duplicate
// cache nor shadow a genuine delivery.

// Receiver errors, matched with errors.Is.
var (
	// ErrBadSignature: signature or msg_signature missing or wrong.
	ErrBadSignature = errors.New("wechat push: bad signature")
	// ErrStale: the timestamp is further than MaxSkew from now.
	ErrStale = errors.New("wechat push: stale timestamp")
	// ErrReplayed: a plaintext push whose signed query (timestamp, nonce)
	// was already seen with another body: the signature does not cover the
	// body, so this is a forgery with a query copied from a log.
	ErrReplayed = errors.New("wechat push: signed query already used with another body")
	// ErrDuplicate: this message was already accepted (a WeChat retry).
	// Answer it with "success" like the first delivery.
	ErrDuplicate = errors.New("wechat push: duplicate delivery")
	// ErrMalformed: the query, envelope or event cannot be decoded.
	ErrMalformed = errors.New("wechat push: malformed message")
	// ErrSafeModeDisabled: an encrypted push arrived but no AESKey is set.
	ErrSafeModeDisabled = errors.New("wechat push: safe mode not configured")
	// ErrPlaintextDisabled: a plaintext push arrived although an AESKey is
	// set and PushConfig.AllowPlaintext is false.
	ErrPlaintextDisabled = errors.New("wechat push: plaintext push not accepted in safe mode")
	// ErrBodyTooLarge: the body exceeds MaxBody.
	ErrBodyTooLarge = errors.New("wechat push: body too large")
)

// Defaults for PushConfig.
const (
	DefaultPushMaxSkew   = 5 * time.Minute
	DefaultPushMaxBody   = 64 << 10
	DefaultPushDedupSize = 10000
)

// PushConfig configures a Receiver.
type PushConfig struct {
	Token  string // message-push Token (required)
	AESKey string // EncodingAESKey; empty = safe mode not accepted
	AppID  string // checked against the decrypted appid in safe mode (required with AESKey)
	// AllowPlaintext also accepts plaintext pushes when AESKey is set (for a
	// switch through compatible mode). Off by default: a plaintext signature
	// does not cover the body, so anyone who saw one signed URL could post
	// any event with it within MaxSkew.
	AllowPlaintext bool
	MaxSkew        time.Duration    // reject timestamps further than this from now (default 5 min)
	Now            func() time.Time // injected clock (default time.Now)
	MaxBody        int64            // max body bytes (default 64 KiB)
	// DedupSize bounds the duplicate cache (default 10000). When it is full
	// the oldest entry is evicted: under a flood a late retry of an evicted
	// message is accepted again, so consumers must stay idempotent.
	DedupSize int
}

// Receiver verifies and decodes WeChat message pushes. It is safe for
// concurrent use.
type Receiver struct {
	cfg     PushConfig
	cryptor *Cryptor // nil unless safe mode is configured

	mu    sync.Mutex
	seen  map[[sha256.Size]byte]time.Time // key → expiry
	queue []pushSeen                      // ring buffer, oldest first
	head  int
}

type pushSeen struct {
	key    [sha256.Size]byte
	expiry time.Time
}

// NewReceiver validates cfg, applies defaults and builds a Receiver.
func NewReceiver(cfg PushConfig) (*Receiver, error) {
	if cfg.Token == "" {
		return nil, errors.New("wechat push: Token is required")
	}
	if cfg.MaxSkew < 0 || cfg.MaxBody < 0 || cfg.DedupSize < 0 {
		return nil, errors.New("wechat push: MaxSkew, MaxBody and DedupSize must not be negative")
	}
	if cfg.MaxSkew == 0 {
		cfg.MaxSkew = DefaultPushMaxSkew
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultPushMaxBody
	}
	if cfg.DedupSize == 0 {
		cfg.DedupSize = DefaultPushDedupSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Receiver{cfg: cfg, seen: make(map[[sha256.Size]byte]time.Time)}
	if cfg.AESKey != "" {
		if cfg.AppID == "" {
			return nil, errors.New("wechat push: AppID is required with AESKey")
		}
		c, err := NewCryptor(cfg.AESKey, cfg.AppID)
		if err != nil {
			return nil, err
		}
		r.cryptor = c
	}
	return r, nil
}

// Handshake verifies the console's GET ?signature&timestamp&nonce&echostr and
// returns echostr, to be answered verbatim as text/plain.
func (r *Receiver) Handshake(q url.Values) (string, error) {
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if !pushSignatureEqual(q.Get("signature"), Signature(r.cfg.Token, ts, nonce)) {
		return "", ErrBadSignature
	}
	if err := r.checkTime(ts); err != nil {
		return "", err
	}
	echo := q.Get("echostr")
	if echo == "" {
		return "", fmt.Errorf("handshake without echostr: %w", ErrMalformed)
	}
	return echo, nil
}

// Open verifies and decodes one pushed POST.
//
// Plaintext (no encrypt_type, or "raw"): the query's signature covers token,
// timestamp and nonce; the body is the event. Safe mode (encrypt_type=aes):
// msg_signature must cover the body's Encrypt field, which is decrypted and
// must name AppID. Both: the timestamp must be within MaxSkew of now, and a
// message already accepted within 2×MaxSkew is ErrDuplicate (keyed by the
// SHA-256 of the plaintext message, so retries match even though WeChat
// re-encrypts them, and two different events in the same second do not).
func (r *Receiver) Open(q url.Values, body []byte) (*Event, error) {
	var key [sha256.Size]byte
	return r.open(q, body, &key, true)
}

// open verifies and decodes a push; with cache, a message already accepted
// is ErrDuplicate.
func (r *Receiver) open(q url.Values, body []byte, key *[sha256.Size]byte, cache bool) (*Event, error) {
	if int64(len(body)) > r.cfg.MaxBody {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBodyTooLarge, len(body), r.cfg.MaxBody)
	}
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	var msg []byte
	switch et := q.Get("encrypt_type"); et {
	case "", "raw":
		if r.cryptor != nil && !r.cfg.AllowPlaintext {
			return nil, ErrPlaintextDisabled
		}
		if !pushSignatureEqual(q.Get("signature"), Signature(r.cfg.Token, ts, nonce)) {
			return nil, ErrBadSignature
		}
		if err := r.checkTime(ts); err != nil {
			return nil, err
		}
		msg = body
	case "aes":
		if r.cryptor == nil {
			return nil, ErrSafeModeDisabled
		}
		encrypt, err := pushParseEnvelope(body)
		if err != nil {
			return nil, err
		}
		if !pushSignatureEqual(q.Get("msg_signature"), MsgSignature(r.cfg.Token, ts, nonce, encrypt)) {
			return nil, ErrBadSignature
		}
		if err := r.checkTime(ts); err != nil {
			return nil, err
		}
		if msg, err = r.cryptor.Decrypt(encrypt); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown encrypt_type %q: %w", et, ErrMalformed)
	}
	e, err := ParseEvent(msg)
	if err != nil {
		return nil, err
	}
	*key = sha256.Sum256(msg)
	if cache && !r.remember(*key) {
		return nil, ErrDuplicate
	}
	return e, nil
}

// Process opens one pushed POST like Open and hands the event to handle. If
// handle fails, the delivery is forgotten so that WeChat's retry of it is
// processed instead of being refused as a duplicate.
func (r *Receiver) Process(q url.Values, body []byte, handle func(*Event) error) error {
	var key [sha256.Size]byte
	e, err := r.open(q, body, &key, true)
	if err != nil {
		return err
	}
	if err := handle(e); err != nil {
		r.forget(key)
		return err
	}
	return nil
}

// PushMeta describes an opened push, for a consumer that keeps its own
// durable record of what it applied (the in-memory cache is lost on a
// restart).
type PushMeta struct {
	// Key is the SHA-256 of the plaintext message: WeChat's retries of one
	// message share it, though safe mode re-encrypts them.
	Key [sha256.Size]byte
	// Plaintext: the signature covered only Timestamp and Nonce, not the
	// body, so a query seen before must not admit another body.
	Plaintext        bool
	Timestamp, Nonce string
}

// ProcessMeta is Process for a consumer that de-duplicates durably itself,
// in the transaction that applies the event: the in-memory cache is not
// used, so that a retry arriving while the first delivery is still being
// applied waits for that transaction's verdict instead of being answered
// "success" by a cache entry the first delivery may yet take back.
func (r *Receiver) ProcessMeta(q url.Values, body []byte, handle func(*Event, PushMeta) error) error {
	var key [sha256.Size]byte
	e, err := r.open(q, body, &key, false)
	if err != nil {
		return err
	}
	et := q.Get("encrypt_type")
	return handle(e, PushMeta{Key: key, Plaintext: et == "" || et == "raw", Timestamp: q.Get("timestamp"), Nonce: q.Get("nonce")})
}

// forget drops an accepted key.
func (r *Receiver) forget(key [sha256.Size]byte) {
	r.mu.Lock()
	delete(r.seen, key)
	r.mu.Unlock()
}

// checkTime rejects a timestamp that is not a decimal Unix time within
// MaxSkew of now, in either direction.
func (r *Receiver) checkTime(ts string) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp is not a Unix time: %w", ErrMalformed)
	}
	// Sub saturates instead of overflowing, so absurd values stay stale.
	d := r.cfg.Now().Sub(time.Unix(sec, 0))
	if d > r.cfg.MaxSkew || d < -r.cfg.MaxSkew {
		return ErrStale
	}
	return nil
}

// remember records key as accepted and reports whether it was new.
func (r *Receiver) remember(key [sha256.Size]byte) bool {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if exp, ok := r.seen[key]; ok && now.Before(exp) {
		return false
	}
	// Drop expired entries from the front, then the oldest if still full.
	for r.seenLen() > 0 && !now.Before(r.queue[r.head].expiry) {
		r.pop()
	}
	if r.seenLen() >= r.cfg.DedupSize {
		r.pop()
	}
	exp := now.Add(2 * r.cfg.MaxSkew)
	r.seen[key] = exp
	r.push(pushSeen{key: key, expiry: exp})
	return true
}

func (r *Receiver) seenLen() int { return len(r.queue) - r.head }

func (r *Receiver) pop() {
	s := r.queue[r.head]
	r.queue[r.head] = pushSeen{}
	r.head++
	// The key may have been re-remembered later with a newer expiry: only
	// forget it if this entry is the current one.
	if exp, ok := r.seen[s.key]; ok && exp.Equal(s.expiry) {
		delete(r.seen, s.key)
	}
	if r.head == len(r.queue) {
		r.queue, r.head = r.queue[:0], 0
	}
}

func (r *Receiver) push(s pushSeen) {
	// Compact when the dead prefix is at least half the slice, so memory
	// stays within about 2×DedupSize entries.
	if r.head > 0 && r.head >= len(r.queue)/2 {
		n := copy(r.queue, r.queue[r.head:])
		clear(r.queue[n:])
		r.queue, r.head = r.queue[:n], 0
	}
	r.queue = append(r.queue, s)
}

// pushEnvelope is the safe-mode body in both formats. In compatible mode the
// body also carries the plaintext fields; they are ignored, since only
// Encrypt is covered by msg_signature.
type pushEnvelope struct {
	XMLName    xml.Name `xml:"xml" json:"-"`
	ToUserName string
	Encrypt    string
}

func pushParseEnvelope(body []byte) (string, error) {
	var env pushEnvelope
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	var err error
	switch {
	case len(trimmed) > 0 && trimmed[0] == '<':
		err = xml.Unmarshal(body, &env)
	case len(trimmed) > 0 && trimmed[0] == '{':
		err = json.Unmarshal(body, &env)
	default:
		return "", fmt.Errorf("safe-mode body is neither XML nor JSON: %w", ErrMalformed)
	}
	if err != nil {
		return "", fmt.Errorf("safe-mode envelope: %w", ErrMalformed)
	}
	if env.Encrypt == "" {
		return "", fmt.Errorf("safe-mode envelope without Encrypt: %w", ErrMalformed)
	}
	return env.Encrypt, nil
}

// Seal builds what WeChat would send for the plaintext message body msg, at
// the receiver's current time with a random nonce: the query (timestamp,
// nonce, signature; in safe mode also encrypt_type=aes and msg_signature) and
// the HTTP body. Safe mode iff AESKey is set; then the body is the envelope
// with toUserName, as JSON when json is true and XML otherwise. In plaintext
// mode the body is msg itself and json is ignored.
func (r *Receiver) Seal(msg []byte, toUserName string, json bool) (url.Values, []byte, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, nil, fmt.Errorf("wechat push: nonce: %w", err)
	}
	nonce := strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[:])), 10)
	return r.SealAt(msg, toUserName, json, r.cfg.Now(), nonce)
}

// SealAt is Seal with a chosen time and nonce, so a fake can also send stale
// or replayed pushes.
func (r *Receiver) SealAt(msg []byte, toUserName string, asJSON bool, at time.Time, nonce string) (url.Values, []byte, error) {
	ts := strconv.FormatInt(at.Unix(), 10)
	q := url.Values{}
	q.Set("signature", Signature(r.cfg.Token, ts, nonce))
	q.Set("timestamp", ts)
	q.Set("nonce", nonce)
	if r.cryptor == nil {
		return q, bytes.Clone(msg), nil
	}
	encrypt, err := r.cryptor.Encrypt(msg)
	if err != nil {
		return nil, nil, err
	}
	q.Set("encrypt_type", "aes")
	q.Set("msg_signature", MsgSignature(r.cfg.Token, ts, nonce, encrypt))
	if asJSON {
		body, err := json.Marshal(pushEnvelope{ToUserName: toUserName, Encrypt: encrypt})
		if err != nil {
			return nil, nil, fmt.Errorf("wechat push: envelope: %w", err)
		}
		return q, body, nil
	}
	w := pushXMLWriter{}
	w.buf.WriteString("<xml>\n")
	w.text("ToUserName", toUserName)
	w.text("Encrypt", encrypt)
	w.buf.WriteString("</xml>")
	if w.err != nil {
		return nil, nil, fmt.Errorf("wechat push: envelope: %w", w.err)
	}
	return q, w.buf.Bytes(), nil
}
