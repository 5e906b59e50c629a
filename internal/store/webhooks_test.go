package store

import (
	"testing"
	"time"
)

// A settle by a sent event is reminder.sent, unless the record refused it
// because the event turned out another send's (written as a deferral).
func TestOutcomeWebhookOfARefusedSettle(t *testing.T) {
	at := time.UnixMilli(1_800_000_000_000)
	o := Outcome{Claim: Claim{Reminder: Reminder{ID: "a", FireAt: at, Attempts: 2}, ClaimedAt: at}, At: at.Add(time.Second),
		Complete: &Completion{Status: StatusSent},
		Settle:   &Settle{ErrMsg: "settled by WeChat's sent event", Event: SentEvent{MsgID: 9, Delivered: true}, HasEvent: true}}
	if typ, d, ok := OutcomeWebhook(o, Recorded{}); !ok || typ != EventReminderSent || d.MsgID != 9 {
		t.Fatalf("settle: %q %+v %v; want reminder.sent with the event's msgid", typ, d, ok)
	}
	if typ, _, ok := OutcomeWebhook(o, Recorded{EventGone: true}); ok {
		t.Fatalf("refused settle: %q; want nothing reported", typ)
	}
}
