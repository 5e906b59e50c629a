package wechattest

import (
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/reminderd/reminderd/internal/wechat"
)

// Account is one mini-program of the fake: its credentials, tokens, login
// codes, users, templates, ledgers, quota, faults, push target and the sends
// it accepted. Nothing of one account reaches another, as on WeChat.
type Account struct {
	srv                       *Server
	appID, secret, originalID string

	mu        sync.Mutex
	rnd       *mrand.Rand
	pages     map[string]bool
	tokens    map[string]*tokenRec
	stable    string // current stable token
	legacy    string // newest legacy token
	codes     map[string]*codeRec
	blocked   map[string]bool
	users     map[string]bool // openids known to this account
	templates []wechat.Template
	credits   map[ledgerKey]int
	longTerm  map[ledgerKey]bool
	// Accepts not yet paired (ReportAccept): popups no report claimed, and
	// reports granted with no popup seen.
	popupAccepts  map[ledgerKey][]time.Time
	reportAccepts map[ledgerKey][]time.Time
	inflight      map[string]int
	arrived       chan<- string // NotifySends
	sends         []Send
	counts        Counts
	faults        Faults
	failNext      []FaultAfterAccept // faults for the next accepted sends, in order
	quotaDay      string
	quotaUsed     int
	push          *pushTarget
	pushes        []PushRecord
}

// newAccount is the index-th account of s.
func newAccount(s *Server, o AppOptions, index int) *Account {
	a := &Account{
		srv:    s,
		appID:  o.AppID,
		secret: o.Secret,
		// The original id (gh_…) WeChat names the account by in pushes.
		originalID: fmt.Sprintf("gh_fa4e%08x", index+1),
		pages:      map[string]bool{},
		tokens:     map[string]*tokenRec{},
		codes:      map[string]*codeRec{},
		blocked:    map[string]bool{},
		users:      map[string]bool{},
		credits:    map[ledgerKey]int{},
		longTerm:   map[ledgerKey]bool{},

		popupAccepts:  map[ledgerKey][]time.Time{},
		reportAccepts: map[ledgerKey][]time.Time{},
		inflight:      map[string]int{},
	}
	pages := o.Pages
	if len(pages) == 0 {
		pages = []string{"pages/index/index", "pages/meeting/detail"}
	}
	for _, p := range pages {
		a.pages[p] = true
	}
	// Each account draws its own faults, reproducibly from the seed.
	seed := s.seed + uint64(index)
	a.rnd = mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return a
}

// AppID and Secret are the account's credentials.
func (a *Account) AppID() string  { return a.appID }
func (a *Account) Secret() string { return a.secret }

// now is the server's clock.
func (a *Account) now() time.Time { return a.srv.now() }

type tokenRec struct {
	expiresAt  time.Time
	validUntil time.Time // earlier than expiresAt once superseded or revoked
	legacy     bool
}

type codeRec struct {
	openID    string
	expiresAt time.Time
	used      bool
}

type ledgerKey struct{ openID, templateID string }

// Send is one send WeChat accepted.
type Send struct {
	MsgID            int64
	ToUser           string
	TemplateID       string
	Page             string
	MiniprogramState string
	Lang             string
	Data             map[string]string
	At               time.Time
}

// Counts are the calls the fake has answered, by endpoint.
type Counts struct {
	StableToken, LegacyToken, Code2Session, Send, GetTemplate int
	// UserBusy counts the sends answered 43108 (another send to the user
	// in flight), NoCredit those answered 43101 (no credit left).
	UserBusy, NoCredit int
}

// Faults are injected into subscribe sends (and, with AllEndpoints, into
// every endpoint). Rates are shares of requests in [0,1], drawn in order:
// hang, HTTP 500, -1.
//
// The After… rates apply to subscribe sends WeChat has accepted: the message
// is recorded in Sends, the credit is used and the sent event is pushed, but
// the answer is lost in one of the ways of FaultAfterAccept (drawn in the
// order of its constants). A client cannot tell these from a send that
// failed; only the sent event says it went out.
type Faults struct {
	Latency      time.Duration // added to every affected request
	BusyRate     float64       // errcode -1
	HTTP500Rate  float64       // HTTP 500 with an HTML body
	HangRate     float64       // never answers until the client gives up
	DailyQuota   int           // successful sends per day (Beijing time); 0 = unlimited
	AllEndpoints bool

	AfterLostRate      float64 // AnswerLost
	AfterResetRate     float64 // ConnectionReset
	AfterTruncatedRate float64 // TruncatedAnswer
	AfterHangRate      float64 // HangAfterAccept
	AfterEmptyRate     float64 // EmptyAnswer
}
