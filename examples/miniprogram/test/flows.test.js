// Tests of utils/api.js and pages/index/index.js against a fake `wx` and a
// small in-memory imitation of reminderd's mini-program API.
// node --test examples/miniprogram/test/
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const MEETING_ID = 'fakeMeetingReminder00000000000000000000001'
const CLINIC_ID = 'fakeClinicAppointment000000000000000000003'
const MEETING2_ID = 'fakeMeetingStart000000000000000000000004'

const TEMPLATES = [
  {
    id: MEETING_ID,
    title: '会议提醒',
    kind: 'one_time',
    fields: [
      { key: 'thing1', type: 'thing', label: '会议名称' },
      { key: 'time2', type: 'time', label: '会议时间' },
      { key: 'thing3', type: 'thing', label: '会议地点' }
    ]
  },
  { id: CLINIC_ID, title: '预约提醒', kind: 'long_term', fields: [] },
  {
    id: MEETING2_ID,
    title: '会议开始提醒',
    kind: 'one_time',
    fields: [
      { key: 'thing1', type: 'thing', label: '会议名称' },
      { key: 'time4', type: 'time', label: '开始时间' }
    ]
  }
]

function clone (v) { return v === undefined ? v : JSON.parse(JSON.stringify(v)) }
function tick () { return new Promise((resolve) => setImmediate(resolve)) }
async function settle () { for (let i = 0; i < 30; i++) await tick() }

// fakeServer imitates the parts of reminderd the example calls, following
// the project's API (docs/api.md, internal/api/openapi.json): sessions, templates, the consent ledger
// and the settings WeChat's getSetting reports, the prompt planner
// ({template_ids, silent, blocked, main_switch}), reminders, events (one
// reminder per lead, the templates alternatives), and snooze.
function fakeServer () {
  const s = {
    codes: new Set(),
    tokens: new Set(),
    consents: {}, // template id → {credits, status, long_term}
    settings: null, // the last POST /v1/consents/settings body
    reminders: [],
    events: [],
    idem: {}, // method path key → {hash, response}
    log: [], // {method, path, headers, body}
    failNext: null, // a function(req) → response or 'network', used once
    now: () => Date.now(),
    seq: 0
  }
  const known = (id) => TEMPLATES.find((t) => t.id === id)
  function json (status, data) { return { statusCode: status, data: data } }
  function err (status, code, message, fields) {
    const e = { code: code, message: message }
    if (fields) e.fields = fields
    return json(status, { error: e })
  }
  function invalid (fields) {
    return err(422, 'validation_failed', 'invalid request: ' + Object.keys(fields).sort().join(', '), fields)
  }
  function consentsBody () {
    return { consents: Object.keys(s.consents).map((id) => Object.assign({ template_id: id, updated_at: '2026-12-01T00:00:00Z' }, s.consents[id])) }
  }
  // record applies a wx.requestSubscribeMessage result to the ledger; it
  // returns the 422 fields of unknown ids ({} when all are known).
  function recordResults (results, prefix) {
    const fields = {}
    Object.keys(results || {}).forEach((id) => { if (id !== 'errMsg' && !known(id)) fields[prefix + id] = 'unknown template' })
    if (Object.keys(fields).length) return fields
    Object.keys(results || {}).forEach((id) => {
      if (id === 'errMsg') return
      const c = s.consents[id] || (s.consents[id] = { credits: 0, status: '', long_term: false })
      c.status = results[id]
      if (/^accept/.test(c.status)) c.credits++
    })
    return fields
  }
  const alternatives = (r) => r.alternatives || [r.template_id]
  // coverage hands the credits out to the scheduled reminders, most urgent
  // first: each takes one credit of the first of its templates that has one
  // left. It answers reminder id → the template covering it.
  function coverage () {
    const left = {}
    Object.keys(s.consents).forEach((id) => { left[id] = s.consents[id].credits })
    const out = {}
    s.reminders.filter((r) => r.status === 'scheduled')
      .sort((a, b) => Date.parse(a.fire_at) - Date.parse(b.fire_at))
      .forEach((r) => {
        const t = alternatives(r).find((id) => left[id] > 0)
        if (t) { left[t]--; out[r.id] = t }
      })
    return out
  }
  function render (r, cov) {
    const covered = (cov || coverage())[r.id]
    const tmpl = r.status === 'scheduled' && covered ? covered : r.template_id
    const c = s.consents[tmpl] || { credits: 0 }
    const out = Object.assign({}, r, { template_id: tmpl, consent: { credits: c.credits, covered: !!covered } })
    delete out.alternatives
    return out
  }
  function blocked () {
    const item = (s.settings && s.settings.itemSettings) || {}
    return TEMPLATES.map((t) => t.id).filter((id) =>
      item[id] === 'reject' || item[id] === 'ban' || (s.consents[id] && s.consents[id].status === 'ban'))
  }
  // prompt: for each uncovered lead, most urgent first, one of its templates
  // not yet asked for and not blocked, of the first one's kind, at most 3.
  function prompt () {
    const mainSwitch = !(s.settings && s.settings.mainSwitch === false)
    const no = blocked()
    const cov = coverage()
    const ids = []
    let kind = null
    if (mainSwitch) {
      s.reminders.filter((r) => r.status === 'scheduled' && !cov[r.id])
        .sort((a, b) => Date.parse(a.fire_at) - Date.parse(b.fire_at))
        .forEach((r) => {
          if (ids.length >= 3) return
          const t = alternatives(r).find((id) => ids.indexOf(id) < 0 && no.indexOf(id) < 0 && (kind === null || known(id).kind === kind))
          if (!t) return
          kind = known(t).kind
          ids.push(t)
        })
    }
    const item = (s.settings && s.settings.itemSettings) || {}
    return { template_ids: ids, silent: ids.filter((id) => item[id] === 'accept'), blocked: no, main_switch: mainSwitch }
  }
  // once answers a repeated Idempotency-Key with the first answer (same
  // body) or 409 (another body).
  function once (req, create) {
    const key = req.headers['Idempotency-Key']
    if (!key) return create()
    const slot = req.method + ' ' + req.path + ' ' + key
    const hash = JSON.stringify(req.body)
    if (s.idem[slot]) {
      if (s.idem[slot].hash !== hash) return err(409, 'conflict', 'Idempotency-Key was used with a different request body')
      return s.idem[slot].replay()
    }
    const res = create()
    if (res.statusCode < 300) s.idem[slot] = { hash: hash, replay: res.replay || (() => res) }
    return res
  }

  // --- events ---------------------------------------------------------------
  const durationMs = (iso) => {
    const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(iso)
    if (!m || iso === 'P' || /T$/.test(iso)) return NaN
    return ((((+m[1] || 0) * 24 + (+m[2] || 0)) * 60 + (+m[3] || 0)) * 60 + (+m[4] || 0)) * 1000
  }
  const pad = (n) => (n < 10 ? '0' : '') + n
  const beijing = (ms) => {
    const d = new Date(ms + 8 * 3600 * 1000)
    return { date: d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()), time: pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) }
  }
  const rfc = (ms) => { const b = beijing(ms); return b.date + 'T' + b.time + ':' + pad(new Date(ms).getUTCSeconds()) + '+08:00' }
  // renderValue replaces the placeholders for the keyword's type, in Beijing
  // time ({start} in a time keyword → '2026-12-01 14:00', in a date → the date).
  function renderValue (value, type, ev) {
    const start = beijing(Date.parse(ev.start_at))
    return String(value)
      .replace('{title}', ev.title || '')
      .replace('{location}', ev.location || '')
      .replace('{start}', type === 'date' ? start.date : start.date + ' ' + start.time)
  }
  function checkValue (type, v) {
    if (v === '') return 'must not be empty'
    if (/^thing/.test(type) && Array.from(v).length > 20) return 'must be at most 20 characters, got ' + Array.from(v).length
    if (/禁词/.test(v)) return 'is refused by the test server'
    return ''
  }
  function eventBody (ev, withReminders) {
    const out = Object.assign({}, ev)
    if (withReminders) {
      const cov = coverage()
      out.reminders = s.reminders.filter((r) => r.event_id === ev.id).map((r) => render(r, cov))
    }
    return out
  }
  function createEvent (req) {
    const b = req.body || {}
    const fields = {}
    const startMs = Date.parse(b.start_at)
    if (!b.start_at || isNaN(startMs)) fields.start_at = 'is required (RFC 3339)'
    if (!Array.isArray(b.leads) || b.leads.length < 1 || b.leads.length > 5) fields.leads = 'must list 1 to 5 leads'
    else {
      b.leads.forEach((l, i) => {
        if (isNaN(durationMs(l))) fields['leads[' + i + ']'] = 'must be an ISO 8601 duration'
        else if (b.leads.indexOf(l) !== i) fields['leads[' + i + ']'] = 'is listed twice'
      })
    }
    if (!Array.isArray(b.templates) || b.templates.length < 1 || b.templates.length > 3) fields.templates = 'must list 1 to 3 templates'
    const rendered = []
    if (!fields.start_at && !fields.templates) {
      b.templates.forEach((t, i) => {
        const tm = known(t.template_id)
        if (!tm) { fields['templates[' + i + '].template_id'] = 'unknown template'; return }
        const data = {}
        tm.fields.forEach((f) => {
          const raw = (t.data || {})[f.key]
          if (raw === undefined) { fields['templates[' + i + '].data.' + f.key] = 'is required'; return }
          data[f.key] = renderValue(raw, f.type, b)
          const problem = checkValue(f.type, data[f.key])
          if (problem) fields['templates[' + i + '].data.' + f.key] = problem
        })
        Object.keys(t.data || {}).forEach((k) => { if (!tm.fields.some((f) => f.key === k)) fields['templates[' + i + '].data.' + k] = 'unknown key' })
        rendered.push({ template_id: t.template_id, data: data })
      })
    }
    if (Object.keys(fields).length) return invalid(fields)
    const now = s.now()
    const keep = b.leads.filter((l) => startMs - durationMs(l) > now)
    const skipped = b.leads.filter((l) => keep.indexOf(l) < 0)
    if (keep.length === 0) return invalid({ leads: 'every lead is already past' })
    const ev = Object.assign({ id: 'evt_' + (++s.seq), openid: 'oUser', status: 'scheduled', created_at: rfc(now) }, clone(b))
    s.events.push(ev)
    keep.forEach((lead) => {
      s.reminders.push({
        id: 'rem_' + (++s.seq),
        openid: 'oUser',
        event_id: ev.id,
        lead: lead,
        template_id: rendered[0].template_id,
        alternatives: rendered.map((t) => t.template_id),
        renderings: rendered,
        status: 'scheduled',
        reason: null,
        fire_at: rfc(startMs - durationMs(lead)),
        expires_at: ev.start_at,
        recurrence: null,
        data: rendered[0].data,
        page: ev.page,
        attempts: 0
      })
    })
    const created = Object.assign(eventBody(ev, true), { leads_skipped: skipped })
    return Object.assign(json(201, created), { replay: () => json(200, Object.assign(eventBody(ev, true), { leads_skipped: skipped })) })
  }
  function snooze (r, req) {
    const b = req.body || {}
    const fields = {}
    let at = NaN
    if (b.in !== undefined && b.until !== undefined) fields.in = 'give in or until, not both'
    else if (b.in !== undefined) {
      const d = durationMs(String(b.in))
      if (isNaN(d) || d <= 0) fields.in = 'must be a positive ISO 8601 duration'
      else at = s.now() + d
    } else if (b.until !== undefined) {
      at = Date.parse(b.until)
      if (isNaN(at) || at <= s.now()) fields.until = 'must be an instant in the future'
    } else fields.in = 'in or until is required'
    if (b.consent !== undefined && (typeof b.consent !== 'object' || b.consent === null)) fields.consent = 'must be the object wx.requestSubscribeMessage resolved with'
    if (Object.keys(fields).length) return invalid(fields)
    if (['sent', 'skipped', 'scheduled'].indexOf(r.status) < 0) return err(409, 'conflict', 'reminder ' + r.id + ' is ' + r.status + ' and cannot be snoozed')
    if (b.consent) {
      const bad = recordResults(b.consent, 'consent.')
      if (Object.keys(bad).length) return invalid(bad)
    }
    r.status = 'scheduled'
    r.reason = null
    r.fire_at = rfc(at)
    r.snoozed = true
    const out = json(200, render(r))
    return Object.assign(out, { replay: () => out })
  }

  s.handle = function (req) {
    s.log.push(req)
    if (s.failNext) {
      const f = s.failNext
      s.failNext = null
      const out = f(req)
      if (out) return out
    }
    const m = req.method
    const p = req.path
    if (m === 'POST' && p === '/v1/session') {
      if (!s.codes.has(req.body.code)) return err(401, 'invalid_code', 'WeChat rejected the login code')
      s.codes.delete(req.body.code)
      const token = 'tok' + (++s.seq)
      s.tokens.add(token)
      return json(200, { token: token, openid: 'oUser', expires_at: '2099-01-01T00:00:00Z' })
    }
    const auth = (req.headers.Authorization || '').replace(/^Bearer /, '')
    if (!s.tokens.has(auth)) return err(401, 'unauthorized', 'missing or expired session token')
    if (m === 'GET' && p === '/v1/templates') return json(200, { templates: clone(TEMPLATES) })
    if (m === 'GET' && p === '/v1/consents') return json(200, consentsBody())
    if (m === 'GET' && p === '/v1/consents/prompt') return json(200, prompt())
    if (m === 'POST' && p === '/v1/consents/settings') {
      const b = req.body
      if (!b || typeof b !== 'object' || typeof b.mainSwitch !== 'boolean') return invalid({ mainSwitch: 'is required (true or false)' })
      s.settings = { mainSwitch: b.mainSwitch, itemSettings: clone(b.itemSettings || {}) }
      return json(200, consentsBody())
    }
    if (m === 'POST' && p === '/v1/consents') {
      const bad = recordResults(req.body.results, 'results.')
      if (Object.keys(bad).length) return invalid(bad)
      return json(200, consentsBody())
    }
    if (m === 'POST' && p === '/v1/reminders') {
      return once(req, () => {
        const fields = {}
        Object.keys(req.body.data).forEach((k) => {
          if (/^thing/.test(k) && /禁词/.test(req.body.data[k])) fields['data.' + k] = 'is refused by the test server'
        })
        if (Object.keys(fields).length) return err(422, 'validation_failed', 'invalid request', fields)
        const r = Object.assign({ id: 'rem_' + (++s.seq), openid: 'oUser', status: 'scheduled', reason: null, recurrence: null }, clone(req.body))
        s.reminders.push(r)
        return Object.assign(json(201, render(r)), { replay: () => json(200, render(r)) })
      })
    }
    if (m === 'GET' && p.indexOf('/v1/reminders?') === 0) {
      const q = new URLSearchParams(p.slice(p.indexOf('?') + 1))
      const limit = +q.get('limit') || 50
      const start = q.get('cursor') ? +q.get('cursor') : 0
      const cov = coverage()
      const rows = s.reminders.slice(start, start + limit).map((r) => render(r, cov))
      const next = start + limit < s.reminders.length ? String(start + limit) : null
      return json(200, { reminders: rows, next_cursor: next })
    }
    const snoozeRoute = /^\/v1\/reminders\/([^/?]+)\/snooze$/.exec(p)
    if (snoozeRoute && m === 'POST') {
      const r = s.reminders.find((x) => x.id === decodeURIComponent(snoozeRoute[1]))
      if (!r) return err(404, 'not_found', 'reminder not found')
      return once(req, () => snooze(r, req))
    }
    const one = /^\/v1\/reminders\/([^/?]+)$/.exec(p)
    if (one) {
      const r = s.reminders.find((x) => x.id === decodeURIComponent(one[1]))
      if (!r) return err(404, 'not_found', 'reminder not found')
      if (m === 'GET') return json(200, render(r))
      if (m === 'DELETE') {
        if (r.status !== 'scheduled') return err(409, 'conflict', 'reminder ' + r.id + ' is already ' + r.status)
        r.status = 'canceled'
        return json(200, render(r))
      }
    }
    if (m === 'POST' && p === '/v1/events') return once(req, () => createEvent(req))
    if (m === 'GET' && (p === '/v1/events' || p.indexOf('/v1/events?') === 0)) {
      const q = new URLSearchParams(p.slice(p.indexOf('?') + 1))
      const limit = +q.get('limit') || 50
      const start = q.get('cursor') ? +q.get('cursor') : 0
      const rows = s.events.slice(start, start + limit).map((e) => eventBody(e, false))
      const next = start + limit < s.events.length ? String(start + limit) : null
      return json(200, { events: rows, next_cursor: next })
    }
    const ev = /^\/v1\/events\/([^/?]+)$/.exec(p)
    if (ev) {
      const e = s.events.find((x) => x.id === decodeURIComponent(ev[1]))
      if (!e) return err(404, 'not_found', 'event not found')
      if (m === 'GET') return json(200, eventBody(e, true))
      if (m === 'DELETE') {
        if (e.status === 'canceled') return err(409, 'conflict', 'event ' + e.id + ' is already canceled')
        e.status = 'canceled'
        s.reminders.forEach((r) => { if (r.event_id === e.id && r.status === 'scheduled') r.status = 'canceled' })
        return json(200, eventBody(e, true))
      }
    }
    return err(404, 'not_found', 'no route for ' + m + ' ' + p)
  }
  return s
}

// fakeWx imitates the wx.* APIs the example uses. Every call is appended to
// calls as [name, options] so tests can check the order.
//
// The user's subscription settings live in w.setting (what wx.getSetting
// answers under subscriptionsSetting). requestSubscribeMessage behaves as
// WeChat's does unless a test sets w.subscribe: main switch off → fail
// 20004; an id saved in itemSettings answers its saved choice without a
// popup; the others show the popup (logged in w.popups) and answer
// w.answer(id) ('accept' unless the test says otherwise).
function fakeWx (server) {
  const w = {
    calls: [],
    storage: {},
    nextLoginCode: 0,
    setting: { mainSwitch: true },
    popups: [], // the ids each popup showed
    answer: () => 'accept',
    subscribe: null, // (options) => void: replaces the default behaviour
    onOpenSetting: null, // (setting) => void: what the user changes in the settings page
    modalAnswer: { confirm: true, cancel: false }
  }
  function record (name, o) { w.calls.push([name, o]) }
  w.getStorageSync = (k) => (k in w.storage ? clone(w.storage[k]) : '')
  w.setStorageSync = (k, v) => { w.storage[k] = clone(v) }
  w.removeStorageSync = (k) => { delete w.storage[k] }
  w.login = (o) => {
    record('login', o)
    const code = 'code' + (++w.nextLoginCode)
    server.codes.add(code)
    setImmediate(() => o.success({ code: code, errMsg: 'login:ok' }))
  }
  w.request = (o) => {
    record('request', o)
    const u = new URL(o.url)
    const res = server.handle({ method: o.method, path: u.pathname + u.search, headers: clone(o.header) || {}, body: clone(o.data) })
    setImmediate(() => {
      if (res === 'network') o.fail({ errMsg: 'request:fail timeout' })
      else o.success({ statusCode: res.statusCode, data: clone(res.data), header: {} })
    })
  }
  w.requestSubscribeMessage = (o) => {
    record('requestSubscribeMessage', o)
    if (w.subscribe) return w.subscribe(o)
    if (!w.setting.mainSwitch) {
      setImmediate(() => o.fail({ errCode: 20004, errMsg: 'requestSubscribeMessage:fail:main switch off' }))
      return
    }
    const saved = w.setting.itemSettings || {}
    const result = { errMsg: 'requestSubscribeMessage:ok' }
    const shown = o.tmplIds.filter((id) => !saved[id])
    if (shown.length) w.popups.push(shown)
    o.tmplIds.forEach((id) => { result[id] = saved[id] || w.answer(id) })
    setImmediate(() => o.success(result))
  }
  w.getSetting = (o) => {
    record('getSetting', o)
    const res = { authSetting: {}, errMsg: 'getSetting:ok' }
    if (o.withSubscriptions) res.subscriptionsSetting = clone(w.setting)
    setImmediate(() => o.success(res))
  }
  w.openSetting = (o) => {
    record('openSetting', o)
    if (w.onOpenSetting) w.onOpenSetting(w.setting)
    const res = { authSetting: {}, errMsg: 'openSetting:ok' }
    if (o.withSubscriptions) res.subscriptionsSetting = clone(w.setting)
    setImmediate(() => o.success(res))
  }
  w.showToast = (o) => record('showToast', o)
  w.showModal = (o) => {
    record('showModal', o)
    setImmediate(() => o.success && o.success(Object.assign({}, w.modalAnswer)))
  }
  w.navigateTo = (o) => record('navigateTo', o)
  w.reLaunch = (o) => record('reLaunch', o)
  w.setNavigationBarTitle = (o) => record('setNavigationBarTitle', o)
  w.stopPullDownRefresh = () => record('stopPullDownRefresh')
  w.named = (name) => w.calls.filter((c) => c[0] === name).map((c) => c[1])
  w.requests = () => w.named('request').map((o) => o.method + ' ' + new URL(o.url).pathname)
  w.posted = (pathname) => w.named('request').filter((o) => o.method === 'POST' && new URL(o.url).pathname === pathname)
  return w
}

// fresh loads the example's modules anew with the given wx.
function fresh (w) {
  global.wx = w
  for (const k of Object.keys(require.cache)) {
    if (k.startsWith(ROOT + path.sep) && !k.includes(path.sep + 'test' + path.sep)) delete require.cache[k]
  }
}

function setPath (obj, p, value) {
  const parts = p.replace(/\[(\d+)\]/g, '.$1').split('.')
  let o = obj
  for (let i = 0; i < parts.length - 1; i++) {
    if (o[parts[i]] === undefined) o[parts[i]] = {}
    o = o[parts[i]]
  }
  o[parts[parts.length - 1]] = clone(value)
}

// loadPage runs a page's JS (pages/index/index.js by default) with a Page()
// that returns an instance whose setData behaves like the mini-program's
// (paths such as 'form.title' and 'events[2]').
function loadPage (w, file) {
  fresh(w)
  let options = null
  global.Page = (o) => { options = o }
  require(file || '../pages/index/index.js')
  const page = Object.assign({}, options)
  page.data = clone(options.data)
  page.setData = function (changes) {
    Object.keys(changes).forEach((k) => setPath(this.data, k, changes[k]))
  }
  return page
}

// --- utils/api.js --------------------------------------------------------------

test('api: logs in once, stores only the session token, sends Authorization', async () => {
  const server = fakeServer()
  const w = fakeWx(server)
  fresh(w)
  const api = require('../utils/api.js')
  // Three requests at once without a session share one wx.login.
  const out = await Promise.all([api.templates(), api.consents(), api.consentPrompt()])
  assert.equal(out[0].templates.length, 3)
  assert.equal(w.named('login').length, 1)
  const stored = w.storage[api.SESSION_KEY]
  assert.deepEqual(Object.keys(stored).sort(), ['expires_at', 'openid', 'token'])
  assert.ok(!JSON.stringify(w.storage).includes('session_key'))
  const authed = w.named('request').filter((o) => !o.url.endsWith('/v1/session'))
  assert.equal(authed.length, 3)
  for (const o of authed) assert.equal(o.header.Authorization, 'Bearer ' + stored.token)
  const session = w.named('request').find((o) => o.url.endsWith('/v1/session'))
  assert.equal(session.url, 'http://127.0.0.1:8080/v1/session')
  assert.deepEqual(session.data, { code: 'code1' })
})

test('api: on 401 logs in again once and retries once', async () => {
  const server = fakeServer()
  const w = fakeWx(server)
  fresh(w)
  const api = require('../utils/api.js')
  await api.ensureLogin()
  server.tokens.clear() // the session expired on the server
  const out = await api.consents()
  assert.deepEqual(out, { consents: [] })
  assert.equal(w.named('login').length, 2)
  assert.deepEqual(w.requests(), ['POST /v1/session', 'GET /v1/consents', 'POST /v1/session', 'GET /v1/consents'])
})

test('api: a second 401 is returned, not looped', async () => {
  const server = fakeServer()
  const w = fakeWx(server)
  fresh(w)
  const api = require('../utils/api.js')
  await api.ensureLogin()
  const realHandle = server.handle
  server.handle = (req) => req.path === '/v1/session' ? realHandle(req) : { statusCode: 401, data: { error: { code: 'unauthorized', message: 'no' } } }
  await assert.rejects(api.consents(), (e) => e.status === 401 && e.code === 'unauthorized')
  assert.equal(w.named('login').length, 2)
  assert.equal(w.requests().filter((r) => r === 'GET /v1/consents').length, 2)
})

test('api: errors carry status, code, message and fields; network failures code network', async () => {
  const server = fakeServer()
  const w = fakeWx(server)
  fresh(w)
  const api = require('../utils/api.js')
  await assert.rejects(api.cancelReminder('rem_missing'), (e) => e.status === 404 && e.code === 'not_found')
  server.failNext = () => ({ statusCode: 422, data: { error: { code: 'validation_failed', message: 'invalid request: data.thing1', fields: { 'data.thing1': 'must not be empty' } } } })
  await assert.rejects(api.createReminder({ template_id: MEETING_ID, data: {} }, 'k1'),
    (e) => e.status === 422 && e.code === 'validation_failed' && e.fields['data.thing1'] === 'must not be empty')
  assert.equal(w.named('request').pop().header['Idempotency-Key'], 'k1')
  server.failNext = () => 'network'
  await assert.rejects(api.consents(), (e) => e.status === 0 && e.code === 'network')
})

test('api: a code WeChat rejects surfaces as invalid_code', async () => {
  const server = fakeServer()
  const w = fakeWx(server)
  w.login = (o) => setImmediate(() => o.success({ code: 'not-a-code', errMsg: 'login:ok' }))
  fresh(w)
  const api = require('../utils/api.js')
  await assert.rejects(api.templates(), (e) => e.status === 401 && e.code === 'invalid_code')
  assert.equal(api.getToken(), '')
})

// --- pages/index: the home page ----------------------------------------------------

const h = require('../utils/helpers.js')
const DAY = 24 * 3600 * 1000

async function bootedPage (server, setup, file, options) {
  const w = fakeWx(server || fakeServer())
  if (setup) setup(w)
  const page = loadPage(w, file)
  page.onLoad(options)
  await settle()
  return { w: w, page: page }
}

function fillForm (page, f) {
  page.onTitleInput({ detail: { value: f.title } })
  page.onPlaceInput({ detail: { value: f.place } })
  page.onDateChange({ detail: { value: f.date } })
  page.onTimeChange({ detail: { value: f.time } })
}

// seedEvent creates a meeting on the server as the page would (two days
// ahead unless told, leads P1D and PT15M, both meeting templates).
function seedEvent (server, opts) {
  const o = opts || {}
  const when = h.defaultMeeting(Date.now() + (o.aheadMs || 2 * DAY))
  const form = { title: o.title || '项目评审会', place: 'A栋201会议室', date: when.date, time: when.time }
  const templates = [
    { template_id: MEETING_ID, data: { thing1: '{title}', time2: '{start}', thing3: '{location}' } },
    { template_id: MEETING2_ID, data: { thing1: '{title}', time4: '{start}' } }
  ]
  const ref = o.ref || 'ref-' + (server.events.length + 1)
  const body = h.buildEvent(form, o.leads || ['P1D', 'PT15M'], templates, ref, h.detailPage('pages/meeting/detail', ref))
  server.tokens.add('seed')
  const res = server.handle({ method: 'POST', path: '/v1/events', headers: { Authorization: 'Bearer seed' }, body: body })
  server.log.pop()
  assert.equal(res.statusCode, 201, JSON.stringify(res.data))
  return res.data
}

// deliver marks a lead as sent, as the engine would at its fire time.
function deliver (server, reminderId) {
  const r = server.reminders.find((x) => x.id === reminderId)
  r.status = 'sent'
  r.fire_at = new Date(Date.now() - 60000).toISOString()
}

test('home: loads templates, reports the settings, asks the prompt, lists the meetings', async () => {
  const { w, page } = await bootedPage()
  assert.equal(page.data.loadError, '')
  assert.equal(page.data.loading, false)
  assert.deepEqual(w.named('getSetting')[0].withSubscriptions, true)
  const reported = w.posted('/v1/consents/settings')
  assert.equal(reported.length, 1)
  assert.deepEqual(reported[0].data, { mainSwitch: true }, 'subscriptionsSetting as is')
  const order = w.requests()
  assert.ok(order.indexOf('POST /v1/consents/settings') < order.indexOf('GET /v1/consents/prompt'), 'settings before the prompt')
  // Nothing lacks credit: the button offers the meeting's two templates.
  assert.deepEqual(page.data.subscribeIds, [MEETING_ID, MEETING2_ID])
  assert.equal(page.data.templateTitles, '会议提醒、会议开始提醒')
  assert.equal(page.data.consentText, '尚未授权')
  assert.equal(page.data.hint.show, false)
  assert.deepEqual(page.data.events, [])
  assert.deepEqual(page.data.leads, ['P1D', 'PT15M'])
  assert.equal(w.named('requestSubscribeMessage').length, 0, 'never on page load')
  assert.match(page.data.form.date, /^\d{4}-\d{2}-\d{2}$/)
  assert.match(page.data.form.time, /^\d{2}:00$/)
})

test('home: a settings report the server refuses does not stop the page', async () => {
  const server = fakeServer()
  const real = server.handle
  server.handle = (req) => (req.path === '/v1/consents/settings'
    ? { statusCode: 404, data: { error: { code: 'not_found', message: 'no route' } } }
    : real(req))
  const warn = console.warn
  const warned = []
  console.warn = (...a) => warned.push(a.join(' '))
  try {
    const { page } = await bootedPage(server)
    assert.equal(page.data.loadError, '')
    assert.deepEqual(page.data.subscribeIds, [MEETING_ID, MEETING2_ID])
  } finally {
    console.warn = warn
  }
  assert.equal(warned.length, 1)
})

test('home: the tap calls wx.requestSubscribeMessage synchronously, first, and reports the raw result', async () => {
  const { w, page } = await bootedPage()
  const before = w.calls.length
  let result = null
  w.subscribe = (o) => {
    result = { errMsg: 'requestSubscribeMessage:ok' }
    o.tmplIds.forEach((id) => { result[id] = 'accept' })
    setImmediate(() => o.success(result))
  }
  page.onSubscribeTap()
  // Nothing asynchronous ran yet: the popup call happened inside the tap, as
  // the very first wx call of the handler.
  const during = w.calls.slice(before)
  assert.equal(during.length, 1)
  assert.equal(during[0][0], 'requestSubscribeMessage')
  assert.deepEqual(during[0][1].tmplIds, [MEETING_ID, MEETING2_ID])
  await settle()
  const report = w.posted('/v1/consents')[0]
  assert.deepEqual(report.data, { results: result }, 'the result object, errMsg included, unchanged')
  assert.equal(page.data.credits, 2)
  assert.equal(page.data.consentText, '还可发送2次提醒')
})

test('home: errCode 20004 reports the switch, offers the settings page, and reports what the user set there', async () => {
  const { w, page } = await bootedPage()
  w.setting.mainSwitch = false // turned off since the page loaded
  w.onOpenSetting = (st) => { st.mainSwitch = true }
  page.onSubscribeTap()
  await settle()
  const modal = w.named('showModal')[0]
  assert.ok(modal, 'a modal')
  assert.match(modal.content, /设置/)
  assert.deepEqual(w.named('openSetting')[0].withSubscriptions, true)
  assert.equal(w.posted('/v1/consents').length, 0)
  const reports = w.posted('/v1/consents/settings').map((o) => o.data)
  assert.deepEqual(reports, [{ mainSwitch: true }, { mainSwitch: false }, { mainSwitch: true }])
  assert.equal(page.data.hint.show, false)

  w.subscribe = (o) => setImmediate(() => o.fail({ errCode: 20001, errMsg: 'requestSubscribeMessage:fail' }))
  page.onSubscribeTap()
  await settle()
  assert.match(w.named('showToast').pop().title, /模板/)
})

test('home: a meeting with two leads and two alternative templates', async () => {
  const server = fakeServer()
  const { w, page } = await bootedPage(server)
  fillForm(page, { title: '𠮷'.repeat(21), place: 'A栋201会议室', date: '2099-12-01', time: '14:00' })
  // The check boxes answer in tap order; the page keeps the list's order.
  page.onLeadsChange({ detail: { value: ['PT15M', 'P1D'] } })
  assert.deepEqual(page.data.leads, ['P1D', 'PT15M'])
  assert.deepEqual(page.data.leadChoices.filter((c) => c.checked).map((c) => c.lead), ['P1D', 'PT15M'])
  await page.onSubmit()
  assert.match(page.data.errors.title, /当前21个/)
  assert.equal(w.posted('/v1/events').length, 0, 'no request for an invalid form')

  page.onTitleInput({ detail: { value: '项目评审会' } })
  // The first attempt times out on the client; the tap after it resends the
  // same body with the same key.
  server.failNext = () => 'network'
  await page.onSubmit()
  await page.onSubmit()
  await settle()
  const posts = w.posted('/v1/events')
  assert.equal(posts.length, 2)
  const key = posts[0].header['Idempotency-Key']
  assert.ok(key)
  assert.equal(posts[1].header['Idempotency-Key'], key)
  assert.deepEqual(posts[1].data, {
    title: '项目评审会',
    start_at: '2099-12-01T14:00:00+08:00',
    location: 'A栋201会议室',
    timezone: 'Asia/Shanghai',
    page: 'pages/meeting/detail?ref=' + key,
    external_ref: key,
    leads: ['P1D', 'PT15M'],
    templates: [
      { template_id: MEETING_ID, data: { thing1: '{title}', time2: '{start}', thing3: '{location}' } },
      { template_id: MEETING2_ID, data: { thing1: '{title}', time4: '{start}' } }
    ]
  })
  // One reminder per lead, due at start − lead, expiring at the start.
  assert.deepEqual(server.reminders.map((r) => [r.lead, r.fire_at, r.expires_at]), [
    ['P1D', '2099-11-30T14:00:00+08:00', '2099-12-01T14:00:00+08:00'],
    ['PT15M', '2099-12-01T13:45:00+08:00', '2099-12-01T14:00:00+08:00']
  ])
  assert.equal(page.data.form.title, '', 'the form is reset after success')
  assert.equal(w.named('showToast').pop().title, '已创建，请开启会议提醒')
  assert.equal(page.data.events.length, 1)
  assert.equal(page.data.events[0].leadsText, '提前1天、提前15分钟')
  assert.equal(page.data.events[0].ref, key)
  // Two uncovered leads: the planner asks for one template for each.
  assert.deepEqual(page.data.subscribeIds, [MEETING_ID, MEETING2_ID])

  // One tap that accepts both covers both leads, each through another template.
  page.onSubscribeTap()
  await settle()
  server.tokens.add('seed')
  const got = server.handle({ method: 'GET', path: '/v1/events/' + server.events[0].id, headers: { Authorization: 'Bearer seed' } }).data
  assert.deepEqual(got.reminders.map((r) => [r.lead, r.template_id, r.consent.covered]),
    [['P1D', MEETING_ID, true], ['PT15M', MEETING2_ID, true]])
  assert.equal(page.data.consentText, '还可发送2次提醒')

  // The next submission is a new meeting with a new key.
  fillForm(page, { title: '周会', place: '三楼', date: '2099-12-02', time: '10:00' })
  await page.onSubmit()
  const third = w.posted('/v1/events')[2]
  assert.notEqual(third.header['Idempotency-Key'], key)
  assert.equal(third.data.external_ref, third.header['Idempotency-Key'])
})

test('home: leads already past are skipped and named; all past is refused locally; a 422 is placed on its input', async () => {
  const server = fakeServer()
  const { w, page } = await bootedPage(server)
  const soon = h.defaultMeeting(Date.now() + 3 * 3600 * 1000) // today or tomorrow, under a day ahead
  fillForm(page, { title: '评审', place: 'A栋201会议室', date: soon.date, time: soon.time })
  await page.onSubmit()
  assert.equal(w.posted('/v1/events').length, 1)
  assert.equal(w.named('showToast').pop().title, '已创建，已跳过：提前1天（时间已过）')
  assert.deepEqual(server.reminders.map((r) => r.lead), ['PT15M'])

  const now = h.defaultMeeting(Date.now()) // within 90 minutes
  fillForm(page, { title: '站会', place: '三楼', date: now.date, time: now.time })
  page.onLeadsChange({ detail: { value: ['P1D'] } })
  await page.onSubmit()
  assert.match(page.data.errors.lead, /都已过/)
  assert.equal(w.posted('/v1/events').length, 1)
  page.onLeadsChange({ detail: { value: [] } })
  await page.onSubmit()
  assert.match(page.data.errors.lead, /至少/)

  page.onLeadsChange({ detail: { value: ['PT0S'] } })
  fillForm(page, { title: '评审', place: '禁词会议室', date: '2099-12-01', time: '14:00' })
  await page.onSubmit()
  assert.equal(page.data.errors.place, 'is refused by the test server', 'templates[0].data.thing3 holds {location}')
  assert.equal(page.data.errors.title, '')
  assert.equal(page.data.submitting, false)
})

// --- the prompt: silent, blocked, main switch --------------------------------------

test('prompt: the silent ids are requested first on an ordinary tap, without a popup', async () => {
  const server = fakeServer()
  const ev = seedEvent(server)
  const { w, page } = await bootedPage(server, (w) => { w.setting = { mainSwitch: true, itemSettings: { [MEETING_ID]: 'accept' } } })
  assert.deepEqual(page.prompt.silent, [MEETING_ID])
  assert.deepEqual(page.data.subscribeIds, [MEETING_ID, MEETING2_ID])

  // Opening the meeting is an ordinary tap: the silent request goes first.
  const before = w.calls.length
  page.onEventTap({ currentTarget: { dataset: { id: ev.id } } })
  const during = w.calls.slice(before).map((c) => c[0])
  assert.deepEqual(during, ['requestSubscribeMessage', 'navigateTo'])
  assert.deepEqual(w.named('requestSubscribeMessage')[0].tmplIds, [MEETING_ID])
  assert.equal(w.named('navigateTo')[0].url, '/pages/meeting/detail?id=' + ev.id)
  await settle()
  assert.deepEqual(w.popups, [], 'no popup')
  assert.deepEqual(w.posted('/v1/consents')[0].data, { results: { errMsg: 'requestSubscribeMessage:ok', [MEETING_ID]: 'accept' } })
  assert.equal(server.consents[MEETING_ID].credits, 1)
  assert.equal(w.named('showToast').length, 0, 'a silent request is quiet')

  // The second lead still lacks credit: the next ordinary tap earns it; then
  // nothing lacks credit and taps request nothing.
  page.onRefreshTap()
  await settle()
  assert.equal(server.consents[MEETING_ID].credits, 2)
  assert.deepEqual(page.prompt.template_ids, [])
  const n = w.named('requestSubscribeMessage').length
  page.onRefreshTap()
  await settle()
  assert.equal(w.named('requestSubscribeMessage').length, n)
})

test('prompt: a blocked template shows the hint; 去设置 opens wx.openSetting in the tap and reports the new settings', async () => {
  const server = fakeServer()
  seedEvent(server)
  const { w, page } = await bootedPage(server, (w) => { w.setting = { mainSwitch: true, itemSettings: { [MEETING2_ID]: 'reject' } } })
  assert.deepEqual(page.prompt.blocked, [MEETING2_ID])
  assert.deepEqual(page.data.subscribeIds, [MEETING_ID], 'never a blocked id')
  assert.equal(page.data.hint.show, true)
  assert.match(page.data.hint.text, /会议开始提醒/)

  w.onOpenSetting = (st) => { st.itemSettings = {} } // the user allows it again
  const before = w.calls.length
  page.onOpenSettingTap()
  assert.equal(w.calls[before][0], 'openSetting', 'first, inside the tap')
  assert.equal(w.calls.length, before + 1)
  assert.deepEqual(w.calls[before][1].withSubscriptions, true)
  await settle()
  assert.deepEqual(w.posted('/v1/consents/settings').pop().data, { mainSwitch: true, itemSettings: {} })
  assert.equal(page.data.hint.show, false)
  assert.deepEqual(page.data.subscribeIds, [MEETING_ID, MEETING2_ID])
})

test('prompt: back from WeChat\'s own settings (onShow) the settings are reported again', async () => {
  const server = fakeServer()
  seedEvent(server)
  const { w, page } = await bootedPage(server)
  assert.equal(page.data.hint.show, false)
  w.setting = { mainSwitch: true, itemSettings: { [MEETING_ID]: 'ban' } } // changed while away
  await page.onShow()
  await settle()
  assert.deepEqual(w.posted('/v1/consents/settings').pop().data, { mainSwitch: true, itemSettings: { [MEETING_ID]: 'ban' } })
  assert.equal(page.data.hint.show, true)
  assert.match(page.data.hint.text, /“会议提醒”/)
  assert.deepEqual(page.data.subscribeIds, [MEETING2_ID])
})

test('prompt: main switch off: no request at all, the hint, then back on through the settings page', async () => {
  const server = fakeServer()
  seedEvent(server)
  const { w, page } = await bootedPage(server, (w) => { w.setting = { mainSwitch: false, itemSettings: { [MEETING_ID]: 'accept' } } })
  assert.deepEqual(w.posted('/v1/consents/settings')[0].data, { mainSwitch: false, itemSettings: { [MEETING_ID]: 'accept' } })
  assert.equal(page.prompt.main_switch, false)
  assert.deepEqual(page.data.subscribeIds, [])
  assert.equal(page.data.hint.show, true)
  assert.match(page.data.hint.text, /接收订阅消息/)
  page.onSubscribeTap()
  page.onRefreshTap()
  await settle()
  assert.equal(w.named('requestSubscribeMessage').length, 0)
  assert.equal(w.named('showToast')[0].title, '请先在设置中开启订阅消息')

  w.onOpenSetting = (st) => { st.mainSwitch = true }
  page.onOpenSettingTap()
  await settle()
  assert.equal(page.data.hint.show, false)
  assert.deepEqual(page.data.subscribeIds, [MEETING_ID, MEETING2_ID])
  assert.deepEqual(page.prompt.silent, [MEETING_ID])
})

// --- pages/meeting/detail: 稍后提醒 --------------------------------------------------

const DETAIL = '../pages/meeting/detail.js'

test('detail: the message card opens the meeting by its ref; 稍后提醒 requests in the tap and snoozes with that consent', async () => {
  const server = fakeServer()
  const ev = seedEvent(server)
  seedEvent(server, { title: '另一个会', ref: 'other' })
  deliver(server, ev.reminders[0].id) // the day-before reminder was sent
  // The card opens the event's page: pages/meeting/detail?ref=…
  const options = h.parseQuery(ev.page.split('?')[1])
  assert.deepEqual(options, { ref: ev.external_ref })
  const { w, page } = await bootedPage(server, null, DETAIL, options)
  assert.equal(page.data.loadError, '')
  assert.equal(page.data.event.title, '项目评审会')
  assert.equal(page.data.event.reminders.length, 2)
  assert.deepEqual(page.data.event.reminders.map((r) => r.templateTitle), ['会议提醒', '会议提醒'])
  assert.equal(page.data.current.id, ev.reminders[0].id, 'the lead just sent')
  assert.equal(page.data.current.canSnooze, true)
  assert.equal(w.named('setNavigationBarTitle')[0].title, '项目评审会')

  w.answer = (id) => (id === MEETING_ID ? 'accept' : 'reject')
  page.onSnoozeChoice({ detail: { value: '0' } }) // 10分钟后
  const before = w.calls.length
  page.onSnoozeTap()
  assert.deepEqual(w.calls.slice(before).map((c) => c[0]), ['requestSubscribeMessage'], 'the popup first, in the tap')
  assert.deepEqual(w.calls[before][1].tmplIds, [MEETING_ID, MEETING2_ID])
  await settle()
  const posts = w.posted('/v1/reminders/' + ev.reminders[0].id + '/snooze')
  assert.equal(posts.length, 1)
  assert.deepEqual(posts[0].data, {
    in: 'PT10M',
    consent: { errMsg: 'requestSubscribeMessage:ok', [MEETING_ID]: 'accept', [MEETING2_ID]: 'reject' }
  }, 'the result as is, errMsg included')
  assert.ok(posts[0].header['Idempotency-Key'])
  assert.equal(w.posted('/v1/consents').length, 0, 'the consent goes with the snooze')
  const rem = server.reminders.find((r) => r.id === ev.reminders[0].id)
  assert.equal(rem.status, 'scheduled')
  assert.ok(Math.abs(Date.parse(rem.fire_at) - (Date.now() + 10 * 60000)) < 5000, rem.fire_at)
  assert.equal(server.consents[MEETING_ID].credits, 1)
  assert.equal(w.named('showToast').pop().title, '将在10分钟后再次提醒')
  assert.equal(page.data.current.status, 'scheduled')
  assert.equal(page.data.current.covered, true)

  // A snooze whose answer is lost is sent again with the same key.
  deliver(server, rem.id)
  await page.bootstrap()
  page.onSnoozeChoice({ detail: { value: '2' } }) // 1小时后
  server.failNext = (req) => (/snooze$/.test(req.path) ? 'network' : null)
  page.onSnoozeTap()
  await settle()
  page.onSnoozeTap()
  await settle()
  const again = w.posted('/v1/reminders/' + rem.id + '/snooze').slice(1)
  assert.equal(again.length, 2)
  assert.equal(again[0].data.in, 'PT1H')
  assert.equal(again[0].header['Idempotency-Key'], again[1].header['Idempotency-Key'])
  assert.notEqual(again[0].header['Idempotency-Key'], posts[0].header['Idempotency-Key'])
  assert.ok(Math.abs(Date.parse(rem.fire_at) - (Date.now() + 3600000)) < 5000)
})

test('detail: with the main switch off the snooze goes without consent and the hint shows; a canceled lead answers 409', async () => {
  const server = fakeServer()
  const ev = seedEvent(server)
  deliver(server, ev.reminders[1].id)
  const { w, page } = await bootedPage(server, (w) => { w.setting = { mainSwitch: false } }, DETAIL,
    { id: ev.id, reminder: ev.reminders[1].id })
  assert.equal(page.data.current.id, ev.reminders[1].id, 'the lead the link names')
  assert.equal(page.data.hint.show, true)
  page.onSnoozeTap()
  await settle()
  assert.equal(w.named('requestSubscribeMessage').length, 0)
  assert.deepEqual(w.posted('/v1/reminders/' + ev.reminders[1].id + '/snooze')[0].data, { in: 'PT10M' })
  assert.match(w.named('showToast').pop().title, /未授权/)

  // The meeting is canceled elsewhere: the lead cannot be snoozed any more.
  server.handle({ method: 'DELETE', path: '/v1/events/' + ev.id, headers: { Authorization: 'Bearer seed' } })
  page.onSnoozeTap()
  await settle()
  assert.equal(w.named('showToast').pop().title, '这条提醒已取消，无法推迟')
  assert.equal(page.data.event.status, 'canceled')
})

test('detail: an unknown ref says the meeting is gone', async () => {
  const { page } = await bootedPage(fakeServer(), null, DETAIL, { ref: 'nope' })
  assert.equal(page.data.loadError, '会议不存在或已删除')
  assert.equal(page.data.event, null)
})

// --- the list of meetings ------------------------------------------------------------

test('home: load more follows next_cursor; cancel confirms; 409 says 会议已结束或已取消', async () => {
  const server = fakeServer()
  for (let i = 0; i < 13; i++) seedEvent(server, { title: '会' + i, ref: 'r' + i })
  const { w, page } = await bootedPage(server)
  assert.equal(page.data.events.length, 10)
  assert.equal(page.data.nextCursor, '10')
  await page.onLoadMore()
  assert.equal(page.data.events.length, 13)
  assert.equal(page.data.nextCursor, null)
  assert.ok(w.named('request').some((o) => o.url.endsWith('/v1/events?limit=10&cursor=10')))

  const first = server.events[0].id
  page.onCancelTap({ currentTarget: { dataset: { id: first } } })
  await settle()
  assert.equal(w.named('showModal').length, 1)
  assert.equal(page.data.events[0].statusText, '已取消')
  assert.equal(page.data.events[0].canCancel, false)
  assert.deepEqual(server.reminders.filter((r) => r.event_id === first).map((r) => r.status), ['canceled', 'canceled'])

  // The second was canceled meanwhile (the list is stale): the server answers 409.
  server.handle({ method: 'DELETE', path: '/v1/events/' + server.events[1].id, headers: { Authorization: 'Bearer seed' } })
  page.onCancelTap({ currentTarget: { dataset: { id: server.events[1].id } } })
  await settle()
  assert.equal(w.named('showToast').pop().title, '会议已结束或已取消')
  assert.equal(page.data.events[1].statusText, '已取消')

  // Declining the modal cancels nothing.
  w.modalAnswer = { confirm: false, cancel: true }
  page.onCancelTap({ currentTarget: { dataset: { id: server.events[2].id } } })
  await settle()
  assert.equal(server.events[2].status, 'scheduled')
})

test('page: a login code the server rejects explains the sandbox', async () => {
  const server = fakeServer()
  const w = fakeWx(server)
  w.login = (o) => setImmediate(() => o.success({ code: 'real-wechat-code', errMsg: 'login:ok' }))
  const page = loadPage(w)
  page.onLoad()
  await settle()
  assert.match(page.data.loadError, /沙箱/)
})
