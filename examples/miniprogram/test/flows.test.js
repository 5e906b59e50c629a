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
  { id: CLINIC_ID, title: '预约提醒', kind: 'long_term', fields: [] }
]

function clone (v) { return v === undefined ? v : JSON.parse(JSON.stringify(v)) }
function tick () { return new Promise((resolve) => setImmediate(resolve)) }
async function settle () { for (let i = 0; i < 30; i++) await tick() }

// fakeServer imitates the parts of reminderd the example calls.
function fakeServer () {
  const s = {
    codes: new Set(),
    tokens: new Set(),
    consents: {}, // template id → {credits, status, long_term}
    reminders: [],
    idem: {}, // key → {hash, id}
    log: [], // {method, path, headers, body}
    failNext: null, // a function(req) → response or 'network', used once
    seq: 0
  }
  function json (status, data) { return { statusCode: status, data: data } }
  function err (status, code, message, fields) {
    const e = { code: code, message: message }
    if (fields) e.fields = fields
    return json(status, { error: e })
  }
  function consentsBody () {
    return { consents: Object.keys(s.consents).map((id) => Object.assign({ template_id: id, updated_at: '2026-12-01T00:00:00Z' }, s.consents[id])) }
  }
  function render (r) {
    const c = s.consents[r.template_id] || { credits: 0 }
    return Object.assign({}, r, { consent: { credits: c.credits, covered: r.status === 'scheduled' && c.credits > 0 } })
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
    if (m === 'GET' && p === '/v1/consents/prompt') {
      const lacking = s.reminders.filter((r) => r.status === 'scheduled' && !((s.consents[r.template_id] || {}).credits > 0))
      return json(200, { template_ids: Array.from(new Set(lacking.map((r) => r.template_id))).slice(0, 3) })
    }
    if (m === 'POST' && p === '/v1/consents') {
      Object.keys(req.body.results).forEach((id) => {
        if (id === 'errMsg') return
        const c = s.consents[id] || (s.consents[id] = { credits: 0, status: '', long_term: false })
        c.status = req.body.results[id]
        if (/^accept/.test(c.status)) c.credits++
      })
      return json(200, consentsBody())
    }
    if (m === 'POST' && p === '/v1/reminders') {
      const key = req.headers['Idempotency-Key']
      const hash = JSON.stringify(req.body)
      if (key && s.idem[key]) {
        if (s.idem[key].hash !== hash) return err(409, 'conflict', 'Idempotency-Key was used with a different request body')
        return json(200, render(s.reminders.find((r) => r.id === s.idem[key].id)))
      }
      const fields = {}
      Object.keys(req.body.data).forEach((k) => {
        if (/^thing/.test(k) && /禁词/.test(req.body.data[k])) fields['data.' + k] = 'is refused by the test server'
      })
      if (Object.keys(fields).length) return err(422, 'validation_failed', 'invalid request', fields)
      const r = Object.assign({ id: 'rem_' + (++s.seq), openid: 'oUser', status: 'scheduled', reason: null, recurrence: null }, clone(req.body))
      s.reminders.push(r)
      if (key) s.idem[key] = { hash: hash, id: r.id }
      return json(201, render(r))
    }
    if (m === 'GET' && p.indexOf('/v1/reminders?') === 0) {
      const q = new URLSearchParams(p.slice(p.indexOf('?') + 1))
      const limit = +q.get('limit') || 50
      const start = q.get('cursor') ? +q.get('cursor') : 0
      const rows = s.reminders.slice(start, start + limit).map(render)
      const next = start + limit < s.reminders.length ? String(start + limit) : null
      return json(200, { reminders: rows, next_cursor: next })
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
    return err(404, 'not_found', 'no route for ' + m + ' ' + p)
  }
  return s
}

// fakeWx imitates the wx.* APIs the example uses. Every call is appended to
// calls as [name, options] so tests can check the order.
function fakeWx (server) {
  const w = {
    calls: [],
    storage: {},
    nextLoginCode: 0,
    subscribe: null, // (options) => void: what the popup does; set by the test
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
    if (w.subscribe) w.subscribe(o)
  }
  w.showToast = (o) => record('showToast', o)
  w.showModal = (o) => {
    record('showModal', o)
    setImmediate(() => o.success && o.success(Object.assign({}, w.modalAnswer)))
  }
  w.openSetting = (o) => record('openSetting', o)
  w.stopPullDownRefresh = () => record('stopPullDownRefresh')
  w.named = (name) => w.calls.filter((c) => c[0] === name).map((c) => c[1])
  w.requests = () => w.named('request').map((o) => o.method + ' ' + new URL(o.url).pathname)
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

// loadPage runs pages/index/index.js with a Page() that returns an instance
// whose setData behaves like the mini-program's (paths such as 'form.title'
// and 'reminders[2]').
function loadPage (w) {
  fresh(w)
  let options = null
  global.Page = (o) => { options = o }
  require('../pages/index/index.js')
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
  assert.equal(out[0].templates.length, 2)
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

// --- pages/index ---------------------------------------------------------------------

async function bootedPage (server) {
  const w = fakeWx(server || fakeServer())
  const page = loadPage(w)
  page.onLoad()
  await settle()
  return { w: w, page: page }
}

test('page: loads templates, the prompt, credits and the list', async () => {
  const { w, page } = await bootedPage()
  assert.equal(page.data.loadError, '')
  assert.equal(page.data.loading, false)
  assert.deepEqual(page.data.subscribeIds, [MEETING_ID])
  assert.equal(page.data.consentText, '尚未授权')
  assert.deepEqual(page.data.reminders, [])
  assert.equal(w.named('requestSubscribeMessage').length, 0, 'never on page load')
  assert.match(page.data.form.date, /^\d{4}-\d{2}-\d{2}$/)
  assert.match(page.data.form.time, /^\d{2}:00$/)
})

test('page: the tap calls wx.requestSubscribeMessage synchronously, first, and reports the raw result', async () => {
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
  assert.deepEqual(during[0][1].tmplIds, [MEETING_ID])
  assert.ok(during[0][1].tmplIds.length <= 3)
  await settle()
  const report = w.named('request').find((o) => o.url.endsWith('/v1/consents') && o.method === 'POST')
  assert.deepEqual(report.data, { results: result }, 'the result object, errMsg included, unchanged')
  assert.equal(page.data.credits, 1)
  assert.equal(page.data.consentText, '还可发送1次提醒')
})

test('page: errCode 20004 tells the user to turn the switch on in settings', async () => {
  const { w, page } = await bootedPage()
  w.subscribe = (o) => setImmediate(() => o.fail({ errCode: 20004, errMsg: 'requestSubscribeMessage:fail' }))
  page.onSubscribeTap()
  await settle()
  const modal = w.named('showModal')[0]
  assert.ok(modal, 'a modal')
  assert.match(modal.content, /设置/)
  assert.equal(w.named('openSetting').length, 1)
  assert.equal(w.requests().filter((r) => r === 'POST /v1/consents').length, 0)

  w.subscribe = (o) => setImmediate(() => o.fail({ errCode: 20001, errMsg: 'requestSubscribeMessage:fail' }))
  page.onSubscribeTap()
  await settle()
  assert.match(w.named('showToast').pop().title, /模板/)
})

test('page: the form validates locally, then creates with an Idempotency-Key', async () => {
  const server = fakeServer()
  const { w, page } = await bootedPage(server)
  page.onTitleInput({ detail: { value: '𠮷'.repeat(21) } })
  page.onPlaceInput({ detail: { value: 'A栋201会议室' } })
  page.onDateChange({ detail: { value: '2099-12-01' } })
  page.onTimeChange({ detail: { value: '14:00' } })
  page.onLeadChange({ detail: { value: '2' } }) // 提前15分钟
  await page.onSubmit()
  assert.match(page.data.errors.title, /当前21个/)
  assert.equal(w.requests().filter((r) => r === 'POST /v1/reminders').length, 0, 'no request for an invalid form')

  page.onTitleInput({ detail: { value: '项目评审会' } })
  assert.equal(page.data.errors.title, '')
  // The first attempt times out on the client; the tap after it resends the
  // same body with the same key.
  server.failNext = () => 'network'
  await page.onSubmit()
  await page.onSubmit()
  await settle()
  const posts = w.named('request').filter((o) => o.method === 'POST' && o.url.endsWith('/v1/reminders'))
  assert.equal(posts.length, 2)
  assert.ok(posts[0].header['Idempotency-Key'])
  assert.equal(posts[0].header['Idempotency-Key'], posts[1].header['Idempotency-Key'])
  assert.deepEqual(posts[1].data, {
    template_id: MEETING_ID,
    fire_at: '2099-12-01T13:45:00+08:00',
    data: { thing1: '项目评审会', time2: '2099-12-01 14:00', thing3: 'A栋201会议室' },
    page: 'pages/index/index',
    expires_at: '2099-12-01T14:00:00+08:00'
  })
  assert.equal(page.data.form.title, '', 'the form is reset after success')
  assert.equal(page.data.reminders.length, 1)
  assert.equal(page.data.reminders[0].statusText, '待发送')
  assert.equal(page.data.reminders[0].coverText, '需授权')
  // The reminder lacks credit: the prompt now asks for its template.
  assert.deepEqual(page.data.subscribeIds, [MEETING_ID])

  // The next submission is a new reminder with a new key.
  page.onTitleInput({ detail: { value: '周会' } })
  page.onPlaceInput({ detail: { value: '三楼' } })
  await page.onSubmit()
  const third = w.named('request').filter((o) => o.method === 'POST' && o.url.endsWith('/v1/reminders'))[2]
  assert.notEqual(third.header['Idempotency-Key'], posts[0].header['Idempotency-Key'])
})

test('page: a 422 shows each field message next to its input', async () => {
  const { page } = await bootedPage()
  page.onTitleInput({ detail: { value: '评审' } })
  page.onPlaceInput({ detail: { value: '禁词会议室' } })
  page.onDateChange({ detail: { value: '2099-12-01' } })
  page.onTimeChange({ detail: { value: '14:00' } })
  await page.onSubmit()
  assert.equal(page.data.errors.place, 'is refused by the test server')
  assert.equal(page.data.errors.title, '')
  assert.equal(page.data.submitting, false)
})

test('page: load more follows next_cursor; cancel confirms; 409 says 已发送或已取消', async () => {
  const server = fakeServer()
  for (let i = 0; i < 13; i++) {
    server.reminders.push({
      id: 'rem_' + i,
      openid: 'oUser',
      template_id: MEETING_ID,
      status: i === 1 ? 'sent' : 'scheduled',
      reason: null,
      fire_at: '2099-12-01T05:45:00Z',
      data: { thing1: '会' + i, time2: '2099-12-01 14:00', thing3: '室' },
      recurrence: null
    })
  }
  const { w, page } = await bootedPage(server)
  assert.equal(page.data.reminders.length, 10)
  assert.equal(page.data.nextCursor, '10')
  await page.onLoadMore()
  assert.equal(page.data.reminders.length, 13)
  assert.equal(page.data.nextCursor, null)
  assert.ok(w.named('request').some((o) => o.url.endsWith('/v1/reminders?limit=10&cursor=10')))

  page.onCancelTap({ currentTarget: { dataset: { id: 'rem_0' } } })
  await settle()
  assert.equal(w.named('showModal').length, 1)
  assert.equal(page.data.reminders[0].statusText, '已取消')
  assert.equal(page.data.reminders[0].canCancel, false)

  // rem_1 was sent meanwhile (the list is stale): the server answers 409.
  page.data.reminders[1].canCancel = true
  page.onCancelTap({ currentTarget: { dataset: { id: 'rem_1' } } })
  await settle()
  assert.equal(w.named('showToast').pop().title, '已发送或已取消')
  assert.equal(page.data.reminders[1].statusText, '已发送')

  // Declining the modal cancels nothing.
  w.modalAnswer = { confirm: false, cancel: true }
  page.onCancelTap({ currentTarget: { dataset: { id: 'rem_2' } } })
  await settle()
  assert.equal(server.reminders[2].status, 'scheduled')
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
