// Package wechattest is a fake WeChat that behaves like WeChat: the endpoints
// reminderd calls, with the rules of docs/wechat.md enforced as WeChat
// enforces them, plus controls for tests (login codes, user popups, faults)
// and a record of everything accepted.
//
// It is used by the tests of every package, by `reminderd serve` in sandbox
// mode and by `reminderd demo`. It listens on loopback only.
package wechattest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/reminderd/reminderd/internal/wechat"
)

// Defaults of a fake account.
const (
	DefaultAppID  = "wxfa4e000000000001"
	DefaultSecret = "fake-app-secret-0123456789abcdef"
	// FirstMsgID is above 2^53 so that a client decoding msgid as float64
	// loses precision and its tests fail.
	FirstMsgID int64 = 1_700_000_000_000_000_001
)

// Options configure a Server. The zero value is usable.
type Options struct {
	AppID  string // default DefaultAppID
	Secret string // default DefaultSecret
	// Now is the clock (default time.Now). Token expiry, login-code expiry,
	// quota days and event CreateTime all follow it.
	Now func() time.Time
	// TokenTTL is the lifetime of an access token (default 7200 s).
	TokenTTL time.Duration
	// Pages are the mini-program's pages; a send naming another page gets
	// 41030. Default: pages/index/index and pages/meeting/detail.
	Pages []string
	// Seed makes fault injection reproducible (default: random).
	Seed uint64
	// Logger for the fake's own lines (default: discard).
	Logger *slog.Logger
}

// Server is a running fake WeChat.
type Server struct {
	// URL is the base URL to give a wechat.Client.
	URL string

	appID, secret string
	now           func() time.Time
	tokenTTL      time.Duration
	log           *slog.Logger
	httpSrv       *http.Server
	ts            *httptest.Server
	pushClient    *http.Client
	pushWG        sync.WaitGroup

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
	nextMsgID     int64
	sends         []Send
	counts        Counts
	faults        Faults
	failNext      []FaultAfterAccept // faults for the next accepted sends, in order
	quotaDay      string
	quotaUsed     int
	push          *pushTarget
	pushes        []PushRecord
}

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

// New starts a fake on a loopback httptest server. Close it when done.
func New(opts Options) *Server {
	s := newServer(opts)
	s.ts = httptest.NewServer(s.Handler())
	s.URL = s.ts.URL
	return s
}

// Start starts a fake listening on addr (which must be a loopback address,
// e.g. "127.0.0.1:0"), for the sandbox and the demo.
func Start(addr string, opts Options) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("fake wechat address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("fake wechat address %q: must be a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake wechat: %w", err)
	}
	s := newServer(opts)
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	s.URL = "http://" + ln.Addr().String()
	go func() { _ = s.httpSrv.Serve(ln) }()
	return s, nil
}

func newServer(opts Options) *Server {
	s := &Server{
		appID:      opts.AppID,
		secret:     opts.Secret,
		now:        opts.Now,
		tokenTTL:   opts.TokenTTL,
		log:        opts.Logger,
		pushClient: &http.Client{Timeout: 5 * time.Second},
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
		nextMsgID:     FirstMsgID,
	}
	if s.appID == "" {
		s.appID = DefaultAppID
	}
	if s.secret == "" {
		s.secret = DefaultSecret
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tokenTTL <= 0 {
		s.tokenTTL = 7200 * time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	pages := opts.Pages
	if len(pages) == 0 {
		pages = []string{"pages/index/index", "pages/meeting/detail"}
	}
	for _, p := range pages {
		s.pages[p] = true
	}
	seed := opts.Seed
	if seed == 0 {
		n, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		seed = n.Uint64()
	}
	s.rnd = mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return s
}

// Close stops the server and waits for pushes in flight.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.CloseClientConnections()
		s.ts.Close()
	}
	if s.httpSrv != nil {
		_ = s.httpSrv.Close()
	}
	s.pushWG.Wait()
}

// AppID and Secret are the fake account's credentials.
func (s *Server) AppID() string  { return s.appID }
func (s *Server) Secret() string { return s.secret }

// Handler serves WeChat's endpoints and the fake's HTTP controls.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cgi-bin/stable_token", s.handleStableToken)
	mux.HandleFunc("GET /cgi-bin/token", s.handleLegacyToken)
	mux.HandleFunc("GET /sns/jscode2session", s.handleCode2Session)
	mux.HandleFunc("POST /cgi-bin/message/subscribe/send", s.handleSend)
	mux.HandleFunc("GET /wxaapi/newtmpl/gettemplate", s.handleGetTemplate)
	mux.HandleFunc("POST /fake/login", s.handleFakeLogin)
	mux.HandleFunc("POST /fake/popup", s.handleFakePopup)
	mux.HandleFunc("POST /fake/fail-next-sends", s.handleFakeFailNextSends)
	return mux
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// rid imitates the request id WeChat appends to every errmsg.
func rid() string {
	return fmt.Sprintf(" rid: %s-%s-%s", randomHex(4), randomHex(4), randomHex(4))
}
