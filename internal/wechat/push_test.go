package wechat

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pushClock is a settable clock for Receivers under test.
type pushClock struct {
	mu sync.Mutex
	t  time.Time
}

func pushClockAt(unix string) *pushClock {
	sec, err := strconv.ParseInt(unix, 10, 64)
	if err != nil {
		panic(err)
	}
	return &pushClock{t: time.Unix(sec, 0)}
}

func (c *pushClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *pushClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// pushReceiver builds a Receiver with the vector credentials; safe selects
// safe mode. The clock starts 30 s after the safe-mode vector timestamp.
func pushReceiver(t testing.TB, safe bool, mod ...func(*PushConfig)) (*Receiver, *pushClock) {
	t.Helper()
	clock := pushClockAt(pushVecTS)
	clock.Advance(30 * time.Second)
	cfg := PushConfig{Token: pushVecToken, AppID: pushVecAppID, Now: clock.Now}
	if safe {
		cfg.AESKey = pushVecAESKey
	}
	for _, m := range mod {
		m(&cfg)
	}
	r, err := NewReceiver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, clock
}

func pushVecQuery() url.Values {
	return url.Values{
		"signature":     {Signature(pushVecToken, pushVecTS, pushVecNonce)},
		"timestamp":     {pushVecTS},
		"nonce":         {pushVecNonce},
		"encrypt_type":  {"aes"},
		"msg_signature": {pushVecMsgSig},
	}
}

func TestHandshakeVector(t *testing.T) {
	r, clock := pushReceiver(t, false)
	clock.t = time.Unix(1714036504+60, 0)
	q := url.Values{
		"signature": {pushVecHandshakeSig},
		"timestamp": {pushVecHandshakeTS},
		"nonce":     {pushVecHandshakeNonce},
		"echostr":   {"7259287346575396734"},
	}
	got, err := r.Handshake(q)
	if err != nil || got != "7259287346575396734" {
		t.Fatalf("Handshake = %q, %v", got, err)
	}

	bad := url.Values{}
	for k, v := range q {
		bad[k] = v
	}
	bad.Set("signature", strings.Replace(pushVecHandshakeSig, "f", "e", 1))
	if _, err := r.Handshake(bad); !errors.Is(err, ErrBadSignature) {
		t.Errorf("wrong signature: %v", err)
	}
	bad.Set("signature", strings.ToUpper(pushVecHandshakeSig))
	if _, err := r.Handshake(bad); !errors.Is(err, ErrBadSignature) {
		t.Errorf("uppercase signature: %v", err)
	}
	bad.Del("signature")
	if _, err := r.Handshake(bad); !errors.Is(err, ErrBadSignature) {
		t.Errorf("missing signature: %v", err)
	}
	noEcho := url.Values{"signature": q["signature"], "timestamp": q["timestamp"], "nonce": q["nonce"]}
	if _, err := r.Handshake(noEcho); !errors.Is(err, ErrMalformed) {
		t.Errorf("missing echostr: %v", err)
	}
	clock.Advance(time.Hour)
	if _, err := r.Handshake(q); !errors.Is(err, ErrStale) {
		t.Errorf("stale handshake: %v", err)
	}
}

func TestOpenSafeModeVector(t *testing.T) {
	want := &Event{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", CreateTime: 1714112445, MsgType: "event", Event: "debug_demo"}
	bodies := map[string]string{
		"json": `{"ToUserName":"gh_97417a04a28d","Encrypt":"` + pushVecEncrypt + `"}`,
		"xml":  "<xml>\n<ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName>\n<Encrypt><![CDATA[" + pushVecEncrypt + "]]></Encrypt>\n</xml>",
		// Compatible mode: plaintext fields beside Encrypt are ignored.
		"json compatible": `{"ToUserName":"gh_97417a04a28d","FromUserName":"forged","Event":"subscribe_msg_popup_event","Encrypt":"` + pushVecEncrypt + `"}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			r, _ := pushReceiver(t, true)
			got, err := r.Open(pushVecQuery(), []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Open = %+v, want %+v", got, want)
			}
		})
	}
}

// A valid `signature` does not cover the body: a tampered Encrypt with the
// query's signature intact must still fail, because msg_signature is what is
// checked.
func TestOpenChecksMsgSignatureNotSignature(t *testing.T) {
	r, _ := pushReceiver(t, true)
	other, err := pushVecCryptor(t).Encrypt([]byte(`{"ToUserName":"gh","FromUserName":"attacker","CreateTime":1714112445,"MsgType":"event","Event":"subscribe_msg_change_event","List":{"TemplateId":"T","SubscribeStatusString":"reject"}}`))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"ToUserName":"gh_97417a04a28d","Encrypt":"` + other + `"}`)
	q := pushVecQuery() // signature valid for token/timestamp/nonce, msg_signature for the original Encrypt
	if _, err := r.Open(q, body); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered Encrypt: %v, want ErrBadSignature", err)
	}
	q.Del("msg_signature")
	if _, err := r.Open(q, body); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("missing msg_signature: %v, want ErrBadSignature", err)
	}
	q.Set("msg_signature", strings.Repeat("0", 40))
	if _, err := r.Open(q, body); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong msg_signature: %v, want ErrBadSignature", err)
	}
	// And the untouched vector still opens on the same receiver: none of the
	// rejected attempts was remembered.
	if _, err := r.Open(pushVecQuery(), []byte(`{"Encrypt":"`+pushVecEncrypt+`"}`)); err != nil {
		t.Fatalf("genuine message after rejected ones: %v", err)
	}
}

func TestOpenRoundTrip(t *testing.T) {
	for _, safe := range []bool{false, true} {
		for name, e := range pushSampleEvents() {
			for _, jsonBody := range []bool{false, true} {
				for _, jsonEnv := range []bool{false, true} {
					if !safe && jsonEnv {
						continue // no envelope in plaintext mode
					}
					t.Run(fmt.Sprintf("safe=%v/%s/json=%v/env json=%v", safe, name, jsonBody, jsonEnv), func(t *testing.T) {
						r, _ := pushReceiver(t, safe)
						msg, err := MarshalEvent(e, jsonBody)
						if err != nil {
							t.Fatal(err)
						}
						q, body, err := r.Seal(msg, pushGhID, jsonEnv)
						if err != nil {
							t.Fatal(err)
						}
						if safe != (q.Get("encrypt_type") == "aes") || safe != (q.Get("msg_signature") != "") {
							t.Fatalf("query %v does not match safe=%v", q, safe)
						}
						if safe && strings.Contains(string(body), e.FromUserName) {
							t.Fatalf("safe-mode body carries plaintext: %s", body)
						}
						got, err := r.Open(q, body)
						if err != nil {
							t.Fatalf("Open(%v, %s): %v", q, body, err)
						}
						if !reflect.DeepEqual(got, e) {
							t.Fatalf("Open = %+v\nwant   %+v", got, e)
						}
					})
				}
			}
		}
	}
}

func TestSealEnvelopeShape(t *testing.T) {
	r, _ := pushReceiver(t, true)
	_, body, err := r.Seal([]byte("{}"), pushGhID, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(body), `{"ToUserName":"gh_123456789abc","Encrypt":"`) {
		t.Errorf("JSON envelope = %s", body)
	}
	_, body, err = r.Seal([]byte("{}"), pushGhID, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(body), "<xml>\n<ToUserName><![CDATA[gh_123456789abc]]></ToUserName>\n<Encrypt><![CDATA[") {
		t.Errorf("XML envelope = %s", body)
	}
}

func TestOpenRejects(t *testing.T) {
	event, err := MarshalEvent(pushSampleEvents()["popup one"], true)
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name string
		safe bool
		mod  func(*PushConfig)
		// build returns the request; seal is the test receiver's SealAt at
		// its own clock.
		build func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte)
		want  error
	}
	sealed := func(json bool, f func(q url.Values, body []byte) (url.Values, []byte)) func(*testing.T, *Receiver, time.Time) (url.Values, []byte) {
		return func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte) {
			q, body, err := r.SealAt(event, pushGhID, json, now, "12345")
			if err != nil {
				t.Fatal(err)
			}
			return f(q, body)
		}
	}
	at := func(d time.Duration) func(*testing.T, *Receiver, time.Time) (url.Values, []byte) {
		return func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte) {
			q, body, err := r.SealAt(event, pushGhID, true, now.Add(d), "12345")
			if err != nil {
				t.Fatal(err)
			}
			return q, body
		}
	}
	// signedEncrypt signs an arbitrary Encrypt value correctly, so that the
	// decryption checks are what rejects it.
	signedEncrypt := func(encrypt string) func(*testing.T, *Receiver, time.Time) (url.Values, []byte) {
		return func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte) {
			ts := strconv.FormatInt(now.Unix(), 10)
			q := url.Values{"timestamp": {ts}, "nonce": {"1"}, "encrypt_type": {"aes"},
				"msg_signature": {MsgSignature(pushVecToken, ts, "1", encrypt)}}
			return q, []byte(`{"ToUserName":"gh","Encrypt":"` + encrypt + `"}`)
		}
	}
	signedBody := func(body string) func(*testing.T, *Receiver, time.Time) (url.Values, []byte) {
		return func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte) {
			ts := strconv.FormatInt(now.Unix(), 10)
			return url.Values{"timestamp": {ts}, "nonce": {"1"}, "signature": {Signature(pushVecToken, ts, "1")}}, []byte(body)
		}
	}
	otherAppID := func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte) {
		sender, err := NewReceiver(PushConfig{Token: pushVecToken, AESKey: pushVecAESKey, AppID: "wx0000000000000000", Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		q, body, err := sender.Seal(event, pushGhID, true)
		if err != nil {
			t.Fatal(err)
		}
		return q, body
	}
	msg := `{"a":1}`

	tests := []tc{
		{"plaintext wrong signature", false, nil, sealed(true, func(q url.Values, b []byte) (url.Values, []byte) {
			q.Set("signature", Signature("BBBBB", q.Get("timestamp"), q.Get("nonce")))
			return q, b
		}), ErrBadSignature},
		{"plaintext missing signature", false, nil, sealed(true, func(q url.Values, b []byte) (url.Values, []byte) { q.Del("signature"); return q, b }), ErrBadSignature},
		{"plaintext signature over another nonce", false, nil, sealed(true, func(q url.Values, b []byte) (url.Values, []byte) { q.Set("nonce", "54321"); return q, b }), ErrBadSignature},
		{"safe wrong msg_signature", true, nil, sealed(true, func(q url.Values, b []byte) (url.Values, []byte) {
			q.Set("msg_signature", q.Get("signature"))
			return q, b
		}), ErrBadSignature},
		{"safe wrong token", true, func(c *PushConfig) { c.Token = "BBBBB" }, func(t *testing.T, _ *Receiver, now time.Time) (url.Values, []byte) {
			sender, _ := pushReceiver(t, true)
			q, body, err := sender.SealAt(event, pushGhID, true, now, "1")
			if err != nil {
				t.Fatal(err)
			}
			return q, body
		}, ErrBadSignature},
		{"safe wrong appid", true, nil, otherAppID, ErrAppIDMismatch},
		{"stale: too old", true, nil, at(-5*time.Minute - time.Second), ErrStale},
		{"stale: too far in the future", true, nil, at(5*time.Minute + time.Second), ErrStale},
		{"stale: custom MaxSkew", true, func(c *PushConfig) { c.MaxSkew = 10 * time.Second }, at(-11 * time.Second), ErrStale},
		{"plaintext stale", false, nil, func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte) {
			q, b, err := r.SealAt(event, "", false, now.Add(-time.Hour), "9")
			if err != nil {
				t.Fatal(err)
			}
			return q, b
		}, ErrStale},
		{"timestamp far beyond int range", false, nil, signedBodyTS("99999999999999999", event), ErrStale},
		{"timestamp not a number", false, nil, signedBodyTS("yesterday", event), ErrMalformed},
		{"safe body but no AESKey", false, nil, func(t *testing.T, _ *Receiver, now time.Time) (url.Values, []byte) {
			sender, _ := pushReceiver(t, true)
			q, body, err := sender.SealAt(event, pushGhID, true, now, "1")
			if err != nil {
				t.Fatal(err)
			}
			return q, body
		}, ErrSafeModeDisabled},
		{"plaintext to a safe-mode receiver", true, nil, func(t *testing.T, _ *Receiver, now time.Time) (url.Values, []byte) {
			sender, _ := pushReceiver(t, false)
			q, body, err := sender.SealAt(event, pushGhID, true, now, "1")
			if err != nil {
				t.Fatal(err)
			}
			return q, body
		}, ErrPlaintextDisabled},
		{"unknown encrypt_type", true, nil, sealed(true, func(q url.Values, b []byte) (url.Values, []byte) { q.Set("encrypt_type", "des"); return q, b }), ErrMalformed},
		{"oversized plaintext body", false, func(c *PushConfig) { c.MaxBody = 100 }, signedBody(`{"Event":"x","Pad":"` + strings.Repeat("p", 100) + `"}`), ErrBodyTooLarge},
		{"oversized safe body", true, func(c *PushConfig) { c.MaxBody = 100 }, sealed(true, func(q url.Values, b []byte) (url.Values, []byte) { return q, b }), ErrBodyTooLarge},
		{"oversized default 64 KiB", false, nil, signedBody(`{"Event":"x","Pad":"` + strings.Repeat("p", 64<<10) + `"}`), ErrBodyTooLarge},
		{"envelope without Encrypt", true, nil, signedEncrypt(""), ErrMalformed},
		{"envelope neither XML nor JSON", true, nil, func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte) {
			q, _ := signedEncrypt(pushVecEncrypt)(t, r, now)
			return q, []byte("Encrypt=" + pushVecEncrypt)
		}, ErrMalformed},
		{"envelope broken XML", true, nil, func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte) {
			q, _ := signedEncrypt(pushVecEncrypt)(t, r, now)
			return q, []byte("<xml><Encrypt>" + pushVecEncrypt)
		}, ErrMalformed},
		{"signed bad base64", true, nil, signedEncrypt("@@@@"), ErrDecrypt},
		{"signed bad block size", true, nil, signedEncrypt("AAAAAAAAAAAAAAAAAAAAAA=="), ErrDecrypt},
		{"signed pad 0", true, nil, func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte) {
			p := pushPlain(uint32(len(msg)), msg, pushVecAppID)
			p[len(p)-1] = 0
			return signedEncrypt(pushEncryptRaw(t, p))(t, r, now)
		}, ErrDecrypt},
		{"signed pad 33", true, nil, func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte) {
			p := pushPlain(uint32(len(msg)), msg, pushVecAppID)
			p[len(p)-1] = 33
			return signedEncrypt(pushEncryptRaw(t, p))(t, r, now)
		}, ErrDecrypt},
		{"signed length too large", true, nil, func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte) {
			return signedEncrypt(pushEncryptRaw(t, pushPlain(uint32(len(msg)+1), msg, pushVecAppID)))(t, r, now)
		}, ErrDecrypt},
		{"plaintext event malformed", false, nil, signedBody(`{"Event":"subscribe_msg_popup_event"}`), ErrMalformed},
		{"safe event malformed", true, nil, func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte) {
			q, body, err := r.SealAt([]byte("not an event"), pushGhID, true, now, "1")
			if err != nil {
				t.Fatal(err)
			}
			return q, body
		}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mods []func(*PushConfig)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			r, clock := pushReceiver(t, tt.safe, mods...)
			q, body := tt.build(t, r, clock.Now())
			got, err := r.Open(q, body)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %+v, %v; want %v", got, err, tt.want)
			}
			if got != nil {
				t.Fatalf("Open returned an event with an error: %+v", got)
			}
			pushAssertNoSecret(t, err)
		})
	}
}

func signedBodyTS(ts string, body []byte) func(*testing.T, *Receiver, time.Time) (url.Values, []byte) {
	return func(t *testing.T, r *Receiver, now time.Time) (url.Values, []byte) {
		return url.Values{"timestamp": {ts}, "nonce": {"1"}, "signature": {Signature(pushVecToken, ts, "1")}}, body
	}
}

func TestOpenSkewBoundary(t *testing.T) {
	for _, d := range []time.Duration{-5 * time.Minute, 5 * time.Minute, 0} {
		r, clock := pushReceiver(t, true)
		q, body, err := r.SealAt([]byte(pushVecPlain), pushGhID, true, clock.Now().Add(d), "1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Open(q, body); err != nil {
			t.Errorf("skew %v: %v", d, err)
		}
	}
}

func TestOpenAllowPlaintext(t *testing.T) {
	r, _ := pushReceiver(t, true, func(c *PushConfig) { c.AllowPlaintext = true })
	plain, _ := pushReceiver(t, false)
	q, body, err := plain.Seal([]byte(pushVecPlain), pushGhID, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Open(q, body); err != nil {
		t.Fatalf("plaintext with AllowPlaintext: %v", err)
	}
}

func TestOpenDuplicate(t *testing.T) {
	for _, safe := range []bool{false, true} {
		t.Run(fmt.Sprintf("safe=%v", safe), func(t *testing.T) {
			r, clock := pushReceiver(t, safe)
			e := pushSampleEvents()["sent one"]
			msg, _ := MarshalEvent(e, false)

			q, body, err := r.Seal(msg, pushGhID, true)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Open(q, body); err != nil {
				t.Fatal(err)
			}
			// The very same request again.
			if _, err := r.Open(q, body); !errors.Is(err, ErrDuplicate) {
				t.Fatalf("same request twice: %v, want ErrDuplicate", err)
			}
			// A WeChat retry: same message, new nonce, timestamp and (in safe
			// mode) a new random prefix, so a different ciphertext.
			clock.Advance(15 * time.Second)
			q2, body2, err := r.Seal(msg, pushGhID, false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Open(q2, body2); !errors.Is(err, ErrDuplicate) {
				t.Fatalf("retry: %v, want ErrDuplicate", err)
			}

			// Two different events in the same second from the same user are
			// both accepted (FromUserName+CreateTime+Event alone would merge
			// them).
			other := *e
			other.Sent = []SentItem{{TemplateID: "T9", MsgID: 42, ErrorStatus: "success"}}
			msg2, _ := MarshalEvent(&other, false)
			q3, body3, err := r.Seal(msg2, pushGhID, true)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Open(q3, body3); err != nil {
				t.Fatalf("different event, same second: %v", err)
			}

			// After 2×MaxSkew the entry has expired and a fresh delivery of
			// the same message is accepted again.
			clock.Advance(2*DefaultPushMaxSkew + time.Second)
			q4, body4, err := r.Seal(msg, pushGhID, true)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Open(q4, body4); err != nil {
				t.Fatalf("after expiry: %v", err)
			}
		})
	}
}

func TestOpenDuplicateConcurrent(t *testing.T) {
	r, _ := pushReceiver(t, true)
	q, body, err := r.Seal([]byte(pushVecPlain), pushGhID, true)
	if err != nil {
		t.Fatal(err)
	}
	var ok, dup atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := r.Open(q, body)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrDuplicate):
				dup.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || dup.Load() != 15 {
		t.Fatalf("accepted %d, duplicates %d; want 1 and 15", ok.Load(), dup.Load())
	}
}

func TestDedupCacheBounded(t *testing.T) {
	const size = 3
	r, _ := pushReceiver(t, false, func(c *PushConfig) { c.DedupSize = size })
	seal := func(i int) (url.Values, []byte) {
		q, body, err := r.Seal(fmt.Appendf(nil, `{"Event":"e%d"}`, i), "", false)
		if err != nil {
			t.Fatal(err)
		}
		return q, body
	}
	for i := range 1000 {
		q, body := seal(i)
		if _, err := r.Open(q, body); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		r.mu.Lock()
		n, slots := len(r.seen), len(r.queue)
		r.mu.Unlock()
		if n > size || slots > 2*size+1 {
			t.Fatalf("after %d events: %d keys, %d slots; bound %d", i+1, n, slots, size)
		}
	}
	// The newest are still remembered; the oldest were evicted.
	q, body := seal(999)
	if _, err := r.Open(q, body); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("newest: %v, want ErrDuplicate", err)
	}
	q, body = seal(0)
	if _, err := r.Open(q, body); err != nil {
		t.Fatalf("evicted oldest: %v", err)
	}
}

func TestDedupExpiredEntriesDropped(t *testing.T) {
	r, clock := pushReceiver(t, false)
	for i := range 50 {
		q, body, _ := r.Seal(fmt.Appendf(nil, `{"Event":"e%d"}`, i), "", false)
		if _, err := r.Open(q, body); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2*DefaultPushMaxSkew + time.Second)
	q, body, _ := r.Seal([]byte(`{"Event":"late"}`), "", false)
	if _, err := r.Open(q, body); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) != 1 {
		t.Fatalf("%d keys remembered after expiry, want 1", len(r.seen))
	}
}

func TestNewReceiverValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  PushConfig
		want error
	}{
		{"no token", PushConfig{}, nil},
		{"AESKey without AppID", PushConfig{Token: "t", AESKey: pushVecAESKey}, nil},
		{"bad AESKey", PushConfig{Token: "t", AESKey: "short", AppID: "wx"}, ErrBadAESKey},
		{"negative MaxSkew", PushConfig{Token: "t", MaxSkew: -1}, nil},
		{"negative MaxBody", PushConfig{Token: "t", MaxBody: -1}, nil},
		{"negative DedupSize", PushConfig{Token: "t", DedupSize: -1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReceiver(tt.cfg)
			if err == nil || r != nil {
				t.Fatalf("NewReceiver = %v, %v; want error", r, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	r, err := NewReceiver(PushConfig{Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if r.cfg.MaxSkew != DefaultPushMaxSkew || r.cfg.MaxBody != DefaultPushMaxBody || r.cfg.DedupSize != DefaultPushDedupSize || r.cfg.Now == nil {
		t.Fatalf("defaults not applied: %+v", r.cfg)
	}
}

func BenchmarkOpenSafeModeJSON(b *testing.B) {
	// Distinct messages, so every Open takes the full path including the
	// duplicate-cache insert; the receiver is replaced (untimed) when the
	// pool wraps.
	const pool = 4096
	newRecv := func() *Receiver { r, _ := pushReceiver(b, true); return r }
	r := newRecv()
	type req struct {
		q    url.Values
		body []byte
	}
	reqs := make([]req, pool)
	base := pushSampleEvents()["popup several"]
	for i := range reqs {
		e := *base
		e.FromUserName = fmt.Sprintf("openid-%06d", i)
		msg, err := MarshalEvent(&e, true)
		if err != nil {
			b.Fatal(err)
		}
		q, body, err := r.Seal(msg, pushGhID, true)
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = req{q, body}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == pool {
			b.StopTimer()
			r, i = newRecv(), 0
			b.StartTimer()
		}
		if _, err := r.Open(reqs[i].q, reqs[i].body); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func TestProcessForgetsAFailedDelivery(t *testing.T) {
	r, _ := pushReceiver(t, true)
	body := []byte(`{"ToUserName":"gh_97417a04a28d","Encrypt":"` + pushVecEncrypt + `"}`)
	fail := errors.New("database busy")
	calls := 0
	handle := func(err error) func(*Event) error {
		return func(*Event) error { calls++; return err }
	}
	if err := r.Process(pushVecQuery(), body, handle(fail)); !errors.Is(err, fail) {
		t.Fatalf("first delivery: %v, want the handler's error", err)
	}
	// WeChat retries: the event is handled again, not refused as a duplicate.
	if err := r.Process(pushVecQuery(), body, handle(nil)); err != nil {
		t.Fatalf("retry after a failed handle: %v", err)
	}
	if err := r.Process(pushVecQuery(), body, handle(nil)); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("retry after success: %v, want ErrDuplicate", err)
	}
	if calls != 2 {
		t.Fatalf("handler ran %d times, want 2", calls)
	}
}
