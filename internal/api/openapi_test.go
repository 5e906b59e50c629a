package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// openAPIPending lists the documented operations that routes.go does not
// serve yet. They are exempt from the checks that a documented operation is
// served and exercised; nothing else is.
var openAPIPending = map[string]bool{}

// webPageRoutes are the admin web page's own routes: HTML pages and form
// posts behind GET /admin (which the document describes: a redirect to
// /admin/), tested in a browser by admin_web_test.go rather than described
// as API.
var webPageRoutes = map[string]bool{
	"GET /admin/": true, "POST /admin/login": true, "POST /admin/logout": true,
	"GET /admin/reminders/{id}": true, "POST /admin/reminders/{id}/cancel": true,
	"POST /admin/reminders/{id}/retry": true, "GET /admin/engine": true, "GET /admin/consents": true,
	"POST /admin/bulk": true, "POST /admin/pause": true, "POST /admin/resume": true, "GET /admin/prefs": true,
	"GET /admin/events": true, "GET /admin/events/{id}": true,
	"GET /admin/webhooks": true, "POST /admin/webhooks/{id}/retry": true,
	"* /admin/static/*": true,
}

// reqWant says what the document must think of a request the test sends.
type reqWant int

const (
	// docValid: the request conforms to the document (the server may still
	// refuse it for reasons a schema cannot see: a past fire_at, an unknown
	// template, someone else's reminder, a wrong token).
	docValid reqWant = iota
	// docInvalid: the document rejects the request too.
	docInvalid
)

// contract validates requests and responses against the OpenAPI document
// and records which operation answered with which status.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options

	mu   sync.Mutex
	seen map[string]map[int]bool // "GET /v1/reminders/{id}" → statuses validated
}

var registerXMLDecoders sync.Once

// loadContract loads and validates the document.
func loadContract(t *testing.T, data []byte) *contract {
	t.Helper()
	registerXMLDecoders.Do(func() {
		// WeChat pushes XML; the document gives it no schema beyond a string.
		openapi3filter.RegisterBodyDecoder("text/xml", openapi3filter.PlainBodyDecoder)
		openapi3filter.RegisterBodyDecoder("application/xml", openapi3filter.PlainBodyDecoder)
		openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	})
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi.json is OpenAPI %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3.1 document: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &contract{
		doc:    doc,
		router: router,
		opts: &openapi3filter.Options{
			IncludeResponseStatus: true, // an undocumented status fails
			MultiError:            true,
			SkipSettingDefaults:   true,
			AuthenticationFunc:    bearerPresent,
		},
		seen: map[string]map[int]bool{},
	}
}

// bearerPresent is the document's side of authentication: it can only say
// whether a bearer token was sent; whether the server knows it is the
// server's business (a docValid request may still be 401).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if s := in.SecurityScheme; s.Type != "http" || s.Scheme != "bearer" {
		return fmt.Errorf("security scheme %s is %s/%s, want http/bearer", in.SecuritySchemeName, s.Type, s.Scheme)
	}
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	if len(h) < 8 || !strings.EqualFold(h[:7], "bearer ") || strings.TrimSpace(h[7:]) == "" {
		return errors.New("no bearer token")
	}
	return nil
}

func readDocFile(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// validateResponse validates one answer to the request of in.
func (c *contract) validateResponse(ctx context.Context, in *openapi3filter.RequestValidationInput, status int, header http.Header, body []byte) error {
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: c.opts}
	out.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(ctx, out)
}

// route finds the documented operation of a request.
func (c *contract) route(req *http.Request) (*openapi3filter.RequestValidationInput, error) {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return nil, err
	}
	return &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: c.opts}, nil
}

func (c *contract) record(op string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[op] == nil {
		c.seen[op] = map[int]bool{}
	}
	c.seen[op][status] = true
}

// client sends requests to one server, validating each request and answer.
type client struct {
	c   *contract
	t   *testing.T
	url string
}

func (c *contract) on(t *testing.T, srv *httptest.Server) *client {
	return &client{c: c, t: t, url: srv.URL}
}

func (cl *client) newRequest(method, path, token string, body any, headers []string) (*http.Request, []byte) {
	cl.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			cl.t.Fatal(err)
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, cl.url+path, rd)
	if err != nil {
		cl.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req, raw
}

// noRedirects shows each answer as sent: a redirect is an answer the
// document describes.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// send sends req and reads the whole answer.
func (cl *client) send(req *http.Request) (*http.Response, []byte) {
	cl.t.Helper()
	res, err := noRedirects.Do(req)
	if err != nil {
		cl.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		cl.t.Fatal(err)
	}
	return res, raw
}

func toResp(t *testing.T, res *http.Response, raw []byte) resp {
	t.Helper()
	out := resp{status: res.StatusCode, raw: string(raw), header: res.Header}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("answer is not a JSON object: %q", raw)
		}
	}
	return out
}

// call sends a request the document describes: the request is validated
// (and must be valid or invalid as want says), then the answer must match
// the document exactly, status included.
func (cl *client) call(want reqWant, method, path, token string, body any, headers ...string) resp {
	cl.t.Helper()
	ctx := context.Background()
	req, raw := cl.newRequest(method, path, token, body, headers)
	in, err := cl.c.route(req)
	if err != nil {
		cl.t.Fatalf("%s %s: no documented operation: %v", method, path, err)
	}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	switch {
	case want == docValid && reqErr != nil:
		cl.t.Fatalf("%s %s: the document refuses a request meant to conform: %v\nbody: %s", method, path, reqErr, raw)
	case want == docInvalid && reqErr == nil:
		cl.t.Fatalf("%s %s: the document accepts a request meant not to conform\nbody: %.300s", method, path, raw)
	}
	// Send a fresh copy: validation reads the body.
	sendReq, _ := cl.newRequest(method, path, token, body, headers)
	res, resBody := cl.send(sendReq)
	if err := cl.c.validateResponse(ctx, in, res.StatusCode, res.Header, resBody); err != nil {
		cl.t.Fatalf("%s %s: the answer does not match the document: %v\n%d %s", method, path, err, res.StatusCode, resBody)
	}
	cl.c.record(in.Route.Method+" "+in.Route.Path, res.StatusCode)
	return toResp(cl.t, res, resBody)
}

// callUndocumented sends a request to a method or path the document does not
// have; the router's answer must still be the contract's Error object.
func (cl *client) callUndocumented(method, path, token string) resp {
	cl.t.Helper()
	req, _ := cl.newRequest(method, path, token, nil, nil)
	if _, err := cl.c.route(req); err == nil {
		cl.t.Fatalf("%s %s is documented", method, path)
	}
	res, raw := cl.send(req)
	r := toResp(cl.t, res, raw)
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		cl.t.Fatalf("%s %s: answer is not JSON: %q", method, path, raw)
	}
	errSchema := cl.c.doc.Components.Schemas["Error"].Value
	if err := errSchema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		cl.t.Fatalf("%s %s: answer is not the Error schema: %v\n%s", method, path, err, raw)
	}
	return r
}

func (cl *client) want(r resp, status int, code string) {
	cl.t.Helper()
	if r.status != status || (code != "" && r.errCode() != code) {
		cl.t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
}

func (cl *client) login(h *harness, openID string) string {
	cl.t.Helper()
	r := cl.call(docValid, "POST", "/v1/session", "", map[string]string{"code": h.fake.IssueCode(openID)})
	cl.want(r, 200, "")
	return r.str("token")
}

// TestOpenAPIDocument loads the document, validates it as OpenAPI 3.1 and
// checks what kin-openapi cannot: that the two reminder shapes agree.
func TestOpenAPIDocument(t *testing.T) {
	c := loadContract(t, readDocFile(t))
	schemas := c.doc.Components.Schemas
	for _, name := range []string{"Reminder", "ReminderDetail", "Delivery", "Consent", "Template", "Job", "Stats", "Error"} {
		s := schemas[name]
		if s == nil || s.Value == nil {
			t.Fatalf("schema %s missing", name)
		}
	}
	rem, det := schemas["Reminder"].Value, schemas["ReminderDetail"].Value
	var remProps []string
	for k := range rem.Properties {
		remProps = append(remProps, k)
	}
	slices.Sort(remProps)
	want := append(slices.Clone(remProps), "deliveries")
	slices.Sort(want)
	var detProps []string
	for k := range det.Properties {
		detProps = append(detProps, k)
	}
	slices.Sort(detProps)
	if !slices.Equal(detProps, want) {
		t.Fatalf("ReminderDetail has %v, want Reminder's properties and deliveries: %v", detProps, want)
	}
	for _, k := range remProps {
		a, _ := json.Marshal(rem.Properties[k])
		b, _ := json.Marshal(det.Properties[k])
		if !bytes.Equal(a, b) {
			t.Errorf("property %s differs between Reminder (%s) and ReminderDetail (%s)", k, a, b)
		}
	}
	// Every response object is closed, so an undocumented field fails.
	for name, s := range schemas {
		v := s.Value
		if v.Type.Is("object") && len(v.Properties) > 0 && !strings.HasSuffix(name, "Request") && name != "CreateReminder" && name != "PatchReminder" && name != "ConsentReport" {
			if ap := v.AdditionalProperties.Has; ap == nil || *ap {
				t.Errorf("schema %s does not set additionalProperties: false", name)
			}
		}
	}
}

// routesGo parses routes.go: every r.Get/Post/... with the prefixes of the
// r.Route blocks around it, as "METHOD /path" with chi's {param:regexp}
// reduced to {param}. Handle/HandleFunc/Mount give method "*".
func routesGo(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	var (
		routeRe  = regexp.MustCompile(`\br\.Route\(\s*"([^"]*)"`)
		callRe   = regexp.MustCompile(`\br\.(Get|Post|Put|Patch|Delete|Head|Options|Connect|Trace|Handle|HandleFunc|Mount)\(\s*"([^"]*)"`)
		methodRe = regexp.MustCompile(`\br\.Method(?:Func)?\(\s*"([^"]*)"\s*,\s*"([^"]*)"`)
		strRe    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|` + "`[^`]*`")
		paramRe  = regexp.MustCompile(`\{([^}:]+):[^}]*\}`)
	)
	type frame struct {
		prefix string
		depth  int
	}
	stack := []frame{{"", -1}}
	depth := 0
	var out []string
	add := func(method, path string) {
		path = paramRe.ReplaceAllString(stack[len(stack)-1].prefix+path, "{$1}")
		out = append(out, method+" "+path)
	}
	for _, line := range strings.Split(string(src), "\n") {
		code, _, _ := strings.Cut(strRe.ReplaceAllString(line, `""`), "//")
		if m := routeRe.FindStringSubmatch(line); m != nil {
			stack = append(stack, frame{stack[len(stack)-1].prefix + m[1], depth})
		}
		for _, m := range callRe.FindAllStringSubmatch(line, -1) {
			method := strings.ToUpper(m[1])
			if m[1] == "Handle" || m[1] == "HandleFunc" || m[1] == "Mount" {
				method = "*"
			}
			add(method, m[2])
		}
		for _, m := range methodRe.FindAllStringSubmatch(line, -1) {
			add(strings.ToUpper(m[1]), m[2])
		}
		depth += strings.Count(code, "{") - strings.Count(code, "}")
		for len(stack) > 1 && depth <= stack[len(stack)-1].depth {
			stack = stack[:len(stack)-1]
		}
	}
	if depth != 0 || len(stack) != 1 {
		t.Fatalf("routes.go: could not follow its blocks (depth %d, %d open Route blocks)", depth, len(stack)-1)
	}
	return out
}

// docOperations lists the document's operations as "METHOD /path".
func docOperations(doc *openapi3.T) []string {
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

// TestOpenAPICoversRoutes fails when a route of routes.go is not documented,
// or a documented operation is not served (unless it is pending).
func TestOpenAPICoversRoutes(t *testing.T) {
	c := loadContract(t, readDocFile(t))
	routes := routesGo(t)
	if len(routes) < 20 {
		t.Fatalf("parsed only %d routes from routes.go: %v", len(routes), routes)
	}
	served := map[string]bool{}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt, " ")
		served[rt] = true
		if webPageRoutes[rt] {
			continue
		}
		if strings.HasSuffix(path, "*") || method == "*" {
			prefix := strings.TrimSuffix(path, "*")
			found := false
			for _, op := range docOperations(c.doc) {
				_, p, _ := strings.Cut(op, " ")
				if strings.HasPrefix(p, prefix) {
					found = true
				}
			}
			if !found {
				t.Errorf("routes.go serves %s; the document has nothing under it", rt)
			}
			continue
		}
		item := c.doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("routes.go serves %s; openapi.json does not document it", rt)
		}
	}
	for _, op := range docOperations(c.doc) {
		if !served[op] && !openAPIPending[op] {
			t.Errorf("openapi.json documents %s; routes.go does not serve it", op)
		}
		if served[op] && openAPIPending[op] {
			t.Logf("%s is served now: remove it from openAPIPending", op)
		}
	}

	// The live router agrees: every documented operation reaches a handler
	// (chi's own not-found and method-not-allowed answers say "no route" and
	// 405).
	h := newHarness(t)
	user := h.login("oProbe")
	for _, op := range docOperations(c.doc) {
		method, path, _ := strings.Cut(op, " ")
		token := user
		if strings.HasPrefix(path, "/admin/") {
			token = adminToken
		}
		r := h.do(method, strings.ReplaceAll(path, "{id}", "rem_probe"), token, nil)
		routed := r.status != 405 && !(r.status == 404 && strings.Contains(r.raw, "no route for"))
		switch {
		case !routed && !openAPIPending[op]:
			t.Errorf("%s is documented but the server has no route for it: %d %s", op, r.status, r.raw)
		case routed && openAPIPending[op]:
			t.Logf("%s answers %d now: remove it from openAPIPending", op, r.status)
		}
	}
}

// TestOpenAPIContract drives the API through the flows a mini-program, an
// admin, WeChat and an operator go through, and validates every request and
// every answer against openapi.json.
func TestOpenAPIContract(t *testing.T) {
	file := readDocFile(t)
	c := loadContract(t, file)

	t.Run("flow", func(t *testing.T) {
		h := newHarness(t)
		cl := c.on(t, h.srv)
		testContractFlow(t, h, cl, file)
	})
	t.Run("push", func(t *testing.T) {
		h := newHarness(t)
		testContractPush(t, h, c.on(t, h.srv))
	})
	t.Run("events", func(t *testing.T) {
		h := newHarness(t)
		testContractEvents(t, h, c.on(t, h.srv)) // events_openapi_test.go
	})
	t.Run("other configurations", func(t *testing.T) {
		testContractConfigurations(t, c)
	})
	t.Run("service and webhooks", func(t *testing.T) { testContractService(t, c) })

	// Every served operation answered successfully at least once (GET
	// /admin's success is its redirect).
	var missing []string
	for _, op := range docOperations(c.doc) {
		ok := false
		for st := range c.seen[op] {
			ok = ok || (st >= 200 && st < 400)
		}
		if !ok && !openAPIPending[op] {
			missing = append(missing, op)
		}
	}
	if len(missing) > 0 {
		t.Errorf("operations never exercised with a 2xx or 3xx answer: %v", missing)
	}
	// For information: the documented statuses this test never produced.
	for _, op := range docOperations(c.doc) {
		method, path, _ := strings.Cut(op, " ")
		var notSeen []string
		for code := range c.doc.Paths.Value(path).GetOperation(method).Responses.Map() {
			var st int
			fmt.Sscan(code, &st)
			if !c.seen[op][st] {
				notSeen = append(notSeen, code)
			}
		}
		if len(notSeen) > 0 {
			slices.Sort(notSeen)
			t.Logf("%s: documented but not produced here: %v", op, notSeen)
		}
	}
}

func testContractFlow(t *testing.T, h *harness, cl *client, file []byte) {
	// Operations.
	cl.want(cl.call(docValid, "GET", "/healthz", "", nil), 200, "")
	cl.want(cl.call(docValid, "GET", "/metrics", "", nil), 200, "")
	if r := cl.call(docValid, "GET", "/admin", "", nil); r.status != 301 || r.header.Get("Location") != "/admin/" {
		t.Fatalf("GET /admin: %d to %q, want 301 to /admin/", r.status, r.header.Get("Location"))
	}
	cl.want(cl.call(docValid, "GET", "/readyz", "", nil), 200, "")
	r := cl.call(docValid, "GET", "/openapi.json", "", nil)
	cl.want(r, 200, "")
	if r.raw != string(file) || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json: %s, %d bytes, not the embedded openapi.json", r.header.Get("Content-Type"), len(r.raw))
	}

	// Session.
	a := cl.login(h, "oA")
	b := cl.login(h, "oB")
	cl.want(cl.call(docValid, "POST", "/v1/session", "", map[string]string{"code": "forged"}), 401, "invalid_code")
	cl.want(cl.call(docInvalid, "POST", "/v1/session", "", map[string]string{}), 422, "validation_failed")
	cl.want(cl.call(docInvalid, "POST", "/v1/session", "", `{"code":`), 400, "invalid_json")
	cl.want(cl.call(docInvalid, "POST", "/v1/session", "", `{"code":"x","extra":1}`), 400, "invalid_json")
	cl.want(cl.call(docInvalid, "POST", "/v1/session", "", `{"code":"`+strings.Repeat("a", api.MaxBodyBytes)+`"}`), 413, "body_too_large")

	// Templates and authentication.
	r = cl.call(docValid, "GET", "/v1/templates", a, nil)
	cl.want(r, 200, "")
	if !strings.Contains(r.raw, `"enum"`) {
		t.Fatalf("no enum_string template field to validate: %s", r.raw)
	}
	cl.want(cl.call(docInvalid, "GET", "/v1/templates", "", nil), 401, "unauthorized")
	cl.want(cl.call(docValid, "GET", "/v1/templates", "not-a-token", nil), 401, "unauthorized")

	// Consents.
	cl.want(cl.call(docValid, "GET", "/v1/consents", a, nil), 200, "")
	cl.want(cl.call(docValid, "POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "accept", "errMsg": "requestSubscribeMessage:ok"}}), 200, "")
	r = cl.call(docValid, "POST", "/v1/consents", a, map[string]any{"results": map[string]string{clinicID: "acceptWithAudio", deadlineID: "reject"}})
	cl.want(r, 200, "")
	if len(r.body["consents"].([]any)) != 3 {
		t.Fatalf("consents: %s", r.raw)
	}
	cl.want(cl.call(docValid, "POST", "/v1/consents", a, map[string]any{"results": map[string]string{"nope": "accept"}}), 422, "validation_failed")
	cl.want(cl.call(docValid, "POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "maybe"}}), 200, "")
	r = cl.call(docInvalid, "POST", "/v1/consents", a, map[string]any{"results": map[string]int{meetingID: 1}})
	cl.want(r, 422, "validation_failed")
	if r.field("results."+meetingID) == "" {
		t.Fatalf("a result of the wrong type is not named by its template id: %s", r.raw)
	}
	cl.want(cl.call(docInvalid, "POST", "/v1/consents", a, map[string]any{}), 422, "validation_failed")

	// Create, with and without an Idempotency-Key.
	body := meeting(time.Hour)
	body["expires_at"] = t0.Add(90 * time.Minute).Format(time.RFC3339)
	r = cl.call(docValid, "POST", "/v1/reminders", a, body, "Idempotency-Key", "k1")
	cl.want(r, 201, "")
	id := r.str("id")
	if r.body["reason"] != nil || r.body["expires_at"] == nil || r.body["recurrence"] != nil {
		t.Fatalf("created %s", r.raw)
	}
	r = cl.call(docValid, "POST", "/v1/reminders", a, body, "Idempotency-Key", "k1")
	cl.want(r, 200, "")
	if r.str("id") != id {
		t.Fatalf("replay answered another reminder: %s", r.raw)
	}
	cl.want(cl.call(docValid, "POST", "/v1/reminders", a, meeting(2*time.Hour), "Idempotency-Key", "k1"), 409, "conflict")
	cl.want(cl.call(docInvalid, "POST", "/v1/reminders", a, meeting(2*time.Hour), "Idempotency-Key", strings.Repeat("k", 256)), 422, "validation_failed")
	r = cl.call(docValid, "POST", "/v1/reminders", a, map[string]any{"template_id": meetingID, "data": meetingData(),
		"recurrence": "45 13 * * MON", "timezone": "America/New_York"})
	cl.want(r, 201, "")
	if r.str("recurrence") != "45 13 * * MON" || r.body["expires_at"] != nil {
		t.Fatalf("recurring %s", r.raw)
	}
	r = cl.call(docValid, "POST", "/v1/reminders", a, map[string]any{"template_id": deadlineID, "fire_at": t0.Add(2 * time.Hour).Format(time.RFC3339),
		"data": map[string]string{"thing1": "提交报告", "date2": "2026-12-02", "enum_string3": "高", "character_string4": "A-1"}, "value_policy": "fit"})
	cl.want(r, 201, "")
	deadline := r.str("id")
	idB := h.create(b, meeting(3*time.Hour))["id"].(string)

	mod := func(f func(m map[string]any)) map[string]any {
		m := meeting(time.Hour)
		f(m)
		return m
	}
	for _, tc := range []struct {
		name   string
		want   reqWant
		body   any
		status int
		code   string
	}{
		{"past fire_at", docValid, mod(func(m map[string]any) { m["fire_at"] = t0.Add(-time.Minute).Format(time.RFC3339) }), 422, "validation_failed"},
		{"unknown template", docValid, mod(func(m map[string]any) { m["template_id"] = "nope" }), 422, "validation_failed"},
		{"unknown data key", docValid, mod(func(m map[string]any) { m["data"].(map[string]string)["thing9"] = "x" }), 422, "validation_failed"},
		{"value breaks its rule", docValid, mod(func(m map[string]any) { m["data"].(map[string]string)["thing1"] = strings.Repeat("会", 21) }), 422, "validation_failed"},
		{"bad zone", docValid, mod(func(m map[string]any) { m["timezone"] = "Mars/Base" }), 422, "validation_failed"},
		{"non-string value", docInvalid, mod(func(m map[string]any) { m["data"] = map[string]any{"thing1": 5, "time2": "14:00", "thing3": "x"} }), 422, "validation_failed"},
		{"neither fire_at nor recurrence", docInvalid, mod(func(m map[string]any) { delete(m, "fire_at") }), 422, "validation_failed"},
		{"no offset", docInvalid, mod(func(m map[string]any) { m["fire_at"] = "2026-12-01T13:45:00" }), 422, "validation_failed"},
		{"no template", docInvalid, mod(func(m map[string]any) { delete(m, "template_id") }), 422, "validation_failed"},
		{"bad policy", docInvalid, mod(func(m map[string]any) { m["value_policy"] = "ignore" }), 422, "validation_failed"},
		{"unknown field", docInvalid, mod(func(m map[string]any) { m["bogus"] = true }), 400, "invalid_json"},
		{"wrong type", docInvalid, mod(func(m map[string]any) { m["page"] = 42 }), 422, "validation_failed"},
		{"not an object", docInvalid, `[1,2]`, 400, "invalid_json"},
		{"too large", docInvalid, `{"template_id":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}`, 413, "body_too_large"},
	} {
		r := cl.call(tc.want, "POST", "/v1/reminders", a, tc.body)
		if r.status != tc.status || r.errCode() != tc.code {
			t.Fatalf("%s: %d %s, want %d %s", tc.name, r.status, r.raw, tc.status, tc.code)
		}
	}

	// Lists.
	r = cl.call(docValid, "GET", "/v1/reminders", a, nil)
	cl.want(r, 200, "")
	if len(r.body["reminders"].([]any)) != 3 || r.body["next_cursor"] != nil {
		t.Fatalf("list %s", r.raw)
	}
	r = cl.call(docValid, "GET", "/v1/reminders?limit=1&status=scheduled", a, nil)
	cl.want(r, 200, "")
	cursor, _ := r.body["next_cursor"].(string)
	if cursor == "" {
		t.Fatalf("no next_cursor: %s", r.raw)
	}
	cl.want(cl.call(docValid, "GET", "/v1/reminders?limit=1&cursor="+url.QueryEscape(cursor), a, nil), 200, "")
	cl.want(cl.call(docValid, "GET", "/v1/reminders?cursor=***", a, nil), 422, "validation_failed")
	cl.want(cl.call(docValid, "GET", "/v1/reminders?openid=oB", a, nil), 422, "validation_failed")
	cl.want(cl.call(docInvalid, "GET", "/v1/reminders?limit=0", a, nil), 422, "validation_failed")
	cl.want(cl.call(docInvalid, "GET", "/v1/reminders?limit=x", a, nil), 422, "validation_failed")
	cl.want(cl.call(docInvalid, "GET", "/v1/reminders?status=done", a, nil), 422, "validation_failed")

	// The prompt asks for the deadline template, which has no credit.
	r = cl.call(docValid, "GET", "/v1/consents/prompt", a, nil)
	cl.want(r, 200, "")
	if ids := r.body["template_ids"].([]any); len(ids) == 0 {
		t.Fatalf("prompt %s", r.raw)
	}

	// Consent settings: the saved choices show on the ledger.
	r = cl.call(docValid, "POST", "/v1/consents/settings", a, map[string]any{"mainSwitch": true,
		"itemSettings": map[string]string{meetingID: "accept", "unknownTemplate": "reject"}, "somethingNew": 1})
	cl.want(r, 200, "")
	cl.want(cl.call(docInvalid, "POST", "/v1/consents/settings", a, map[string]any{"itemSettings": map[string]string{}}), 422, "validation_failed")
	cl.want(cl.call(docInvalid, "POST", "/v1/consents/settings", a, map[string]any{"mainSwitch": true, "itemSettings": map[string]string{meetingID: "maybe"}}), 422, "validation_failed")

	// Snooze.
	r = cl.call(docValid, "POST", "/v1/reminders/"+deadline+"/snooze", a, map[string]any{"in": "PT10M",
		"consent": map[string]string{deadlineID: "accept", "errMsg": "requestSubscribeMessage:ok"}}, "Idempotency-Key", "s1")
	cl.want(r, 200, "")
	if r.str("fire_at") == "" || r.body["deliveries"] == nil {
		t.Fatalf("snooze %s", r.raw)
	}
	cl.want(cl.call(docValid, "POST", "/v1/reminders/"+deadline+"/snooze", a, map[string]any{"in": "PT10M",
		"consent": map[string]string{deadlineID: "accept", "errMsg": "requestSubscribeMessage:ok"}}, "Idempotency-Key", "s1"), 200, "")
	cl.want(cl.call(docValid, "POST", "/v1/reminders/"+deadline+"/snooze", a, map[string]any{"in": "PT20M"}, "Idempotency-Key", "s1"), 409, "conflict")
	cl.want(cl.call(docValid, "POST", "/v1/reminders/"+deadline+"/snooze", b, map[string]any{"in": "PT10M"}), 404, "not_found")
	cl.want(cl.call(docValid, "POST", "/v1/reminders/"+deadline+"/snooze", a, map[string]any{"in": "10 minutes"}), 422, "validation_failed")
	cl.want(cl.call(docInvalid, "POST", "/v1/reminders/"+deadline+"/snooze", a, map[string]any{"in": "PT10M", "until": t0.Add(time.Hour).Format(time.RFC3339)}), 422, "validation_failed")
	cl.want(cl.call(docValid, "POST", "/v1/reminders/"+deadline+"/snooze", a, map[string]any{"until": t0.Add(-time.Hour).Format(time.RFC3339)}), 422, "validation_failed")

	// Detail, with a delivery in every nullable shape.
	testkit.Exec(h.t, h.db, `INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, errmsg, msgid, started_at, finished_at, latency_ms, delivered)
		VALUES (?, ?, 1, 'sent', 0, 'ok', 1700000000000000099, ?, ?, 12, TRUE)`, id, t0.UnixMilli(), t0.UnixMilli(), t0.UnixMilli())
	testkit.Exec(h.t, h.db, `INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, started_at)
		VALUES (?, ?, 2, 'sending', ?)`, id, t0.UnixMilli(), t0.UnixMilli())
	r = cl.call(docValid, "GET", "/v1/reminders/"+id, a, nil)
	cl.want(r, 200, "")
	ds := r.body["deliveries"].([]any)
	if len(ds) != 2 || ds[0].(map[string]any)["msgid"] != "1700000000000000099" || ds[1].(map[string]any)["msgid"] != nil {
		t.Fatalf("deliveries %s", r.raw)
	}
	cl.want(cl.call(docValid, "GET", "/v1/reminders/"+id, b, nil), 404, "not_found")
	cl.want(cl.call(docValid, "GET", "/v1/reminders/rem_missing", a, nil), 404, "not_found")
	cl.want(cl.call(docInvalid, "GET", "/v1/reminders/"+id, "", nil), 401, "unauthorized")

	// Patch.
	r = cl.call(docValid, "PATCH", "/v1/reminders/"+id, a, map[string]any{"fire_at": t0.Add(30 * time.Minute).Format(time.RFC3339),
		"data": map[string]string{"thing3": "B栋"}, "expires_at": t0.Add(time.Hour).Format(time.RFC3339)})
	cl.want(r, 200, "")
	if _, ok := r.body["deliveries"]; ok {
		t.Fatalf("patch answered deliveries: %s", r.raw)
	}
	r = cl.call(docValid, "PATCH", "/v1/reminders/"+id, a, map[string]any{"expires_at": nil, "page": "pages/index/index"})
	cl.want(r, 200, "")
	if r.body["expires_at"] != nil {
		t.Fatalf("expires_at not cleared: %s", r.raw)
	}
	cl.want(cl.call(docValid, "PATCH", "/v1/reminders/"+id, a, map[string]any{}), 200, "")
	cl.want(cl.call(docValid, "PATCH", "/v1/reminders/"+id, a, map[string]any{"fire_at": t0.Add(-time.Hour).Format(time.RFC3339)}), 422, "validation_failed")
	cl.want(cl.call(docValid, "PATCH", "/v1/reminders/"+id, a, map[string]any{"data": map[string]string{"thing1": strings.Repeat("x", 21)}}), 422, "validation_failed")
	cl.want(cl.call(docInvalid, "PATCH", "/v1/reminders/"+id, a, map[string]any{"fire_at": "yesterday"}), 422, "validation_failed")
	cl.want(cl.call(docInvalid, "PATCH", "/v1/reminders/"+id, a, map[string]any{"status": "sent"}), 400, "invalid_json")
	cl.want(cl.call(docValid, "PATCH", "/v1/reminders/"+id, b, map[string]any{"page": ""}), 404, "not_found")

	// Delete.
	cl.want(cl.call(docValid, "DELETE", "/v1/reminders/"+id, b, nil), 404, "not_found")
	r = cl.call(docValid, "DELETE", "/v1/reminders/"+id, a, nil)
	cl.want(r, 200, "")
	if r.str("status") != "canceled" {
		t.Fatalf("delete %s", r.raw)
	}
	cl.want(cl.call(docValid, "DELETE", "/v1/reminders/"+id, a, nil), 409, "conflict")
	cl.want(cl.call(docValid, "PATCH", "/v1/reminders/"+id, a, map[string]any{"page": ""}), 409, "conflict")

	// Admin.
	r = cl.call(docValid, "GET", "/admin/v1/reminders", adminToken, nil)
	cl.want(r, 200, "")
	if len(r.body["reminders"].([]any)) != 4 {
		t.Fatalf("admin list %s", r.raw)
	}
	from, to := url.QueryEscape(t0.Format(time.RFC3339)), url.QueryEscape(t0.Add(4*time.Hour).Format(time.RFC3339))
	r = cl.call(docValid, "GET", "/admin/v1/reminders?status=scheduled&openid=oB&template_id="+meetingID+"&from="+from+"&to="+to+"&limit=10", adminToken, nil)
	cl.want(r, 200, "")
	if l := r.body["reminders"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != idB {
		t.Fatalf("admin filters %s", r.raw)
	}
	cl.want(cl.call(docInvalid, "GET", "/admin/v1/reminders?from=yesterday", adminToken, nil), 422, "validation_failed")
	cl.want(cl.call(docInvalid, "GET", "/admin/v1/reminders?limit=500", adminToken, nil), 422, "validation_failed")
	cl.want(cl.call(docValid, "GET", "/admin/v1/reminders", a, nil), 403, "forbidden")
	cl.want(cl.call(docValid, "GET", "/admin/v1/reminders", "wrong", nil), 401, "unauthorized")
	cl.want(cl.call(docInvalid, "GET", "/admin/v1/reminders", "", nil), 401, "unauthorized")

	r = cl.call(docValid, "GET", "/admin/v1/reminders/"+id, adminToken, nil)
	cl.want(r, 200, "")
	if len(r.body["deliveries"].([]any)) != 2 {
		t.Fatalf("admin detail %s", r.raw)
	}
	cl.want(cl.call(docValid, "GET", "/admin/v1/reminders/rem_nope", adminToken, nil), 404, "not_found")
	cl.want(cl.call(docValid, "GET", "/admin/v1/reminders/"+id, b, nil), 403, "forbidden")

	cl.want(cl.call(docValid, "POST", "/admin/v1/reminders/"+idB+"/retry", adminToken, nil), 409, "conflict")
	r = cl.call(docValid, "POST", "/admin/v1/reminders/"+idB+"/cancel", adminToken, nil)
	cl.want(r, 200, "")
	if r.str("status") != "canceled" {
		t.Fatalf("admin cancel %s", r.raw)
	}
	cl.want(cl.call(docValid, "POST", "/admin/v1/reminders/"+idB+"/cancel", adminToken, nil), 409, "conflict")
	cl.want(cl.call(docValid, "POST", "/admin/v1/reminders/rem_nope/cancel", adminToken, nil), 404, "not_found")
	cl.want(cl.call(docValid, "POST", "/admin/v1/reminders/rem_nope/retry", adminToken, nil), 404, "not_found")
	cl.want(cl.call(docInvalid, "POST", "/admin/v1/reminders/"+idB+"/cancel", "", nil), 401, "unauthorized")

	// A failed reminder, with its reason, then retried.
	testkit.Exec(h.t, h.db, `UPDATE reminders SET status='failed', reason='retries_exhausted', attempts=5 WHERE id=?`, deadline)
	r = cl.call(docValid, "GET", "/admin/v1/reminders?status=failed", adminToken, nil)
	cl.want(r, 200, "")
	if l := r.body["reminders"].([]any); len(l) != 1 || l[0].(map[string]any)["reason"] != "retries_exhausted" {
		t.Fatalf("failed list %s", r.raw)
	}
	r = cl.call(docValid, "POST", "/admin/v1/reminders/"+deadline+"/retry", adminToken, nil)
	cl.want(r, 200, "")
	if r.str("status") != "scheduled" || r.body["reason"] != nil {
		t.Fatalf("retried %s", r.raw)
	}
	// Bulk actions and the admin pause.
	r = cl.call(docValid, "POST", "/admin/v1/reminders/retry", adminToken, map[string]any{"filter": map[string]any{"status": "failed"}})
	cl.want(r, 200, "")
	r = cl.call(docValid, "POST", "/admin/v1/reminders/cancel", adminToken, map[string]any{"ids": []string{deadline, "rem_nope"}})
	cl.want(r, 200, "")
	if r.body["canceled"] != 1.0 || r.body["not_found"] != 1.0 {
		t.Fatalf("bulk cancel %s", r.raw)
	}
	cl.want(cl.call(docValid, "POST", "/admin/v1/reminders/cancel", adminToken, map[string]any{}), 422, "validation_failed")
	r = cl.call(docValid, "POST", "/admin/v1/pause", adminToken, map[string]any{"reason": "maintenance"})
	cl.want(r, 200, "")
	r = cl.call(docValid, "GET", "/admin/v1/stats", adminToken, nil)
	cl.want(r, 200, "")
	if r.body["paused"] != true || r.body["paused_reason"] != "maintenance" {
		t.Fatalf("stats while paused %s", r.raw)
	}
	cl.want(cl.call(docValid, "POST", "/admin/v1/resume", adminToken, nil), 200, "")

	r = cl.call(docValid, "GET", "/admin/v1/jobs", adminToken, nil)
	cl.want(r, 200, "")
	if len(r.body["jobs"].([]any)) == 0 {
		t.Fatalf("jobs %s", r.raw)
	}
	r = cl.call(docValid, "GET", "/admin/v1/instances", adminToken, nil)
	cl.want(r, 200, "")
	if list := r.body["instances"].([]any); len(list) != 2 || list[0].(map[string]any)["leader"] != true {
		t.Fatalf("instances %s", r.raw)
	}
	cl.want(cl.call(docValid, "GET", "/admin/v1/instances", "wrong", nil), 401, "unauthorized")
	r = cl.call(docValid, "GET", "/admin/v1/stats", adminToken, nil)
	cl.want(r, 200, "")
	if r.body["token_expires_at"] == nil {
		t.Fatalf("stats without a token expiry to validate: %s", r.raw)
	}
	cl.want(cl.call(docValid, "GET", "/admin/v1/stats", a, nil), 403, "forbidden")
	cl.want(cl.call(docValid, "GET", "/admin/v1/jobs", "wrong", nil), 401, "unauthorized")
	r = cl.call(docValid, "GET", "/admin/v1/apps", adminToken, nil)
	cl.want(r, 200, "")
	cl.want(cl.call(docValid, "GET", "/admin/v1/stats?appid=wxnone", adminToken, nil), 200, "")

	// What the router answers itself is in the contract's shape too.
	cl.want(cl.callUndocumented("GET", "/nope", ""), 404, "not_found")
	cl.want(cl.callUndocumented("PUT", "/v1/session", ""), 405, "method_not_allowed")
	cl.want(cl.callUndocumented("POST", "/v1/reminders/"+id, a), 405, "method_not_allowed")
}

func testContractPush(t *testing.T, h *harness, cl *client) {
	a := cl.login(h, "oA")
	id := h.create(a, meeting(time.Hour))["id"].(string)

	// The console's URL verification.
	ts := fmt.Sprint(t0.Unix())
	q := url.Values{"signature": {wechat.Signature(pushToken, ts, "n1")}, "timestamp": {ts}, "nonce": {"n1"}, "echostr": {"hello-42"}}
	r := cl.call(docValid, "GET", "/wechat/push?"+q.Encode(), "", nil)
	if r.status != 200 || r.raw != "hello-42" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("handshake: %d %q", r.status, r.raw)
	}
	q.Del("echostr")
	cl.want(cl.call(docInvalid, "GET", "/wechat/push?"+q.Encode(), "", nil), 400, "invalid_json")
	q.Set("echostr", "x")
	q.Set("signature", "bad")
	cl.want(cl.call(docValid, "GET", "/wechat/push?"+q.Encode(), "", nil), 401, "unauthorized")

	// A safe-mode JSON push: WeChat's sent event for the reminder's delivery.
	pq, body, ev := h.sentDeliveryPush(id)
	rcv := h.receiver()
	for range 2 { // the replay is answered "success" too
		r = cl.call(docValid, "POST", "/wechat/push?"+pq.Encode(), "", string(body))
		if r.status != 200 || r.raw != "success" {
			t.Fatalf("push: %d %s", r.status, r.raw)
		}
	}
	r = cl.call(docValid, "GET", "/v1/reminders/"+id, a, nil)
	if d := r.body["deliveries"].([]any)[0].(map[string]any); d["delivered"] != true {
		t.Fatalf("sent event not applied: %s", r.raw)
	}
	// The same event as safe-mode XML.
	ev.CreateTime++ // another message, not a replay
	msg, _ := wechat.MarshalEvent(ev, false)
	xq, xbody, err := rcv.Seal(msg, "gh_x", false)
	if err != nil {
		t.Fatal(err)
	}
	r = cl.call(docValid, "POST", "/wechat/push?"+xq.Encode(), "", string(xbody), "Content-Type", "text/xml")
	if r.status != 200 || r.raw != "success" {
		t.Fatalf("XML push: %d %s", r.status, r.raw)
	}
	// The app's own push URL (one app: the same receiver).
	ev.CreateTime++
	msg, _ = wechat.MarshalEvent(ev, false)
	aq, abody, err := rcv.Seal(msg, "gh_x", false)
	if err != nil {
		t.Fatal(err)
	}
	r = cl.call(docValid, "POST", "/wechat/push/"+h.fake.AppID()+"?"+aq.Encode(), "", string(abody), "Content-Type", "text/xml")
	if r.status != 200 || r.raw != "success" {
		t.Fatalf("app push: %d %s", r.status, r.raw)
	}
	q.Set("signature", wechat.Signature(pushToken, ts, "n1"))
	if r = cl.call(docValid, "GET", "/wechat/push/"+h.fake.AppID()+"?"+q.Encode(), "", nil); r.status != 200 || r.raw != "x" {
		t.Fatalf("app handshake: %d %q", r.status, r.raw)
	}

	forged := url.Values{}
	for k, v := range pq {
		forged[k] = v
	}
	forged.Set("msg_signature", strings.Repeat("0", 40))
	cl.want(cl.call(docValid, "POST", "/wechat/push?"+forged.Encode(), "", string(body)), 401, "unauthorized")
	// Plaintext is refused while an EncodingAESKey is set.
	cl.want(cl.call(docValid, "POST", "/wechat/push?timestamp=1&nonce=1&signature=x", "", "<xml></xml>", "Content-Type", "text/xml"), 400, "invalid_json")
	cl.want(cl.call(docInvalid, "POST", "/wechat/push?signature=x", "", "<xml></xml>", "Content-Type", "text/xml"), 400, "invalid_json")
	big := `{"Encrypt":"` + strings.Repeat("a", wechat.DefaultPushMaxBody) + `"}`
	cl.want(cl.call(docValid, "POST", "/wechat/push?"+pq.Encode(), "", big), 413, "body_too_large")
}

// testContractConfigurations covers the answers that need another server:
// WeChat down or limiting, a panic, no admin token, no push, templates not
// synced yet.
func testContractConfigurations(t *testing.T, c *contract) {
	h := newHarness(t)
	h.fake.SetFaults(wechattest.Faults{BusyRate: 1, AllEndpoints: true})
	down := c.on(t, h.srv)
	down.want(down.call(docValid, "POST", "/v1/session", "", map[string]string{"code": h.fake.IssueCode("oA")}), 503, "unavailable")

	d := testkit.Store(t)
	serve := func(cfg api.Config) *client {
		cfg.DB = d
		if cfg.Catalog == nil {
			cfg.Catalog = catalog.New(d, nil, time.Now, nil)
		}
		srv := httptest.NewServer(api.New(cfg))
		t.Cleanup(srv.Close)
		return c.on(t, srv)
	}

	limited := serve(api.Config{Login: loginFunc(func(context.Context, string) (wechat.Session, error) {
		return wechat.Session{}, fmt.Errorf("code2session: %w", wechat.ErrRateLimited)
	})})
	limited.want(limited.call(docValid, "POST", "/v1/session", "", map[string]string{"code": "abc"}), 429, "rate_limited")

	panicky := serve(api.Config{Login: loginFunc(func(context.Context, string) (wechat.Session, error) { panic("boom") })})
	panicky.want(panicky.call(docValid, "POST", "/v1/session", "", map[string]string{"code": "abc"}), 500, "internal")

	// No admin token, no push receiver, templates never synced.
	bare := serve(api.Config{Login: loginFunc(nil)})
	bare.want(bare.call(docValid, "GET", "/admin/v1/stats", "anything", nil), 403, "forbidden")
	bare.want(bare.call(docInvalid, "GET", "/admin/v1/jobs", "", nil), 403, "forbidden")
	bare.want(bare.call(docValid, "GET", "/readyz", "", nil), 503, "unavailable")
	bare.want(bare.call(docValid, "GET", "/wechat/push?signature=s&timestamp=1&nonce=n&echostr=e", "", nil), 404, "not_found")
	bare.want(bare.call(docValid, "POST", "/wechat/push?signature=s&timestamp=1&nonce=n", "", `{}`), 404, "not_found")
}

// TestOpenAPIRejectsUndocumented proves that the validator used above can
// fail: real answers, altered in one place, must be refused.
func TestOpenAPIRejectsUndocumented(t *testing.T) {
	c := loadContract(t, readDocFile(t))
	h := newHarness(t)
	cl := c.on(t, h.srv)
	a := cl.login(h, "oA")
	created := cl.call(docValid, "POST", "/v1/reminders", a, meeting(time.Hour))
	cl.want(created, 201, "")
	id := created.str("id")
	testkit.Exec(h.t, h.db, `INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, msgid, started_at, latency_ms)
		VALUES (?, 1, 1, 'sent', 0, 42, ?, 12)`, id, t0.UnixMilli())
	detail := cl.call(docValid, "GET", "/v1/reminders/"+id, a, nil)
	cl.want(detail, 200, "")
	notFound := cl.call(docValid, "GET", "/v1/reminders/rem_nope", a, nil)
	cl.want(notFound, 404, "not_found")
	unauth := cl.call(docValid, "GET", "/v1/reminders/"+id, "wrong", nil)
	cl.want(unauth, 401, "unauthorized")

	type answer struct {
		method, path string
		r            resp
	}
	createA := answer{"POST", "/v1/reminders", created}
	detailA := answer{"GET", "/v1/reminders/" + id, detail}
	notFoundA := answer{"GET", "/v1/reminders/rem_nope", notFound}
	unauthA := answer{"GET", "/v1/reminders/" + id, unauth}

	validate := func(an answer, status int, header http.Header, body []byte) error {
		req, _ := http.NewRequest(an.method, h.srv.URL+an.path, nil)
		in, err := c.route(req)
		if err != nil {
			t.Fatal(err)
		}
		return c.validateResponse(context.Background(), in, status, header, body)
	}
	alter := func(an answer, f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal([]byte(an.r.raw), &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	errorOf := func(m map[string]any) map[string]any { return m["error"].(map[string]any) }
	firstDelivery := func(m map[string]any) map[string]any { return m["deliveries"].([]any)[0].(map[string]any) }

	// The real answers pass.
	for _, an := range []answer{createA, detailA, notFoundA, unauthA} {
		if err := validate(an, an.r.status, an.r.header, []byte(an.r.raw)); err != nil {
			t.Fatalf("real answer to %s %s refused: %v", an.method, an.path, err)
		}
	}
	noWWWAuth := unauth.header.Clone()
	noWWWAuth.Del("WWW-Authenticate")
	without := func(h http.Header, name string) http.Header {
		h = h.Clone()
		h.Del(name)
		return h
	}
	for _, tc := range []struct {
		name   string
		an     answer
		status int
		header http.Header
		body   []byte
	}{
		{"an undocumented field", createA, 201, nil, alter(createA, func(m map[string]any) { m["extra"] = 1 })},
		{"an undocumented nested field", createA, 201, nil, alter(createA, func(m map[string]any) { m["consent"].(map[string]any)["extra"] = true })},
		{"a number as a string", createA, 201, nil, alter(createA, func(m map[string]any) { m["attempts"] = "0" })},
		{"a required nullable field left out", createA, 201, nil, alter(createA, func(m map[string]any) { delete(m, "reason") })},
		{"null where null is not allowed", createA, 201, nil, alter(createA, func(m map[string]any) { m["fire_at"] = nil })},
		{"a status outside the enum", createA, 201, nil, alter(createA, func(m map[string]any) { m["status"] = "done" })},
		{"a reason outside the enum", createA, 201, nil, alter(createA, func(m map[string]any) { m["reason"] = "tired" })},
		{"an instant without an offset", createA, 201, nil, alter(createA, func(m map[string]any) { m["fire_at"] = "2026-12-01T18:00:00" })},
		{"deliveries outside the detail", createA, 201, nil, alter(createA, func(m map[string]any) { m["deliveries"] = []any{} })},
		{"the detail without deliveries", detailA, 200, nil, alter(detailA, func(m map[string]any) { delete(m, "deliveries") })},
		{"a msgid as a number", detailA, 200, nil, alter(detailA, func(m map[string]any) { firstDelivery(m)["msgid"] = 42 })},
		{"delivered as a string", detailA, 200, nil, alter(detailA, func(m map[string]any) { firstDelivery(m)["delivered"] = "yes" })},
		{"an error code outside the enum", notFoundA, 404, nil, alter(notFoundA, func(m map[string]any) { errorOf(m)["code"] = "gone" })},
		{"another status's error code", notFoundA, 404, nil, alter(notFoundA, func(m map[string]any) { errorOf(m)["code"] = "conflict" })},
		{"fields outside validation", notFoundA, 404, nil, alter(notFoundA, func(m map[string]any) { errorOf(m)["fields"] = map[string]any{"id": "x"} })},
		{"an undocumented status", notFoundA, 418, nil, []byte(notFound.raw)},
		{"a 401 without WWW-Authenticate", unauthA, 401, noWWWAuth, []byte(unauth.raw)},
		{"a 201 without Location", createA, 201, without(created.header, "Location"), []byte(created.raw)},
		{"a 201 without X-Request-Id", createA, 201, without(created.header, "X-Request-Id"), []byte(created.raw)},
		{"an error without X-Request-Id", notFoundA, 404, without(notFound.header, "X-Request-Id"), []byte(notFound.raw)},
		{"another content type", createA, 201, http.Header{"Content-Type": {"text/html"}}, []byte(created.raw)},
	} {
		header := tc.header
		if header == nil {
			header = tc.an.r.header
		}
		err := validate(tc.an, tc.status, header, tc.body)
		if err == nil {
			t.Errorf("%s: the document accepts an answer it must refuse:\n%d %s", tc.name, tc.status, tc.body)
			continue
		}
		t.Logf("%s: refused: %.200s", tc.name, strings.ReplaceAll(err.Error(), "\n", " "))
	}

	// And requests: the same body the server refuses, the document refuses.
	req, _ := http.NewRequest("POST", h.srv.URL+"/v1/reminders", strings.NewReader(`{"template_id":"x","data":{},"fire_at":"2026-12-01T18:00:00+08:00","bogus":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a)
	in, err := c.route(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err == nil {
		t.Error("the document accepts a create with an unknown field")
	}
}
