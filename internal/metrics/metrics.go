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
	RemindersByStatus map[string]int64
	DueBacklog        int64
	OldestDueAge      time.Duration
	Breaker           string // closed, open, half_open
	QuotaPaused       bool
	// WALFrames is the WAL's size in pages at the last background
	// checkpoint; CheckpointFailures counts the failed ones.
	WALFrames          int64
	CheckpointFailures int64
}

// StateFunc reads the current State.
type StateFunc func(ctx context.Context) (State, error)

// Metrics holds reminderd's collectors.
type Metrics struct {
	reg            *prometheus.Registry
	sends          *prometheus.CounterVec
	sendLatency    prometheus.Histogram
	lateness       prometheus.Histogram
	tokenRefreshes *prometheus.CounterVec
	rescued        prometheus.Counter
	expired        prometheus.Counter
	late           prometheus.Counter
	possibleDups   prometheus.Counter
	settled        prometheus.Counter
	invalid        prometheus.Counter
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
}

// New registers every collector; state is read at each scrape.
func New(state StateFunc, log *slog.Logger) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.sends = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reminderd_sends_total",
		Help: "Processed claims by the reminder's mini-program (appid), delivery status, WeChat errcode (none: no request went to WeChat; unanswered: a request went but no valid answer came) and, for failed and skipped, the reminder's reason.",
	}, []string{"appid", "status", "errcode", "reason"})
	m.sendLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "reminderd_send_latency_seconds",
		Help:    "Duration of subscribe-message calls to WeChat.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	})
	m.lateness = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "reminderd_send_lateness_seconds",
		Help:    "Time from a reminder's fire_at to WeChat accepting it.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 300, 900},
	})
	m.tokenRefreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reminderd_token_events_total",
		Help: "Access-token events: fetched, loaded (from the database), invalidated, fetch_failed.",
	}, []string{"kind"})
	m.rescued = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "reminderd_leases_rescued_total",
		Help: "Reminders returned to scheduled after their lease expired (a process died mid-send).",
	})
	m.expired = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "reminderd_skipped_expired_total",
		Help: "Occurrences skipped because they were past their window: not sent late.",
	})
	m.late = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "reminderd_sends_late_total",
		Help: "Sends WeChat accepted after the reminder's window closed (recorded as sent).",
	})
	m.possibleDups = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "reminderd_possible_duplicates_total",
		Help: "Sends made after an attempt of unknown outcome of the same occurrence: the user may get the message twice.",
	})
	m.settled = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "reminderd_unknown_settled_total",
		Help: "Attempts of unknown outcome that turned out sent (their sent event came, or a 43101 answered the resend).",
	})
	m.invalid = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "reminderd_wechat_invalid_answers_total",
		Help: "Send answers that arrived but were not a JSON object with an integer errcode (a wrong REMINDERD_WECHAT_BASE_URL or a proxy in the way): alert on any.",
	})
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
		m.sendLatency.Observe(latency.Seconds())
	}
	if status == "sent" {
		m.lateness.Observe(lateness.Seconds())
	}
	if reason == "expired" {
		m.expired.Inc()
	}
}

// ObserveTruth records what a processed claim says about delivery truth:
// a send accepted after its window, a possible duplicate, an unknown
// outcome settled, an invalid answer.
func (m *Metrics) ObserveTruth(late, possibleDuplicate, settled, invalidAnswer bool) {
	if invalidAnswer {
		m.invalid.Inc()
	}
	if late {
		m.late.Inc()
	}
	if possibleDuplicate {
		m.possibleDups.Inc()
	}
	if settled {
		m.settled.Inc()
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

// TokenEvent records an access-token event.
func (m *Metrics) TokenEvent(kind string) { m.tokenRefreshes.WithLabelValues(kind).Inc() }

// Rescued records reminders taken back from expired leases.
func (m *Metrics) Rescued(n int) { m.rescued.Add(float64(n)) }

var (
	descReminders = prometheus.NewDesc("reminderd_reminders", "Reminders by status.", []string{"status"}, nil)
	descBacklog   = prometheus.NewDesc("reminderd_due_backlog", "Scheduled reminders already due.", nil, nil)
	descOldest    = prometheus.NewDesc("reminderd_oldest_due_age_seconds", "How long the oldest due reminder has waited.", nil, nil)
	descBreaker   = prometheus.NewDesc("reminderd_breaker_state", "The send circuit breaker: 1 for its current state.", []string{"state"}, nil)
	descQuota     = prometheus.NewDesc("reminderd_quota_paused", "1 while sending is paused by WeChat's daily quota (45009).", nil, nil)
	descUp        = prometheus.NewDesc("reminderd_state_scrape_ok", "1 if the database state could be read for this scrape.", nil, nil)
	descWAL       = prometheus.NewDesc("reminderd_wal_frames", "Pages in the SQLite WAL at the last background checkpoint (at 10,000 the writer checkpoints itself).", nil, nil)
	descCkptFail  = prometheus.NewDesc("reminderd_checkpoint_failures_total", "Background WAL checkpoints that failed.", nil, nil)
)

// stateCollector reads the database state at scrape time.
type stateCollector struct {
	state StateFunc
	log   *slog.Logger
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReminders, descBacklog, descOldest, descBreaker, descQuota, descUp, descWAL, descCkptFail} {
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
	for s, n := range st.RemindersByStatus {
		ch <- prometheus.MustNewConstMetric(descReminders, prometheus.GaugeValue, float64(n), s)
	}
	ch <- prometheus.MustNewConstMetric(descBacklog, prometheus.GaugeValue, float64(st.DueBacklog))
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, st.OldestDueAge.Seconds())
	for _, s := range []string{"closed", "open", "half_open"} {
		v := 0.0
		if s == st.Breaker {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descBreaker, prometheus.GaugeValue, v, s)
	}
	q := 0.0
	if st.QuotaPaused {
		q = 1
	}
	ch <- prometheus.MustNewConstMetric(descQuota, prometheus.GaugeValue, q)
	ch <- prometheus.MustNewConstMetric(descWAL, prometheus.GaugeValue, float64(st.WALFrames))
	ch <- prometheus.MustNewConstMetric(descCkptFail, prometheus.CounterValue, float64(st.CheckpointFailures))
}
