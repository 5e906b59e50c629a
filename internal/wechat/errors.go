package wechat

import (
	"errors"
	"fmt"
)

// WeChat errcodes reminderd acts on (docs/wechat.md §2, §1, §4).
const (
	CodeOK              = 0
	CodeBusy            = -1
	CodeInvalidToken    = 40001 // invalid credential or not the latest
	CodeInvalidAppID    = 40013
	CodeTokenInvalid    = 40014
	CodeInvalidOpenID   = 40003
	CodeInvalidCode     = 40029
	CodeInvalidTemplate = 40037
	CodeInvalidSecret   = 40125
	CodeIPNotAllowed    = 40164
	CodeUserBlocked     = 40226
	CodeInvalidPage     = 41030
	CodeTokenExpired    = 42001
	CodeNoCredit        = 43101 // no credit left, or the user refused/unsubscribed
	CodeBanned          = 43107
	CodeUserBusy        = 43108 // concurrent sends to the same user
	CodeQuota           = 45009 // daily quota reached
	CodeTooFrequent     = 45011
	CodeSensitive       = 45168
	CodeInvalidArgument = 47003 // errmsg names the field
)

// APIError is an errcode answer from WeChat. Msg is WeChat's errmsg, which
// never holds a credential.
type APIError struct {
	Code int
	Msg  string
}

func (e *APIError) Error() string { return fmt.Sprintf("wechat errcode %d: %s", e.Code, e.Msg) }

// TransportError is a failure to get an answer from WeChat at all: a
// connection error, a timeout, an HTTP status other than 200, or a body that
// is not WeChat's JSON (a JSON object whose errcode, when present, is an
// integer). It never holds the request URL (which carries the access token or
// the secret). For a send whose request was written it also matches
// ErrOutcomeUnknown.
type TransportError struct {
	Op         string // e.g. "subscribe send"
	StatusCode int    // 0 when no HTTP answer arrived
	Err        error
}

func (e *TransportError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("wechat %s: HTTP %d", e.Op, e.StatusCode)
	}
	return fmt.Sprintf("wechat %s: %v", e.Op, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// ErrOutcomeUnknown matches (errors.Is) a send whose request may have
// reached WeChat but got no valid answer: a timeout or a lost connection
// after the request was written, a body cut short, or an HTTP 200 whose body
// is not a JSON object with an integer errcode. WeChat may have accepted the
// message (and used the user's credit); only its subscribe_msg_sent_event
// can tell. The error is a *TransportError, and its text says why the
// outcome is unknown. Failures before the request could have been sent
// (refused connection, DNS, TLS, a context ended before the write) are plain
// transient *TransportErrors.
var ErrOutcomeUnknown = errors.New("outcome unknown: the request may have reached WeChat")

// ErrInvalidAnswer matches (errors.Is) an answer that arrived but is not
// one JSON object with an integer errcode ({}, null, HTML, …): a wrong base
// URL or a proxy in the way, which would otherwise lose every message
// silently. Alert on it.
var ErrInvalidAnswer = errors.New("invalid answer")

// answerError says what was wrong with an answer, or that it was lost.
// unknown marks a send's answer: it then matches ErrOutcomeUnknown; invalid
// marks an answer that arrived malformed: it then matches ErrInvalidAnswer.
type answerError struct {
	why     string
	err     error // nil when why says it all
	unknown bool
	invalid bool
}

func (e *answerError) Error() string {
	s := e.why
	if e.unknown {
		s = "outcome unknown: " + s
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

func (e *answerError) Unwrap() []error {
	var errs []error
	if e.unknown {
		errs = append(errs, ErrOutcomeUnknown)
	}
	if e.invalid {
		errs = append(errs, ErrInvalidAnswer)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// TokenFetchError is a failure to obtain an access token (40013 bad appid,
// 40125 bad secret, 40164 IP not whitelisted, -1, a transport error …).
// It says nothing about the message being sent: callers treat it as
// transient (it trips a circuit breaker) and alert on it, never as a
// permanent failure of the message.
type TokenFetchError struct{ Err error }

func (e *TokenFetchError) Error() string { return "fetch access token: " + e.Err.Error() }
func (e *TokenFetchError) Unwrap() error { return e.Err }

// Class says what a caller should do about an error from WeChat.
type Class int

const (
	// ClassNone: no error.
	ClassNone Class = iota
	// ClassPermanent: the call will fail the same way again (per reminder or
	// per configuration). Does not say anything about WeChat's health.
	ClassPermanent
	// ClassToken: the access token was rejected. The Client already refreshed
	// and retried once; seeing it means the retry failed too.
	ClassToken
	// ClassTransient: WeChat is busy or unreachable (-1, HTTP 5xx, timeouts,
	// transport errors). Retry with backoff; counts against a circuit breaker.
	ClassTransient
	// ClassQuota: the daily quota is used up (45009). Pause until it resets.
	ClassQuota
	// ClassUserBusy: a concurrent send to the same openid (43108). Retry
	// later; says nothing about WeChat's health.
	ClassUserBusy
	// ClassUnknown: the send's request may have reached WeChat but no valid
	// answer came back (ErrOutcomeUnknown): WeChat may have delivered the
	// message and used the credit. Do not resend blindly: wait for the
	// subscribe_msg_sent_event. Only Send returns it.
	ClassUnknown
)

func (c Class) String() string {
	switch c {
	case ClassNone:
		return "none"
	case ClassPermanent:
		return "permanent"
	case ClassToken:
		return "token"
	case ClassTransient:
		return "transient"
	case ClassQuota:
		return "quota"
	case ClassUserBusy:
		return "user_busy"
	case ClassUnknown:
		return "unknown"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// ClassifyCode classifies a WeChat errcode.
func ClassifyCode(code int) Class {
	switch code {
	case CodeOK:
		return ClassNone
	case CodeBusy:
		return ClassTransient
	case CodeInvalidToken, CodeTokenInvalid, CodeTokenExpired:
		return ClassToken
	case CodeQuota:
		return ClassQuota
	case CodeUserBusy:
		return ClassUserBusy
	default:
		// 40003, 40037, 41030, 43101, 43107, 45168, 47003 and any errcode not
		// documented for the call: retrying cannot help.
		return ClassPermanent
	}
}

// Classify classifies any error returned by a Client method. Context
// cancellation by the caller is not WeChat's fault and is ClassTransient only
// when it came from the HTTP client's own timeout.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var tfe *TokenFetchError
	if errors.As(err, &tfe) {
		return ClassTransient
	}
	if errors.Is(err, ErrOutcomeUnknown) {
		return ClassUnknown
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return ClassifyCode(apiErr.Code)
	}
	var tErr *TransportError
	if errors.As(err, &tErr) {
		return ClassTransient
	}
	return ClassPermanent
}

// Errors of code2Session, matched with errors.Is. The *APIError stays
// reachable with errors.As.
var (
	ErrInvalidCode = errors.New("login code invalid, expired or already used")
	ErrUserBlocked = errors.New("user is blocked by WeChat")
	ErrRateLimited = errors.New("too many login requests")
	ErrUnavailable = errors.New("wechat unavailable")
)

// loginError pairs a sentinel with the errcode that caused it.
type loginError struct {
	kind error
	api  *APIError
}

func (e *loginError) Error() string   { return fmt.Sprintf("code2session: %v (%v)", e.kind, e.api) }
func (e *loginError) Unwrap() []error { return []error{e.kind, e.api} }
