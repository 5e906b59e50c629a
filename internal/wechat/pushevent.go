package wechat

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Push events (docs/wechat.md §5). WeChat sends the same event in two
// shapes:
//
//   - XML: the items are repeated <List> elements inside a wrapper element
//     named after the event (<SubscribeMsgPopupEvent> ...), strings usually
//     in CDATA.
//   - JSON: no wrapper; "List" is an object when there is one item and an
//     array when there are several.
//
// In both, numeric fields may arrive as strings or numbers. MsgID exceeds
// 2^53, so every number is parsed with strconv from its decimal text and
// never goes through float64.

// Event names this package decodes item lists for.
const (
	EventSubscribeMsgPopup  = "subscribe_msg_popup_event"
	EventSubscribeMsgChange = "subscribe_msg_change_event"
	EventSubscribeMsgSent   = "subscribe_msg_sent_event"
)

// Event is one decoded push event. For the three subscribe events exactly
// the matching list is filled (and has at least one item); other events carry
// the common fields only.
type Event struct {
	ToUserName   string
	FromUserName string // the user's openid
	CreateTime   int64
	MsgType      string
	Event        string
	Popup        []PopupItem  // subscribe_msg_popup_event
	Change       []ChangeItem // subscribe_msg_change_event
	Sent         []SentItem   // subscribe_msg_sent_event
}

// PopupItem is one template's answer in a subscribe popup. SubscribeStatus
// is "accept" or "reject" (wire name SubscribeStatusString).
type PopupItem struct {
	TemplateID      string
	SubscribeStatus string
	PopupScene      int
}

// ChangeItem is one template the user changed in settings (SubscribeStatus
// "reject": the user unsubscribed).
type ChangeItem struct {
	TemplateID      string
	SubscribeStatus string
}

// SentItem is the final outcome of one send. ErrorCode 0 means delivered.
type SentItem struct {
	TemplateID  string
	MsgID       int64
	ErrorCode   int
	ErrorStatus string
}

// ParseEvent decodes a plaintext event body. The format is detected from the
// first non-space byte: '<' is XML, '{' is JSON. Unknown events decode with
// the common fields only; a subscribe event without list items, or an item
// without a TemplateId, is ErrMalformed. Every error wraps ErrMalformed.
// ParseEvent sets no size limit: Receiver.Open enforces MaxBody first.
func ParseEvent(body []byte) (*Event, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("empty event body: %w", ErrMalformed)
	}
	switch trimmed[0] {
	case '<':
		return pushParseXML(body)
	case '{':
		return pushParseJSON(body)
	}
	return nil, fmt.Errorf("event body is neither XML nor JSON: %w", ErrMalformed)
}

// pushParseInt parses a decimal integer that arrived as text (an XML element,
// a JSON string or a JSON number literal). Surrounding space is allowed; an
// empty value is 0, since WeChat omits nothing it has a value for.
func pushParseInt(field, s string, bitSize int) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, bitSize)
	if err != nil {
		return 0, fmt.Errorf("field %s: not a decimal integer: %w", field, ErrMalformed)
	}
	return v, nil
}

func pushCheckItems(e *Event, n int) error {
	if n == 0 {
		return fmt.Errorf("%s without List items: %w", e.Event, ErrMalformed)
	}
	return nil
}

func pushCheckTemplateID(id string) error {
	if id == "" {
		return fmt.Errorf("List item without TemplateId: %w", ErrMalformed)
	}
	return nil
}

// ---- XML ----

type pushXMLEvent struct {
	XMLName      xml.Name `xml:"xml"`
	ToUserName   string
	FromUserName string
	CreateTime   string
	MsgType      string
	Event        string
	Popup        *struct {
		List []pushXMLItem `xml:"List"`
	} `xml:"SubscribeMsgPopupEvent"`
	Change *struct {
		List []pushXMLItem `xml:"List"`
	} `xml:"SubscribeMsgChangeEvent"`
	Sent *struct {
		List []pushXMLItem `xml:"List"`
	} `xml:"SubscribeMsgSentEvent"`
}

// pushXMLItem holds the fields of any of the three item kinds.
type pushXMLItem struct {
	TemplateID            string `xml:"TemplateId"`
	SubscribeStatusString string
	PopupScene            string
	MsgID                 string
	ErrorCode             string
	ErrorStatus           string
}

func pushParseXML(body []byte) (*Event, error) {
	var x pushXMLEvent
	if err := xml.Unmarshal(body, &x); err != nil {
		return nil, fmt.Errorf("event XML: %w", ErrMalformed)
	}
	ct, err := pushParseInt("CreateTime", x.CreateTime, 64)
	if err != nil {
		return nil, err
	}
	e := &Event{ToUserName: x.ToUserName, FromUserName: x.FromUserName, CreateTime: ct, MsgType: x.MsgType, Event: x.Event}
	var items []pushXMLItem
	switch e.Event {
	case EventSubscribeMsgPopup:
		if x.Popup != nil {
			items = x.Popup.List
		}
	case EventSubscribeMsgChange:
		if x.Change != nil {
			items = x.Change.List
		}
	case EventSubscribeMsgSent:
		if x.Sent != nil {
			items = x.Sent.List
		}
	default:
		return e, nil
	}
	if err := pushCheckItems(e, len(items)); err != nil {
		return nil, err
	}
	for _, it := range items {
		if err := pushAddItem(e, pushItem{
			TemplateID: it.TemplateID, SubscribeStatusString: it.SubscribeStatusString,
			PopupScene: it.PopupScene, MsgID: it.MsgID, ErrorCode: it.ErrorCode, ErrorStatus: it.ErrorStatus,
		}); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// pushItem is a list item with its numbers still as text, whichever format
// it came from.
type pushItem struct {
	TemplateID, SubscribeStatusString, ErrorStatus string
	PopupScene, MsgID, ErrorCode                   string
}

func pushAddItem(e *Event, it pushItem) error {
	if err := pushCheckTemplateID(it.TemplateID); err != nil {
		return err
	}
	switch e.Event {
	case EventSubscribeMsgPopup:
		scene, err := pushParseInt("PopupScene", it.PopupScene, strconv.IntSize)
		if err != nil {
			return err
		}
		e.Popup = append(e.Popup, PopupItem{TemplateID: it.TemplateID, SubscribeStatus: it.SubscribeStatusString, PopupScene: int(scene)})
	case EventSubscribeMsgChange:
		e.Change = append(e.Change, ChangeItem{TemplateID: it.TemplateID, SubscribeStatus: it.SubscribeStatusString})
	case EventSubscribeMsgSent:
		id, err := pushParseInt("MsgID", it.MsgID, 64)
		if err != nil {
			return err
		}
		code, err := pushParseInt("ErrorCode", it.ErrorCode, strconv.IntSize)
		if err != nil {
			return err
		}
		e.Sent = append(e.Sent, SentItem{TemplateID: it.TemplateID, MsgID: id, ErrorCode: int(code), ErrorStatus: it.ErrorStatus})
	}
	return nil
}

// ---- JSON ----

// pushJSONInt is a number that arrives as a JSON number or a JSON string. It
// keeps the decimal text; pushParseInt converts it.
type pushJSONInt string

func (n *pushJSONInt) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = pushJSONInt(s)
	default:
		*n = pushJSONInt(b) // a number literal; ParseInt rejects 1.5 and 1e3
	}
	return nil
}

type pushJSONEvent struct {
	ToUserName   string
	FromUserName string
	CreateTime   pushJSONInt
	MsgType      string
	Event        string
	List         json.RawMessage
	// Some documentation pages show the XML wrapper in JSON too; accept it
	// when List is absent.
	SubscribeMsgPopupEvent  *struct{ List json.RawMessage }
	SubscribeMsgChangeEvent *struct{ List json.RawMessage }
	SubscribeMsgSentEvent   *struct{ List json.RawMessage }
}

type pushJSONItem struct {
	TemplateID            string `json:"TemplateId"`
	SubscribeStatusString string
	PopupScene            pushJSONInt
	MsgID                 pushJSONInt
	ErrorCode             pushJSONInt
	ErrorStatus           string
}

func pushParseJSON(body []byte) (*Event, error) {
	var j pushJSONEvent
	if err := json.Unmarshal(body, &j); err != nil {
		return nil, fmt.Errorf("event JSON: %w", ErrMalformed)
	}
	ct, err := pushParseInt("CreateTime", string(j.CreateTime), 64)
	if err != nil {
		return nil, err
	}
	e := &Event{ToUserName: j.ToUserName, FromUserName: j.FromUserName, CreateTime: ct, MsgType: j.MsgType, Event: j.Event}
	list := j.List
	var wrapper *struct{ List json.RawMessage }
	switch e.Event {
	case EventSubscribeMsgPopup:
		wrapper = j.SubscribeMsgPopupEvent
	case EventSubscribeMsgChange:
		wrapper = j.SubscribeMsgChangeEvent
	case EventSubscribeMsgSent:
		wrapper = j.SubscribeMsgSentEvent
	default:
		return e, nil
	}
	if pushJSONAbsent(list) && wrapper != nil {
		list = wrapper.List
	}
	items, err := pushJSONItems(list)
	if err != nil {
		return nil, err
	}
	if err := pushCheckItems(e, len(items)); err != nil {
		return nil, err
	}
	for _, it := range items {
		if err := pushAddItem(e, pushItem{
			TemplateID: it.TemplateID, SubscribeStatusString: it.SubscribeStatusString,
			PopupScene: string(it.PopupScene), MsgID: string(it.MsgID), ErrorCode: string(it.ErrorCode), ErrorStatus: it.ErrorStatus,
		}); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func pushJSONAbsent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// pushJSONItems decodes List, which is an object for one item and an array
// for several.
func pushJSONItems(raw json.RawMessage) ([]pushJSONItem, error) {
	raw = bytes.TrimSpace(raw)
	if pushJSONAbsent(raw) {
		return nil, nil
	}
	switch raw[0] {
	case '{':
		var it pushJSONItem
		if err := json.Unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("event JSON List item: %w", ErrMalformed)
		}
		return []pushJSONItem{it}, nil
	case '[':
		var its []pushJSONItem
		if err := json.Unmarshal(raw, &its); err != nil {
			return nil, fmt.Errorf("event JSON List: %w", ErrMalformed)
		}
		return its, nil
	}
	return nil, fmt.Errorf("event JSON List is neither an object nor an array: %w", ErrMalformed)
}

// ---- Marshalling (what WeChat sends; used by the fake and by tests) ----

// MarshalEvent renders e as WeChat sends it: XML with the wrapper element and
// one <List> per item, strings in CDATA; or JSON without wrapper, where List
// is an object for one item and an array for several and numbers are strings
// as in WeChat's documented examples (MarshalEventJSON can emit numbers).
// Only the list matching e.Event is rendered. It fails with ErrMalformed if a
// string holds a character XML cannot carry.
func MarshalEvent(e *Event, json bool) ([]byte, error) {
	if json {
		return MarshalEventJSON(e, true)
	}
	return pushMarshalXML(e)
}

// MarshalEventJSON renders e as a JSON push; numbersAsStrings selects
// "CreateTime":"1620963428" over "CreateTime":1620963428 (WeChat sends both).
func MarshalEventJSON(e *Event, numbersAsStrings bool) ([]byte, error) {
	num := func(v int64) json.RawMessage {
		s := strconv.FormatInt(v, 10)
		if numbersAsStrings {
			s = `"` + s + `"`
		}
		return json.RawMessage(s)
	}
	type popup struct {
		TemplateID            string `json:"TemplateId"`
		SubscribeStatusString string
		PopupScene            json.RawMessage
	}
	type change struct {
		TemplateID            string `json:"TemplateId"`
		SubscribeStatusString string
	}
	type sent struct {
		TemplateID  string `json:"TemplateId"`
		MsgID       json.RawMessage
		ErrorCode   json.RawMessage
		ErrorStatus string
	}
	var items []any
	switch e.Event {
	case EventSubscribeMsgPopup:
		for _, it := range e.Popup {
			items = append(items, popup{it.TemplateID, it.SubscribeStatus, num(int64(it.PopupScene))})
		}
	case EventSubscribeMsgChange:
		for _, it := range e.Change {
			items = append(items, change{it.TemplateID, it.SubscribeStatus})
		}
	case EventSubscribeMsgSent:
		for _, it := range e.Sent {
			items = append(items, sent{it.TemplateID, num(it.MsgID), num(int64(it.ErrorCode)), it.ErrorStatus})
		}
	}
	out := struct {
		ToUserName   string
		FromUserName string
		CreateTime   json.RawMessage
		MsgType      string
		Event        string
		List         any `json:",omitempty"`
	}{e.ToUserName, e.FromUserName, num(e.CreateTime), e.MsgType, e.Event, nil}
	switch len(items) {
	case 0:
	case 1:
		out.List = items[0]
	default:
		out.List = items
	}
	return json.Marshal(out)
}

func pushMarshalXML(e *Event) ([]byte, error) {
	w := pushXMLWriter{}
	w.buf.WriteString("<xml>\n")
	w.text("ToUserName", e.ToUserName)
	w.text("FromUserName", e.FromUserName)
	w.num("CreateTime", e.CreateTime)
	w.text("MsgType", e.MsgType)
	w.text("Event", e.Event)
	switch e.Event {
	case EventSubscribeMsgPopup:
		w.buf.WriteString("<SubscribeMsgPopupEvent>\n")
		for _, it := range e.Popup {
			w.buf.WriteString("<List>\n")
			w.text("TemplateId", it.TemplateID)
			w.text("SubscribeStatusString", it.SubscribeStatus)
			w.num("PopupScene", int64(it.PopupScene))
			w.buf.WriteString("</List>\n")
		}
		w.buf.WriteString("</SubscribeMsgPopupEvent>\n")
	case EventSubscribeMsgChange:
		w.buf.WriteString("<SubscribeMsgChangeEvent>\n")
		for _, it := range e.Change {
			w.buf.WriteString("<List>\n")
			w.text("TemplateId", it.TemplateID)
			w.text("SubscribeStatusString", it.SubscribeStatus)
			w.buf.WriteString("</List>\n")
		}
		w.buf.WriteString("</SubscribeMsgChangeEvent>\n")
	case EventSubscribeMsgSent:
		w.buf.WriteString("<SubscribeMsgSentEvent>\n")
		for _, it := range e.Sent {
			w.buf.WriteString("<List>\n")
			w.text("TemplateId", it.TemplateID)
			w.num("MsgID", it.MsgID)
			w.num("ErrorCode", int64(it.ErrorCode))
			w.text("ErrorStatus", it.ErrorStatus)
			w.buf.WriteString("</List>\n")
		}
		w.buf.WriteString("</SubscribeMsgSentEvent>\n")
	}
	w.buf.WriteString("</xml>")
	if w.err != nil {
		return nil, w.err
	}
	return w.buf.Bytes(), nil
}

type pushXMLWriter struct {
	buf bytes.Buffer
	err error
}

func (w *pushXMLWriter) num(name string, v int64) {
	w.buf.WriteString("<" + name + ">")
	w.buf.WriteString(strconv.FormatInt(v, 10))
	w.buf.WriteString("</" + name + ">\n")
}

// text writes a string element the way WeChat does, in CDATA. A "]]>" inside
// the value splits the section. CDATA cannot carry a carriage return (XML
// parsers turn it into a newline), so such a value is written as escaped text
// instead; characters XML cannot carry at all are an error.
func (w *pushXMLWriter) text(name, v string) {
	if w.err != nil {
		return
	}
	if !pushXMLChars(v) {
		w.err = fmt.Errorf("field %s holds a character XML cannot carry: %w", name, ErrMalformed)
		return
	}
	w.buf.WriteString("<" + name + ">")
	if strings.Contains(v, "\r") {
		xml.EscapeText(&w.buf, []byte(v)) //nolint:errcheck // bytes.Buffer never fails
	} else {
		w.buf.WriteString("<![CDATA[")
		w.buf.WriteString(strings.ReplaceAll(v, "]]>", "]]]]><![CDATA[>"))
		w.buf.WriteString("]]>")
	}
	w.buf.WriteString("</" + name + ">\n")
}

// pushXMLChars reports whether s is valid UTF-8 made only of characters XML
// 1.0 allows.
func pushXMLChars(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		ok := r == 0x09 || r == 0x0A || r == 0x0D ||
			r >= 0x20 && r <= 0xD7FF ||
			r >= 0xE000 && r <= 0xFFFD ||
			r >= 0x10000 && r <= 0x10FFFF
		if !ok {
			return false
		}
	}
	return true
}
