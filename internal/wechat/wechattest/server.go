// Package wechattest is a fake WeChat that behaves like WeChat: the endpoints
// reminderd calls, with the rules of docs/wechat.md enforced as WeChat
// enforces them, plus controls for tests (login codes, user popups, faults)
// and a record of everything accepted.
//
// One Server serves several mini-program accounts (Account), as WeChat does:
// each has its own credentials, tokens, login codes, users, templates,
// ledgers, quota, faults and push target, and a token reaches only the
// account it was issued for. The methods of Account called on the Server act
// on its first (default) account.
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
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of a fake account.
const (
	DefaultAppID  = "wxfa4e000000000001"
	DefaultSecret = "fake-app-secret-0123456789abcdef"
	// FirstMsgID is above 2^53 so that a client decoding msgid as float64
	// loses precision and its tests fail.
	FirstMsgID int64 = 1_700_000_000_000_000_001
)

// Options configure a Server. The zero value is usable. AppID, Secret and
// Pages are those of the first (default) account; Apps adds more.
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
	// Apps are further accounts the server serves, after the first.
	Apps []AppOptions
	// Seed makes fault injection reproducible (default: random).
	Seed uint64
	// Logger for the fake's own lines (default: discard).
	Logger *slog.Logger
}

// AppOptions configure one further account of a Server.
type AppOptions struct {
	AppID  string // required, unique on the server
	Secret string // default: random
	Pages  []string
}

// Server is a running fake WeChat.
type Server struct {
	// Account is the first (default) account: what the fake's methods and
	// its /fake/* controls act on when no appid is named.
	*Account
	// URL is the base URL to give a wechat.Client (of any account).
	URL string

	now        func() time.Time
	tokenTTL   time.Duration
	log        *slog.Logger
	seed       uint64
	httpSrv    *http.Server
	ts         *httptest.Server
	pushClient *http.Client
	pushWG     sync.WaitGroup
	// lastMsgID is shared by the accounts, as WeChat's msgids are unique
	// across mini-programs.
	lastMsgID atomic.Int64

	appsMu sync.Mutex
	apps   []*Account // in the order added; apps[0] is Account
}

// New starts a fake on a loopback httptest server. Close it when done. It
// panics on invalid Options (an AppOptions without AppID or a duplicate).
func New(opts Options) *Server {
	s, err := newServer(opts)
	if err != nil {
		panic(err)
	}
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
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake wechat: %w", err)
	}
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	s.URL = "http://" + ln.Addr().String()
	go func() { _ = s.httpSrv.Serve(ln) }()
	return s, nil
}

func newServer(opts Options) (*Server, error) {
	s := &Server{
		now:        opts.Now,
		tokenTTL:   opts.TokenTTL,
		log:        opts.Logger,
		seed:       opts.Seed,
		pushClient: &http.Client{Timeout: 5 * time.Second},
	}
	s.lastMsgID.Store(FirstMsgID - 1)
	if s.now == nil {
		s.now = time.Now
	}
	if s.tokenTTL <= 0 {
		s.tokenTTL = 7200 * time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.seed == 0 {
		n, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		s.seed = n.Uint64()
	}
	first := AppOptions{AppID: opts.AppID, Secret: opts.Secret, Pages: opts.Pages}
	if first.AppID == "" {
		first.AppID = DefaultAppID
	}
	if first.Secret == "" {
		first.Secret = DefaultSecret
	}
	var err error
	if s.Account, err = s.addApp(first); err != nil {
		return nil, err
	}
	for _, o := range opts.Apps {
		if _, err := s.addApp(o); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// AddApp adds an account to the running server: its tokens, codes and
// ledgers are its own from the start. It panics on an empty or duplicate
// AppID (a test's mistake).
func (s *Server) AddApp(o AppOptions) *Account {
	a, err := s.addApp(o)
	if err != nil {
		panic(err)
	}
	return a
}

func (s *Server) addApp(o AppOptions) (*Account, error) {
	if o.AppID == "" {
		return nil, fmt.Errorf("fake wechat: an app needs an AppID")
	}
	if o.Secret == "" {
		o.Secret = randomHex(16)
	}
	s.appsMu.Lock()
	defer s.appsMu.Unlock()
	for _, a := range s.apps {
		if a.appID == o.AppID {
			return nil, fmt.Errorf("fake wechat: app %s added twice", o.AppID)
		}
	}
	a := newAccount(s, o, len(s.apps))
	s.apps = append(s.apps, a)
	return a, nil
}

// App returns the account of appID, or nil if the server has none.
func (s *Server) App(appID string) *Account {
	s.appsMu.Lock()
	defer s.appsMu.Unlock()
	for _, a := range s.apps {
		if a.appID == appID {
			return a
		}
	}
	return nil
}

// Apps returns the accounts, the default first.
func (s *Server) Apps() []*Account {
	s.appsMu.Lock()
	defer s.appsMu.Unlock()
	return append([]*Account(nil), s.apps...)
}

// tokenOwner returns the account that issued tok, or nil.
func (s *Server) tokenOwner(tok string) *Account {
	for _, a := range s.Apps() {
		if a.hasToken(tok) {
			return a
		}
	}
	return nil
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
	mux.HandleFunc("GET /fake/sends", s.handleFakeSends)
	mux.HandleFunc("GET /fake/apps", s.handleFakeApps)
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
