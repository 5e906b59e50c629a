package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/reminderd/reminderd/internal/store"
)

type ctxKey int

const openIDKey ctxKey = 1

// openID returns the authenticated user of a /v1 request.
func openID(ctx context.Context) string { return ctx.Value(openIDKey).(string) }

// newToken returns a random bearer token with 256 bits of entropy.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is what the sessions table stores instead of the token.
func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// sessionOpenID resolves a session token, or "" if it is unknown or expired.
func (s *Server) sessionOpenID(ctx context.Context, tok string) (string, error) {
	oid, _, err := s.sessionUser(ctx, tok)
	return oid, err
}

// sessionUser resolves a session token to its user and app, or "" if it
// is unknown or expired.
func (s *Server) sessionUser(ctx context.Context, tok string) (oid, app string, err error) {
	if tok == "" || len(tok) > 256 {
		return "", "", nil
	}
	hash, now := hashToken(tok), s.now()
	if e, ok := s.sessions.get(hash, now.UnixMilli()); ok {
		return e.openID, e.appID, nil
	}
	sess, err := s.store.GetSession(ctx, hash, now)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	s.sessions.put(hash, cachedSession{openID: sess.OpenID, appID: sess.AppID, expiresAt: sess.ExpiresAt.UnixMilli()})
	return sess.OpenID, sess.AppID, nil
}

// sessionCache remembers sessions already looked up, so that a request does
// not start with a read of the database. It is exact: a session row never
// changes, and it ends only by expiring, which the cache checks. Unknown
// tokens are not cached. Only token hashes are kept, as in the table.
type sessionCache struct {
	mu sync.Mutex
	m  map[string]cachedSession
}

type cachedSession struct {
	openID    string
	appID     string
	expiresAt int64 // unix ms
}

// maxCachedSessions bounds the cache (about 150 bytes an entry); when it
// is full an arbitrary half is dropped.
const maxCachedSessions = 10000

func (c *sessionCache) get(hash string, now int64) (cachedSession, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok {
		return cachedSession{}, false
	}
	if now >= e.expiresAt {
		delete(c.m, hash)
		return cachedSession{}, false
	}
	return e, true
}

func (c *sessionCache) put(hash string, e cachedSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedSession{}
	}
	if len(c.m) >= maxCachedSessions {
		n := 0
		for k := range c.m { // map order is random: an arbitrary half
			if n >= maxCachedSessions/2 {
				break
			}
			delete(c.m, k)
			n++
		}
	}
	c.m[hash] = e
}

func (s *Server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" {
			s.writeError(w, r, errf(http.StatusUnauthorized, "unauthorized", "a session token is required (Authorization: Bearer <token> from POST /v1/session)"))
			return
		}
		oid, app, err := s.sessionUser(r.Context(), tok)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if oid == "" {
			s.writeError(w, r, errf(http.StatusUnauthorized, "unauthorized", "the session token is invalid or expired; log in again"))
			return
		}
		if _, ok := s.apps.Get(app); !ok {
			// A removed app keeps its data, but serves no one.
			s.writeError(w, r, errf(http.StatusForbidden, "forbidden", "the mini-program %s is no longer served here", app))
			return
		}
		next.ServeHTTP(w, r.WithContext(withUser(r.Context(), oid, app)))
	})
}

func (s *Server) isAdmin(tok string) bool {
	if s.adminToken == "" || tok == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(s.adminToken))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.adminToken == "" {
			s.writeError(w, r, errf(http.StatusForbidden, "forbidden", "the admin API is disabled: set REMINDERD_ADMIN_TOKEN"))
			return
		}
		tok := bearer(r)
		if tok != "" && s.adminLimited(w, r) {
			return
		}
		if s.isAdmin(tok) {
			next.ServeHTTP(w, r)
			return
		}
		if tok != "" {
			// A valid user session is authenticated but not allowed here.
			if oid, err := s.sessionOpenID(r.Context(), tok); err == nil && oid != "" {
				s.writeError(w, r, errf(http.StatusForbidden, "forbidden", "a user session cannot use the admin API"))
				return
			}
			s.adminFailures.fail(s.clientAddr(r))
		}
		s.writeError(w, r, errf(http.StatusUnauthorized, "unauthorized", "the admin token is required (Authorization: Bearer <REMINDERD_ADMIN_TOKEN>)"))
	})
}
