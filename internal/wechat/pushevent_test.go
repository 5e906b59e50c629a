package wechat

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// Bodies shaped like the examples on WeChat's message-push pages.
const (
	pushPopupXML = `<xml>
  <ToUserName><![CDATA[gh_123456789abc]]></ToUserName>
  <FromUserName><![CDATA[otFpruAK8D-E6EfStSYonYSBZ8_4]]></FromUserName>
  <CreateTime>1610969440</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[subscribe_msg_popup_event]]></Event>
  <SubscribeMsgPopupEvent>
    <List>
      <TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId>
      <SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString>
      <PopupScene>2</PopupScene>
    </List>
    <List>
      <TemplateId><![CDATA[9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI]]></TemplateId>
      <SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString>
      <PopupScene>2</PopupScene>
    </List>
  </SubscribeMsgPopupEvent>
</xml>`

	pushPopupJSONOne = `{
  "ToUserName": "gh_123456789abc",
  "FromUserName": "o7esq5OI1Ls4pWhmTBMzPZaD-ZE4",
  "CreateTime": "1620963428",
  "MsgType": "event",
  "Event": "subscribe_msg_popup_event",
  "List": {
    "TemplateId": "BEwX0BOT3MqK3Uc5oTU3CGBqzjpndk2jzXWXbxqVLo",
    "SubscribeStatusString": "accept",
    "PopupScene": "2"
  }
}`

	pushPopupJSONMany = `{"ToUserName":"gh_123456789abc","FromUserName":"o7esq5OI1Ls4pWhmTBMzPZaD-ZE4","CreateTime":1620963428,"MsgType":"event","Event":"subscribe_msg_popup_event",
  "List":[{"TemplateId":"T1","SubscribeStatusString":"accept","PopupScene":0},{"TemplateId":"T2","SubscribeStatusString":"reject","PopupScene":"1"}]}`

	pushChangeXML = `<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName><FromUserName><![CDATA[o7esq5OI1Ls4pWhmTBMzPZaD-ZE4]]></FromUserName><CreateTime>1610968440</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_change_event]]></Event>
<SubscribeMsgChangeEvent><List><TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString></List></SubscribeMsgChangeEvent></xml>`

	pushSentXML = `<xml>
  <ToUserName><![CDATA[gh_123456789abc]]></ToUserName>
  <FromUserName><![CDATA[o7esq5OI1Ls4pWhmTBMzPZaD-ZE4]]></FromUserName>
  <CreateTime>1620963428</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[subscribe_msg_sent_event]]></Event>
  <SubscribeMsgSentEvent>
    <List>
      <TemplateId><![CDATA[BEwX0BOT3MqK3Uc5oTU3CGBqzjpndk2jzXWXbxqVLo]]></TemplateId>
      <MsgID>9007199254740993</MsgID>
      <ErrorCode>0</ErrorCode>
      <ErrorStatus><![CDATA[success]]></ErrorStatus>
    </List>
    <List>
      <TemplateId><![CDATA[T2]]></TemplateId>
      <MsgID> 9223372036854775806 </MsgID>
      <ErrorCode>10005</ErrorCode>
      <ErrorStatus><![CDATA[fail]]></ErrorStatus>
    </List>
  </SubscribeMsgSentEvent>
</xml>`
)

const (
	pushMsgID2p53plus1 = int64(1<<53 + 1)  // 9007199254740993: float64 rounds it to 2^53
	pushMsgIDNearMax   = math.MaxInt64 - 1 // 9223372036854775806
	pushOpenID         = "o7esq5OI1Ls4pWhmTBMzPZaD-ZE4"
	pushGhID           = "gh_123456789abc"
	pushTmplID         = "BEwX0BOT3MqK3Uc5oTU3CGBqzjpndk2jzXWXbxqVLo"
)

func TestFloat64WouldLoseMsgID(t *testing.T) {
	// Guards the test data: if float64 could hold the id the MsgID tests
	// would prove nothing.
	id := pushMsgID2p53plus1
	if int64(float64(id)) == id {
		t.Fatal("2^53+1 survives float64; test data is too small")
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *Event
	}{
		{"popup XML two items", pushPopupXML, &Event{
			ToUserName: pushGhID, FromUserName: "otFpruAK8D-E6EfStSYonYSBZ8_4", CreateTime: 1610969440,
			MsgType: "event", Event: EventSubscribeMsgPopup,
			Popup: []PopupItem{
				{TemplateID: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", SubscribeStatus: "accept", PopupScene: 2},
				{TemplateID: "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI", SubscribeStatus: "reject", PopupScene: 2},
			},
		}},
		{"popup JSON one item as object, numbers as strings", pushPopupJSONOne, &Event{
			ToUserName: pushGhID, FromUserName: pushOpenID, CreateTime: 1620963428,
			MsgType: "event", Event: EventSubscribeMsgPopup,
			Popup: []PopupItem{{TemplateID: pushTmplID, SubscribeStatus: "accept", PopupScene: 2}},
		}},
		{"popup JSON several items as array, mixed numbers", pushPopupJSONMany, &Event{
			ToUserName: pushGhID, FromUserName: pushOpenID, CreateTime: 1620963428,
			MsgType: "event", Event: EventSubscribeMsgPopup,
			Popup: []PopupItem{{TemplateID: "T1", SubscribeStatus: "accept", PopupScene: 0}, {TemplateID: "T2", SubscribeStatus: "reject", PopupScene: 1}},
		}},
		{"change XML without whitespace", pushChangeXML, &Event{
			ToUserName: pushGhID, FromUserName: pushOpenID, CreateTime: 1610968440,
			MsgType: "event", Event: EventSubscribeMsgChange,
			Change: []ChangeItem{{TemplateID: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", SubscribeStatus: "reject"}},
		}},
		{"sent XML, MsgID beyond 2^53", pushSentXML, &Event{
			ToUserName: pushGhID, FromUserName: pushOpenID, CreateTime: 1620963428,
			MsgType: "event", Event: EventSubscribeMsgSent,
			Sent: []SentItem{
				{TemplateID: pushTmplID, MsgID: pushMsgID2p53plus1, ErrorCode: 0, ErrorStatus: "success"},
				{TemplateID: "T2", MsgID: pushMsgIDNearMax, ErrorCode: 10005, ErrorStatus: "fail"},
			},
		}},
		{"sent JSON, MsgID as string", `{"ToUserName":"gh_123456789abc","FromUserName":"o7esq5OI1Ls4pWhmTBMzPZaD-ZE4","CreateTime":"1620963428","MsgType":"event","Event":"subscribe_msg_sent_event",
			"List":{"TemplateId":"BEwX0BOT3MqK3Uc5oTU3CGBqzjpndk2jzXWXbxqVLo","MsgID":"9007199254740993","ErrorCode":"0","ErrorStatus":"success"}}`, &Event{
			ToUserName: pushGhID, FromUserName: pushOpenID, CreateTime: 1620963428, MsgType: "event", Event: EventSubscribeMsgSent,
			Sent: []SentItem{{TemplateID: pushTmplID, MsgID: pushMsgID2p53plus1, ErrorCode: 0, ErrorStatus: "success"}},
		}},
		{"sent JSON, MsgID as number, several", `{"ToUserName":"gh_123456789abc","FromUserName":"o7esq5OI1Ls4pWhmTBMzPZaD-ZE4","CreateTime":1620963428,"MsgType":"event","Event":"subscribe_msg_sent_event",
			"List":[{"TemplateId":"A","MsgID":9007199254740993,"ErrorCode":0,"ErrorStatus":"success"},{"TemplateId":"B","MsgID":9223372036854775806,"ErrorCode":-1,"ErrorStatus":"fail"}]}`, &Event{
			ToUserName: pushGhID, FromUserName: pushOpenID, CreateTime: 1620963428, MsgType: "event", Event: EventSubscribeMsgSent,
			Sent: []SentItem{
				{TemplateID: "A", MsgID: pushMsgID2p53plus1, ErrorCode: 0, ErrorStatus: "success"},
				{TemplateID: "B", MsgID: pushMsgIDNearMax, ErrorCode: -1, ErrorStatus: "fail"},
			},
		}},
		{"JSON with the XML wrapper", `{"ToUserName":"gh","FromUserName":"u","CreateTime":1,"MsgType":"event","Event":"subscribe_msg_change_event",
			"SubscribeMsgChangeEvent":{"List":[{"TemplateId":"A","SubscribeStatusString":"reject"}]}}`, &Event{
			ToUserName: "gh", FromUserName: "u", CreateTime: 1, MsgType: "event", Event: EventSubscribeMsgChange,
			Change: []ChangeItem{{TemplateID: "A", SubscribeStatus: "reject"}},
		}},
		{"unknown JSON event (official vector plaintext)", pushVecPlain, &Event{
			ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", CreateTime: 1714112445, MsgType: "event", Event: "debug_demo",
		}},
		{"unknown XML event with a stray list", `<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>5</CreateTime><MsgType>event</MsgType><Event>user_enter_tempsession</Event><SubscribeMsgPopupEvent><List><TemplateId>x</TemplateId></List></SubscribeMsgPopupEvent></xml>`, &Event{
			ToUserName: "gh", FromUserName: "u", CreateTime: 5, MsgType: "event", Event: "user_enter_tempsession",
		}},
		{"leading whitespace, text message", "\r\n\t <xml><MsgType>text</MsgType><CreateTime>7</CreateTime></xml>", &Event{MsgType: "text", CreateTime: 7}},
		{"escaped text and entity", `<xml><FromUserName>a&amp;b&#xD;</FromUserName><Event>x</Event></xml>`, &Event{FromUserName: "a&b\r", Event: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseEvent =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseEventRejects(t *testing.T) {
	const head = `"ToUserName":"gh","FromUserName":"u","CreateTime":1,"MsgType":"event",`
	tests := []struct{ name, body string }{
		{"empty", ""},
		{"only spaces", "  \n"},
		{"neither XML nor JSON", "hello"},
		{"broken XML", "<xml><Event>x</Event>"},
		{"broken JSON", `{"Event":`},
		{"JSON trailing garbage", `{"Event":"x"} {}`},
		{"XML root not xml", "<root><Event>x</Event></root>"},
		{"XML popup without wrapper", `<xml><Event>subscribe_msg_popup_event</Event></xml>`},
		{"XML popup wrapper without List", `<xml><Event>subscribe_msg_popup_event</Event><SubscribeMsgPopupEvent></SubscribeMsgPopupEvent></xml>`},
		{"XML sent list under the wrong wrapper", `<xml><Event>subscribe_msg_sent_event</Event><SubscribeMsgPopupEvent><List><TemplateId>x</TemplateId></List></SubscribeMsgPopupEvent></xml>`},
		{"XML item without TemplateId", `<xml><Event>subscribe_msg_change_event</Event><SubscribeMsgChangeEvent><List><SubscribeStatusString>reject</SubscribeStatusString></List></SubscribeMsgChangeEvent></xml>`},
		{"XML CreateTime not a number", `<xml><CreateTime>soon</CreateTime><Event>x</Event></xml>`},
		{"XML MsgID overflows int64", `<xml><Event>subscribe_msg_sent_event</Event><SubscribeMsgSentEvent><List><TemplateId>x</TemplateId><MsgID>9223372036854775808</MsgID></List></SubscribeMsgSentEvent></xml>`},
		{"XML invalid UTF-8", "<xml><Event>\xff</Event></xml>"},
		{"JSON popup without List", `{` + head + `"Event":"subscribe_msg_popup_event"}`},
		{"JSON change with null List", `{` + head + `"Event":"subscribe_msg_change_event","List":null}`},
		{"JSON sent with empty List", `{` + head + `"Event":"subscribe_msg_sent_event","List":[]}`},
		{"JSON List a string", `{` + head + `"Event":"subscribe_msg_sent_event","List":"x"}`},
		{"JSON List array of strings", `{` + head + `"Event":"subscribe_msg_sent_event","List":["x"]}`},
		{"JSON item without TemplateId", `{` + head + `"Event":"subscribe_msg_popup_event","List":{"PopupScene":1}}`},
		{"JSON MsgID float", `{` + head + `"Event":"subscribe_msg_sent_event","List":{"TemplateId":"x","MsgID":1.5}}`},
		{"JSON MsgID exponent", `{` + head + `"Event":"subscribe_msg_sent_event","List":{"TemplateId":"x","MsgID":9e18}}`},
		{"JSON MsgID overflows int64", `{` + head + `"Event":"subscribe_msg_sent_event","List":{"TemplateId":"x","MsgID":"9223372036854775808"}}`},
		{"JSON MsgID bool", `{` + head + `"Event":"subscribe_msg_sent_event","List":{"TemplateId":"x","MsgID":true}}`},
		{"JSON ErrorCode word", `{` + head + `"Event":"subscribe_msg_sent_event","List":{"TemplateId":"x","ErrorCode":"ok"}}`},
		{"JSON PopupScene hex", `{` + head + `"Event":"subscribe_msg_popup_event","List":{"TemplateId":"x","PopupScene":"0x1"}}`},
		{"JSON CreateTime object", `{"CreateTime":{},"Event":"x"}`},
		{"JSON string field as number", `{"FromUserName":5,"Event":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tt.body))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseEvent = %+v, %v; want ErrMalformed", got, err)
			}
		})
	}
}

// pushSampleEvents covers every event kind with one and several items,
// including values at the edges of their types.
func pushSampleEvents() map[string]*Event {
	common := func(ev string) Event {
		return Event{ToUserName: pushGhID, FromUserName: pushOpenID, CreateTime: 1714112445, MsgType: "event", Event: ev}
	}
	with := func(e Event, f func(*Event)) *Event { f(&e); return &e }
	return map[string]*Event{
		"popup one": with(common(EventSubscribeMsgPopup), func(e *Event) {
			e.Popup = []PopupItem{{TemplateID: "T1", SubscribeStatus: "accept", PopupScene: 2}}
		}),
		"popup several": with(common(EventSubscribeMsgPopup), func(e *Event) {
			e.Popup = []PopupItem{{TemplateID: "T1", SubscribeStatus: "accept", PopupScene: 0}, {TemplateID: "T2", SubscribeStatus: "reject", PopupScene: 1}, {TemplateID: "T3", SubscribeStatus: "accept", PopupScene: 2}}
		}),
		"change one": with(common(EventSubscribeMsgChange), func(e *Event) {
			e.Change = []ChangeItem{{TemplateID: "T1", SubscribeStatus: "reject"}}
		}),
		"change several": with(common(EventSubscribeMsgChange), func(e *Event) {
			e.Change = []ChangeItem{{TemplateID: "T1", SubscribeStatus: "reject"}, {TemplateID: "T2", SubscribeStatus: "reject"}}
		}),
		"sent one": with(common(EventSubscribeMsgSent), func(e *Event) {
			e.Sent = []SentItem{{TemplateID: "T1", MsgID: pushMsgID2p53plus1, ErrorCode: 0, ErrorStatus: "success"}}
		}),
		"sent several": with(common(EventSubscribeMsgSent), func(e *Event) {
			e.Sent = []SentItem{
				{TemplateID: "T1", MsgID: pushMsgID2p53plus1, ErrorCode: 0, ErrorStatus: "success"},
				{TemplateID: "T2", MsgID: pushMsgIDNearMax, ErrorCode: 10005, ErrorStatus: "fail"},
				{TemplateID: "T3", MsgID: math.MaxInt64, ErrorCode: -1, ErrorStatus: "]]> <&> \"quoted\"\r\n"},
			}
		}),
		"unknown": func() *Event { e := common("debug_demo"); return &e }(),
		"awkward strings": with(common(EventSubscribeMsgChange), func(e *Event) {
			e.FromUserName = "a]]>b]]]]>c<![CDATA[d&e\r\nf\rg"
			e.Change = []ChangeItem{{TemplateID: "中文模板🙂", SubscribeStatus: "reject"}}
		}),
	}
}

func TestMarshalEventRoundTrip(t *testing.T) {
	for name, e := range pushSampleEvents() {
		for _, format := range []string{"xml", "json", "json numbers"} {
			t.Run(name+"/"+format, func(t *testing.T) {
				var body []byte
				var err error
				switch format {
				case "xml":
					body, err = MarshalEvent(e, false)
				case "json":
					body, err = MarshalEvent(e, true)
				default:
					body, err = MarshalEventJSON(e, false)
				}
				if err != nil {
					t.Fatal(err)
				}
				got, err := ParseEvent(body)
				if err != nil {
					t.Fatalf("ParseEvent(%s): %v", body, err)
				}
				if !reflect.DeepEqual(got, e) {
					t.Fatalf("round trip through\n%s\ngot  %+v\nwant %+v", body, got, e)
				}
			})
		}
	}
}

func TestMarshalEventShape(t *testing.T) {
	ev := pushSampleEvents()

	// JSON: no wrapper, List is an object for one item, an array for several.
	for name, wantKind := range map[string]reflect.Kind{"popup one": reflect.Map, "sent several": reflect.Slice, "unknown": reflect.Invalid} {
		body, err := MarshalEvent(ev[name], true)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		if kind := reflect.ValueOf(m["List"]).Kind(); kind != wantKind {
			t.Errorf("%s: List is %v, want %v in %s", name, kind, wantKind, body)
		}
		for k := range m {
			if strings.HasPrefix(k, "SubscribeMsg") {
				t.Errorf("%s: JSON has wrapper %s", name, k)
			}
		}
		// Numbers as strings, like the documented examples; MsgID exact.
		if name == "sent several" && !strings.Contains(string(body), `"MsgID":"9007199254740993"`) {
			t.Errorf("MsgID not rendered exactly as a string: %s", body)
		}
		if name == "popup one" && !strings.Contains(string(body), `"CreateTime":"1714112445"`) {
			t.Errorf("CreateTime not a string: %s", body)
		}
	}
	body, err := MarshalEventJSON(ev["sent several"], false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"MsgID":9007199254740993`) || !strings.Contains(string(body), `"CreateTime":1714112445`) {
		t.Errorf("MarshalEventJSON(numbers) = %s", body)
	}

	// XML: one wrapper, one <List> per item, strings in CDATA.
	body, err = MarshalEvent(ev["sent several"], false)
	if err != nil {
		t.Fatal(err)
	}
	s := string(body)
	if strings.Count(s, "<SubscribeMsgSentEvent>") != 1 || strings.Count(s, "<List>") != 3 {
		t.Errorf("XML shape wrong:\n%s", s)
	}
	if !strings.HasPrefix(s, "<xml>") || !strings.Contains(s, "<TemplateId><![CDATA[T1]]></TemplateId>") || !strings.Contains(s, "<MsgID>9007199254740993</MsgID>") {
		t.Errorf("XML fields wrong:\n%s", s)
	}
}

func TestMarshalEventRejectsNonXMLCharacters(t *testing.T) {
	for _, bad := range []string{"a\x00b", "\x1b[31m", "\xff", "\uFFFE"} {
		e := &Event{Event: "x", FromUserName: bad}
		if _, err := MarshalEvent(e, false); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err = %v, want ErrMalformed", bad, err)
		}
	}
}

func BenchmarkParseEventXML(b *testing.B) {
	body := []byte(pushSentXML)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseEvent(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEventJSON(b *testing.B) {
	body := []byte(pushPopupJSONMany)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseEvent(body); err != nil {
			b.Fatal(err)
		}
	}
}
