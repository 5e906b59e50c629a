package api

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Guarding the admin token: the client's address (through trusted proxies
// only), and a limit on failed admin sign-ins and bearer checks per address.

// ParseTrustedProxies parses a comma-separated list of IP addresses and
// CIDR prefixes (REMINDERD_TRUSTED_PROXIES). Empty means none.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// fromTrustedProxy reports whether the request's peer is a trusted proxy,
// whose forwarding headers are believed.
func (s *Server) fromTrustedProxy(r *http.Request) bool {
	return len(s.trustedProxies) > 0 && s.trusted(remoteAddr(r))
}

// clientAddr is the address a request comes from: the peer, or, when the
// peer is a trusted proxy, the last address of X-Forwarded-For that is not
// itself a trusted proxy (earlier entries are the client's to forge).
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	a := remoteAddr(r)
	if !s.fromTrustedProxy(r) {
		return a
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		h = h.Unmap()
		if !s.trusted(h) {
			return h
		}
		a = h
	}
	return a
}

// secure reports whether the request reached reminderd over TLS: itself, or
// through a trusted proxy that says so with X-Forwarded-Proto: https.
func (s *Server) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.fromTrustedProxy(r) && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
}

// Failed admin attempts: a bucket per client address of AdminFailureBurst
// failures, refilled by one every AdminFailureEvery. An address whose bucket
// is empty gets 429 for any admin token it presents, right or wrong, until
// the bucket refills: guessing is slowed to one try per AdminFailureEvery.
const (
	AdminFailureBurst = 10
	AdminFailureEvery = 6 * time.Second
	// maxFailureAddrs bounds the addresses remembered (about 100 bytes each).
	maxFailureAddrs = 10000
)

type failureLimiter struct {
	mu  sync.Mutex
	m   map[netip.Prefix]*rate.Limiter
	now func() time.Time
}

// key groups IPv6 addresses by /64, which one host usually owns whole.
func failureKey(a netip.Addr) netip.Prefix {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	p, _ := a.Prefix(a.BitLen())
	return p
}

// blocked reports whether a is out of failures, and when it may try again.
func (f *failureLimiter) blocked(a netip.Addr) (bool, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.m[failureKey(a)]
	if !ok {
		return false, 0
	}
	now := f.now()
	if l.TokensAt(now) >= 1 {
		return false, 0
	}
	r := l.ReserveN(now, 1) // how long until one failure is allowed again
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return true, wait
}

// fail counts one failed attempt from a.
func (f *failureLimiter) fail(a netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[netip.Prefix]*rate.Limiter{}
	}
	k, now := failureKey(a), f.now()
	l, ok := f.m[k]
	if !ok {
		if len(f.m) >= maxFailureAddrs {
			f.evict(now)
		}
		l = rate.NewLimiter(rate.Every(AdminFailureEvery), AdminFailureBurst)
		f.m[k] = l
	}
	l.AllowN(now, 1)
}

// evict drops the addresses whose bucket refilled (they are as if new);
// if none did, an arbitrary half.
func (f *failureLimiter) evict(now time.Time) {
	for k, l := range f.m {
		if l.TokensAt(now) >= AdminFailureBurst {
			delete(f.m, k)
		}
	}
	for k := range f.m {
		if len(f.m) < maxFailureAddrs/2 {
			break
		}
		delete(f.m, k)
	}
}

// adminLimited answers 429 when the request's address is out of failed
// admin attempts, and reports whether it did.
func (s *Server) adminLimited(w http.ResponseWriter, r *http.Request) bool {
	blocked, wait := s.adminFailures.blocked(s.clientAddr(r))
	if !blocked {
		return false
	}
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	s.logFor(r.Context()).Warn("admin attempts rate limited", "client", s.clientAddr(r).String())
	if strings.HasPrefix(r.URL.Path, "/admin/v1/") {
		s.writeError(w, r, errf(http.StatusTooManyRequests, "rate_limited",
			"too many failed admin attempts from this address; try again in %d s", max(secs, 1)))
		return true
	}
	s.renderPage(w, r, "login", http.StatusTooManyRequests, pageData{Title: "Sign in",
		Error: fmt.Sprintf("Too many failed attempts from this address: try again in %d s.", max(secs, 1))})
	return true
}
