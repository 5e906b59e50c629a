package wechattest

import (
	"fmt"
	"io"
	"net"
	"net/http"
)

// FaultAfterAccept is a way the answer to an accepted send is lost. The send
// itself went through: it is in Sends, the credit is used, the sent event is
// pushed. A client sees no valid answer, so the send's outcome is unknown to
// it.
type FaultAfterAccept int

const (
	// NoFaultAfterAccept answers normally.
	NoFaultAfterAccept FaultAfterAccept = iota
	// AnswerLost closes the connection without answering.
	AnswerLost
	// ConnectionReset resets the connection (TCP RST) without answering.
	ConnectionReset
	// TruncatedAnswer sends the headers and half the body, then closes.
	TruncatedAnswer
	// HangAfterAccept never answers: it waits until the client gives up
	// (its timeout) or the fake closes.
	HangAfterAccept
	// EmptyAnswer answers HTTP 200 with {}: no errcode.
	EmptyAnswer
)

var faultNames = map[FaultAfterAccept]string{
	NoFaultAfterAccept: "none",
	AnswerLost:         "answer_lost",
	ConnectionReset:    "connection_reset",
	TruncatedAnswer:    "truncated_answer",
	HangAfterAccept:    "hang",
	EmptyAnswer:        "empty_answer",
}

func (f FaultAfterAccept) String() string {
	if n, ok := faultNames[f]; ok {
		return n
	}
	return fmt.Sprintf("FaultAfterAccept(%d)", int(f))
}

// ParseFaultAfterAccept reads a fault's name (as String writes it).
func ParseFaultAfterAccept(name string) (FaultAfterAccept, error) {
	for f, n := range faultNames {
		if n == name {
			return f, nil
		}
	}
	return 0, fmt.Errorf("unknown fault %q: want answer_lost, connection_reset, truncated_answer, hang or empty_answer", name)
}

// FailNextSends makes the answers of the next n sends WeChat accepts fail
// with f (after any still queued). Sends WeChat refuses (43101, 47003, …)
// are answered normally and do not count. n ≤ 0 or NoFaultAfterAccept
// clears the queue.
func (a *Account) FailNextSends(n int, f FaultAfterAccept) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n <= 0 || f == NoFaultAfterAccept {
		a.failNext = nil
		return
	}
	for range n {
		a.failNext = append(a.failNext, f)
	}
}

// afterAcceptFault picks the fault for a send just accepted: the queue of
// FailNextSends first, then the After… rates. The caller holds a.mu.
func (a *Account) afterAcceptFault() FaultAfterAccept {
	if len(a.failNext) > 0 {
		f := a.failNext[0]
		a.failNext = a.failNext[1:]
		return f
	}
	f := a.faults
	if f.AfterLostRate+f.AfterResetRate+f.AfterTruncatedRate+f.AfterHangRate+f.AfterEmptyRate <= 0 {
		return NoFaultAfterAccept
	}
	roll := a.rnd.Float64()
	for _, c := range []struct {
		rate  float64
		fault FaultAfterAccept
	}{
		{f.AfterLostRate, AnswerLost}, {f.AfterResetRate, ConnectionReset}, {f.AfterTruncatedRate, TruncatedAnswer},
		{f.AfterHangRate, HangAfterAccept}, {f.AfterEmptyRate, EmptyAnswer},
	} {
		if roll < c.rate {
			return c.fault
		}
		roll -= c.rate
	}
	return NoFaultAfterAccept
}

// loseAnswer answers an accepted send (whose body has been read) with fault
// instead of answer.
func loseAnswer(w http.ResponseWriter, r *http.Request, fault FaultAfterAccept, answer string) {
	switch fault {
	case HangAfterAccept:
		<-r.Context().Done()
		return
	case EmptyAnswer:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.WriteString(w, "{}")
		return
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the stream without an answer
	}
	defer conn.Close()
	switch fault {
	case ConnectionReset:
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // Close sends RST
		}
	case TruncatedAnswer:
		_, _ = fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s",
			len(answer), answer[:len(answer)/2])
	}
}
