// Package metrics exposes reminderd's Prometheus metrics. Counters and
// histograms are fed by the scheduler and the WeChat client as things
// happen; gauges of the database's state are read at scrape time.
//
// No label carries an openid, a reminder id or any other unbounded or
// personal value.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// State is what the scrape reads from the store and the engine.
type State struct {
	// Apps are the served apps and, counts only, the apps only the data
	// still names (removed from the configuration).
	Apps []AppState
	// Breaker is the apps' breakers together, as /admin/v1/stats reports
	// it: open only when every app's is open (closed, open, half_open).
	Breaker string
	// WALFrames is the WAL's size in pages at the last background
	// checkpoint; CheckpointFailures counts the failed ones.
	WALFrames          int64
	CheckpointFailures int64
	// SoleSender is this process's view of the fleet's sole-sender lease
	// (held, yielding, free, other, unknown), "" where there is none
	// (SQLite).
	SoleSender string
}

// AppState is one app's part of the State.
type AppState struct {
	AppID             string
	RemindersByStatus map[string]int64
	// Served: the app is configured; the due backlog, breaker and quota
	// pause are only a served app's.
	Served       bool
	DueBacklog   int64
	OldestDueAge time.Duration
	Breaker      string // closed, open, half_open
	QuotaPaused  bool
}

// StateFunc reads the current State.
type StateFunc func(ctx context.Context) (State, error)

// Metrics holds reminderd's collectors.
type Metrics struct {
	reg            *prometheus.Registry
	sends          *prometheus.CounterVec
	sendLatency    *prometheus.HistogramVec
	lateness       *prometheus.HistogramVec
	tokenRefreshes *prometheus.CounterVec
	rescued        prometheus.Counter
	expired        *prometheus.CounterVec
	late           *prometheus.CounterVec
	possibleDups   *prometheus.CounterVec
	settled        *prometheus.CounterVec
	invalid        *prometheus.CounterVec
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
}

// New registers every collector; state is read at each scrape.
func New(state StateFunc, log *slog.Logger) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	app := []string{"appid"}
	m.sends = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reminderd_sends_total",
		Help: "Processed claims by the reminder's mini-program (appid), delivery status, WeChat errcode (none: no request went to WeChat; unanswered: a request went but no valid answer came) and, for failed and skipped, the reminder's reason.",
	}, []string{"appid", "status", "errcode", "reason"})
	m.sendLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "reminderd_send_latency_seconds",
		Help:    "Duration of subscribe-message calls to WeChat, by the reminder's app.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, app)
	m.lateness = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "reminderd_send_lateness_seconds",
		Help:    "Time from a reminder's fire_at to WeChat accepting it, by the reminder's app.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 300, 900},
	}, app)
	m.tokenRefreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reminderd_token_events_total",
		Help: "Access-token events by app (each app has its own token): fetched, loaded (from the database), invalidated, fetch_failed.",
	}, []string{"appid", "kind"})
	m.rescued = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "reminderd_leases_rescued_total",
		Help: "Reminders returned to scheduled after their lease expired (a process died mid-send).",
	})
	m.expired = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reminderd_skipped_expired_total",
		Help: "Occurrences skipped because they were past their window (not sent late), by the reminder's app.",
	}, app)
	m.late = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reminderd_sends_late_total",
		Help: "Sends WeChat accepted after the reminder's window closed (recorded as sent), by the reminder's app.",
	}, app)
	m.possibleDups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reminderd_possible_duplicates_total",
		Help: "Sends made after an attempt of unknown outcome of the same occurrence (the user may get the message twice), by the reminder's app.",
	}, app)
	m.settled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reminderd_unknown_settled_total",
		Help: "Attempts of unknown outcome that turned out sent (their sent event came, or a 43101 answered the resend), by the reminder's app.",
	}, app)
	m.invalid = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reminderd_wechat_invalid_answers_total",
		Help: "Send answers that arrived but were not a JSON object with an integer errcode (a wrong REMINDERD_WECHAT_BASE_URL or a proxy in the way), by the reminder's app: alert on any.",
	}, app)
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reminderd_http_requests_total",
		Help: "HTTP requests answered, by method, route pattern (unmatched: no route) and status.",
	}, []string{"method", "route", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "reminderd_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by method and route pattern.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"method", "route"})
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.sends, m.sendLatency, m.lateness, m.tokenRefreshes, m.rescued, m.expired, m.late, m.possibleDups, m.settled, m.invalid,
		&stateCollector{state: state, log: log},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Values of reminderd_sends_total's errcode label when WeChat gave none.
const (
	// ErrcodeNone: no request went to WeChat (skipped, deferred, no
	// consent, the breaker open, a claim abandoned).
	ErrcodeNone = "none"
	// ErrcodeUnanswered: a request went to WeChat but no valid answer came
	// back (a timeout, a lost connection, an answer without an errcode).
	ErrcodeUnanswered = "unanswered"
)

// noErrcode is the scheduler's errcode for a send WeChat did not answer.
const noErrcode = -2

// sendErrcode is the errcode label of a processed claim: sent tells whether
// a request went to WeChat.
func sendErrcode(errcode int64, sent bool) string {
	switch {
	case !sent:
		return ErrcodeNone
	case errcode == noErrcode:
		return ErrcodeUnanswered
	}
	return strconv.FormatInt(errcode, 10)
}

// ObserveSend records one processed claim: its app, its delivery status, the
// reminder's reason (kept for failed and skipped only), WeChat's errcode,
// and whether a request went to WeChat at all.
func (m *Metrics) ObserveSend(appID, status, reason string, errcode int64, sent bool, latency, lateness time.Duration) {
	if status != "failed" && status != "skipped" {
		reason = ""
	}
	m.sends.WithLabelValues(appID, status, sendErrcode(errcode, sent), reason).Inc()
	if latency > 0 {
		m.sendLatency.WithLabelValues(appID).Observe(latency.Seconds())
	}
	if status == "sent" {
		m.lateness.WithLabelValues(appID).Observe(lateness.Seconds())
	}
	if reason == "expired" {
		m.expired.WithLabelValues(appID).Inc()
	}
}

// ObserveTruth records what a processed claim of app appID says about
// delivery truth: a send accepted after its window, a possible duplicate,
// an unknown outcome settled, an invalid answer.
func (m *Metrics) ObserveTruth(appID string, late, possibleDuplicate, settled, invalidAnswer bool) {
	for _, c := range []struct {
		on  bool
		vec *prometheus.CounterVec
	}{{invalidAnswer, m.invalid}, {late, m.late}, {possibleDuplicate, m.possibleDups}, {settled, m.settled}} {
		if c.on {
			c.vec.WithLabelValues(appID).Inc()
		}
	}
}

// httpMethods are the methods counted by name; any other is "other", so
// that a client cannot grow the label's values.
var httpMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

// ObserveHTTP records one answered HTTP request. route must be a route
// pattern ("/v1/reminders/{id}"), never a raw path.
func (m *Metrics) ObserveHTTP(method, route string, status int, d time.Duration) {
	if !httpMethods[method] {
		method = "other"
	}
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// TokenEvent records an access-token event of app appID's token.
func (m *Metrics) TokenEvent(appID, kind string) { m.tokenRefreshes.WithLabelValues(appID, kind).Inc() }

// Rescued records reminders taken back from expired leases.
func (m *Metrics) Rescued(n int) { m.rescued.Add(float64(n)) }

var (
	descReminders = prometheus.NewDesc("reminderd_reminders", "Reminders by app and status (an app removed from the configuration keeps its series while it has reminders).", []string{"appid", "status"}, nil)
	descBacklog   = prometheus.NewDesc("reminderd_due_backlog", "Scheduled reminders already due, by served app.", []string{"appid"}, nil)
	descOldest    = prometheus.NewDesc("reminderd_oldest_due_age_seconds", "How long the app's oldest due reminder has waited.", []string{"appid"}, nil)
	descBreaker   = prometheus.NewDesc("reminderd_breaker_state", "Each app's send circuit breaker: 1 for its current state.", []string{"appid", "state"}, nil)
	descBreakers  = prometheus.NewDesc("reminderd_breakers_state", "The apps' breakers together, as /admin/v1/stats reports them: 1 for the current state (open only when every app's is open, half_open when none is closed).", []string{"state"}, nil)
	descQuota     = prometheus.NewDesc("reminderd_quota_paused", "1 while the app's sending is paused by WeChat's daily quota (45009).", []string{"appid"}, nil)
	descUp        = prometheus.NewDesc("reminderd_state_scrape_ok", "1 if the database state could be read for this scrape.", nil, nil)
	descWAL       = prometheus.NewDesc("reminderd_wal_frames", "Pages in the SQLite WAL at the last background checkpoint (at 10,000 the writer checkpoints itself).", nil, nil)
	descSole      = prometheus.NewDesc("reminderd_sole_sender", "This process's view of the fleet's sole-sender lease on PostgreSQL: 1 for the current state (held: alone, sending without the per-send lease; yielding: giving it up to a process that appeared; free: every process sends with the per-send lease; other: another process holds it, this one sends nothing; unknown: its ticks fail, this one sends nothing).", []string{"state"}, nil)
	descCkptFail  = prometheus.NewDesc("reminderd_checkpoint_failures_total", "Background WAL checkpoints that failed.", nil, nil)
)

// breakerStates are reminderd_breaker_state's state values, each app's
// series present whatever its state, so that a dashboard sees 0 and not a
// gap.
var breakerStates = []string{"closed", "open", "half_open"}

// soleStates are reminderd_sole_sender's state values.
var soleStates = []string{"held", "yielding", "free", "other", "unknown"}

// stateCollector reads the database state at scrape time.
type stateCollector struct {
	state StateFunc
	log   *slog.Logger
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReminders, descBacklog, descOldest, descBreaker, descBreakers, descQuota, descUp, descWAL, descCkptFail, descSole} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.state(ctx)
	if err != nil {
		c.log.Warn("metrics: read state", "error", err)
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	for _, a := range st.Apps {
		collectApp(ch, a)
	}
	for _, s := range breakerStates {
		ch <- prometheus.MustNewConstMetric(descBreakers, prometheus.GaugeValue, oneIf(s == st.Breaker), s)
	}
	if st.SoleSender != "" {
		for _, s := range soleStates {
			ch <- prometheus.MustNewConstMetric(descSole, prometheus.GaugeValue, oneIf(s == st.SoleSender), s)
		}
	}
	ch <- prometheus.MustNewConstMetric(descWAL, prometheus.GaugeValue, float64(st.WALFrames))
	ch <- prometheus.MustNewConstMetric(descCkptFail, prometheus.CounterValue, float64(st.CheckpointFailures))
}

// collectApp sends one app's gauges: its reminders by status, and for a
// served app its backlog, breaker and quota pause.
func collectApp(ch chan<- prometheus.Metric, a AppState) {
	for s, n := range a.RemindersByStatus {
		ch <- prometheus.MustNewConstMetric(descReminders, prometheus.GaugeValue, float64(n), a.AppID, s)
	}
	if !a.Served {
		return
	}
	ch <- prometheus.MustNewConstMetric(descBacklog, prometheus.GaugeValue, float64(a.DueBacklog), a.AppID)
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, a.OldestDueAge.Seconds(), a.AppID)
	for _, s := range breakerStates {
		ch <- prometheus.MustNewConstMetric(descBreaker, prometheus.GaugeValue, oneIf(s == a.Breaker), a.AppID, s)
	}
	ch <- prometheus.MustNewConstMetric(descQuota, prometheus.GaugeValue, oneIf(a.QuotaPaused), a.AppID)
}

func oneIf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
