package wechat

import (
	"bytes"
	"errors"
	"net/url"
	"reflect"
	"testing"
	"time"
)

func FuzzDecrypt(f *testing.F) {
	f.Add(pushVecEncrypt, []byte(pushVecPlain))
	f.Add(pushVecReplyEncrypt, []byte(pushVecReplyMsg))
	f.Add("", []byte{})
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", bytes.Repeat([]byte{0}, 26)) // 26 bytes: a full pad block
	f.Add("not base64", []byte(pushSentXML))
	c := pushVecCryptor(f)
	f.Fuzz(func(t *testing.T, encrypt string, msg []byte) {
		// Arbitrary input never panics and never yields a message without
		// passing every check.
		if got, err := c.Decrypt(encrypt); err == nil {
			again, err := c.Encrypt(got)
			if err != nil {
				t.Fatal(err)
			}
			if back, err := c.Decrypt(again); err != nil || !bytes.Equal(back, got) {
				t.Fatalf("re-encrypting an accepted message: %q, %v", back, err)
			}
		} else if !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrAppIDMismatch) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		// Any message round-trips.
		enc, err := c.Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decrypt(enc)
		if err != nil {
			t.Fatalf("Decrypt(Encrypt(%q)): %v", msg, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("round trip: got %q, want %q", got, msg)
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		pushVecPlain, pushPopupXML, pushPopupJSONOne, pushPopupJSONMany, pushChangeXML, pushSentXML,
		`{"Event":"subscribe_msg_sent_event","List":{"TemplateId":"x","MsgID":"9223372036854775806","ErrorCode":-1}}`,
		`{"Event":"subscribe_msg_change_event","SubscribeMsgChangeEvent":{"List":[{"TemplateId":"A"}]}}`,
		`<xml><FromUserName>a&amp;b&#xD;</FromUserName><Event>x</Event></xml>`,
		"", "<", "{", "[]", "<xml/>",
	} {
		f.Add([]byte(s))
	}
	for _, e := range pushSampleEvents() {
		for _, json := range []bool{false, true} {
			if b, err := MarshalEvent(e, json); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := ParseEvent(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		switch e.Event {
		case EventSubscribeMsgPopup, EventSubscribeMsgChange, EventSubscribeMsgSent:
		default:
			return
		}
		// A parsed subscribe event survives rendering in the format it came
		// in, and in the other one when XML can carry its strings.
		isJSON := bytes.TrimLeft(body, " \t\r\n")[0] == '{'
		for _, asJSON := range []bool{isJSON, !isJSON} {
			out, err := MarshalEvent(e, asJSON)
			if err != nil {
				if !asJSON && asJSON != isJSON && errors.Is(err, ErrMalformed) {
					continue // a JSON string XML cannot carry
				}
				t.Fatalf("MarshalEvent(json=%v): %v", asJSON, err)
			}
			back, err := ParseEvent(out)
			if err != nil {
				t.Fatalf("ParseEvent(MarshalEvent(json=%v)) = %v\nbody: %s", asJSON, err, out)
			}
			if !reflect.DeepEqual(back, e) {
				t.Fatalf("round trip json=%v:\n got %+v\nwant %+v\nbody: %s", asJSON, back, e, out)
			}
		}
	})
}

func FuzzOpen(f *testing.F) {
	now := time.Unix(1714112445+30, 0)
	newRecv := func(safe bool) *Receiver {
		cfg := PushConfig{Token: pushVecToken, AppID: pushVecAppID, Now: func() time.Time { return now }, MaxBody: 4096, DedupSize: 64}
		if safe {
			cfg.AESKey = pushVecAESKey
		}
		r, err := NewReceiver(cfg)
		if err != nil {
			f.Fatal(err)
		}
		return r
	}
	safe, plain := newRecv(true), newRecv(false)

	f.Add(pushVecQuery().Encode(), []byte(`{"ToUserName":"gh_97417a04a28d","Encrypt":"`+pushVecEncrypt+`"}`))
	f.Add(pushVecQuery().Encode(), []byte("<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><Encrypt><![CDATA["+pushVecEncrypt+"]]></Encrypt></xml>"))
	f.Add("signature="+pushVecHandshakeSig+"&timestamp="+pushVecHandshakeTS+"&nonce="+pushVecHandshakeNonce+"&echostr=1", []byte{})
	f.Add("timestamp=99999999999999999999&encrypt_type=aes", []byte("{}"))
	f.Add("%zz;;&&==", []byte("<xml>"))
	for _, r := range []*Receiver{safe, plain} {
		for _, json := range []bool{false, true} {
			msg, _ := MarshalEvent(pushSampleEvents()["sent several"], json)
			q, body, err := r.SealAt(msg, pushGhID, json, now, "415670741")
			if err != nil {
				f.Fatal(err)
			}
			f.Add(q.Encode(), body)
		}
	}
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		q, _ := url.ParseQuery(query) // keeps what parsed, like net/http
		for _, r := range []*Receiver{safe, plain} {
			e, err := r.Open(q, body)
			if (e == nil) == (err == nil) {
				t.Fatalf("Open = %v, %v: exactly one must be set", e, err)
			}
			if err != nil {
				pushAssertNoSecret(t, err)
			}
			if echo, err := r.Handshake(q); err == nil && echo != q.Get("echostr") {
				t.Fatalf("Handshake echoed %q, want %q", echo, q.Get("echostr"))
			}
		}
	})
}
