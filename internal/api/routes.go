package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(requestID)
	r.Use(s.accessLog)
	r.Use(s.recoverer)
	r.Use(middleware.GetHead)
	r.Use(requestTimeout(30 * time.Second))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		markUnmatched(r.Context())
		s.writeError(w, r, errf(http.StatusNotFound, "not_found", "no route for %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		markUnmatched(r.Context())
		s.writeError(w, r, errf(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed on %s", r.Method, r.URL.Path))
	})

	r.Get("/healthz", s.handleHealthz)
	r.Get("/readyz", s.handleReadyz)
	r.Get("/metrics", s.handleMetrics)
	r.Get("/openapi.json", s.handleOpenAPI)
	r.Get("/wechat/push", s.handlePushHandshake)
	r.Post("/wechat/push", s.handlePush)
	r.Get("/wechat/push/{appid}", s.handlePushHandshake)
	r.Post("/wechat/push/{appid}", s.handlePush)

	r.Route("/v1", func(r chi.Router) {
		r.Post("/session", s.handleCreateSession)
		r.Group(func(r chi.Router) {
			r.Use(s.requireUser)
			r.Get("/templates", s.handleListTemplates)
			r.Post("/consents", s.handleReportConsents)
			r.Get("/consents", s.handleListConsents)
			r.Get("/consents/prompt", s.handleConsentPrompt)
			r.Post("/consents/settings", s.handleConsentSettings)
			r.Post("/reminders", s.handleCreateReminder)
			r.Get("/reminders", s.handleListOwnReminders)
			r.Get("/reminders/{id}", s.handleGetOwnReminder)
			r.Patch("/reminders/{id}", s.handlePatchReminder)
			r.Delete("/reminders/{id}", s.handleCancelOwnReminder)
			r.Post("/reminders/{id}/snooze", s.handleSnoozeReminder)
			r.Post("/events", s.handleCreateEvent)
			r.Get("/events", s.handleListOwnEvents)
			r.Get("/events/{id}", s.handleGetOwnEvent)
			r.Patch("/events/{id}", s.handlePatchEvent)
			r.Delete("/events/{id}", s.handleCancelOwnEvent)
		})
	})

	// The app's own backend (service_api.go).
	r.Route("/service/v1", func(r chi.Router) {
		r.Use(s.requireService)
		r.Post("/reminders", s.handleServiceCreateReminder)
		r.Get("/reminders", s.handleServiceListReminders)
		r.Get("/reminders/{id}", s.handleServiceGetReminder)
		r.Patch("/reminders/{id}", s.handleServicePatchReminder)
		r.Delete("/reminders/{id}", s.handleServiceCancelReminder)
		r.Get("/consents", s.handleServiceConsents)
		r.Post("/events", s.handleServiceCreateEvents)
		r.Delete("/events", s.handleServiceCancelEvents)
		r.Get("/events/{id}", s.handleServiceGetEvent)
		r.Patch("/events/{id}", s.handleServicePatchEvent)
		r.Delete("/events/{id}", s.handleServiceCancelEvent)
	})

	// The admin web page.
	r.Get("/admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/", http.StatusMovedPermanently)
	})
	r.Get("/admin/", s.requireWebAdmin(s.handleWebList))
	r.Post("/admin/login", s.handleWebLogin)
	r.Post("/admin/logout", s.requireWebAdmin(s.handleWebLogout))
	r.Get("/admin/reminders/{id}", s.requireWebAdmin(s.handleWebDetail))
	r.Post("/admin/reminders/{id}/cancel", s.requireWebAdmin(s.handleWebCancel))
	r.Post("/admin/reminders/{id}/retry", s.requireWebAdmin(s.handleWebRetry))
	r.Get("/admin/engine", s.requireWebAdmin(s.handleWebEngine))
	r.Get("/admin/consents", s.requireWebAdmin(s.handleWebConsents))
	r.Get("/admin/events", s.requireWebAdmin(s.handleWebEvents))
	r.Get("/admin/events/{id}", s.requireWebAdmin(s.handleWebEvent))
	r.Post("/admin/bulk", s.requireWebAdmin(s.handleWebBulk))
	r.Post("/admin/pause", s.requireWebAdmin(s.handleWebPause))
	r.Post("/admin/resume", s.requireWebAdmin(s.handleWebResume))
	r.Get("/admin/webhooks", s.requireWebAdmin(s.handleWebWebhooks))
	r.Post("/admin/webhooks/{id}/retry", s.requireWebAdmin(s.handleWebRetryWebhook))
	r.Get("/admin/prefs", s.handleWebPrefs)
	r.Handle("/admin/static/*", staticHandler())

	r.Route("/admin/v1", func(r chi.Router) {
		r.Use(s.requireAdmin)
		r.Get("/reminders", s.handleAdminListReminders)
		r.Get("/reminders/{id}", s.handleAdminGetReminder)
		r.Post("/reminders/{id}/cancel", s.handleAdminCancel)
		r.Post("/reminders/{id}/retry", s.handleAdminRetry)
		r.Post("/reminders/cancel", s.handleAdminBulkCancel)
		r.Post("/reminders/retry", s.handleAdminBulkRetry)
		r.Post("/pause", s.handleAdminPause)
		r.Post("/resume", s.handleAdminResume)
		r.Get("/jobs", s.handleAdminJobs)
		r.Get("/instances", s.handleAdminInstances)
		r.Get("/stats", s.handleAdminStats)
		r.Get("/events", s.handleAdminListEvents)
		r.Get("/events/{id}", s.handleAdminGetEvent)
		r.Get("/webhooks", s.handleAdminListWebhooks)
		r.Get("/webhooks/{id}", s.handleAdminGetWebhook)
		r.Post("/webhooks/{id}/retry", s.handleAdminRetryWebhook)
		r.Get("/apps", s.handleAdminApps)
	})
	return r
}
